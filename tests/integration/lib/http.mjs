// Small HTTP helpers for the integration tests: plain node:http, every call bounded in time.

import http from 'node:http';

const DEFAULT_TIMEOUT_MS = 15000;

/**
 * Sends one request and reads the whole response.
 * opts: { method, headers, body (string | Buffer | object → JSON), agent, timeoutMs }
 * Resolves { status, headers, body (string), json (parsed or undefined), localPort, reusedSocket,
 *            complete (response ended normally) }.
 * Rejects on a connection error or when timeoutMs passes.
 */
export function request(url, opts = {}) {
  const { method = 'GET', headers = {}, agent, timeoutMs = DEFAULT_TIMEOUT_MS } = opts;
  let body = opts.body;
  const hdrs = { ...headers };
  if (body !== undefined && typeof body === 'object' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
    if (!Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type')) {
      hdrs['content-type'] = 'application/json';
    }
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: hdrs, agent: agent ?? false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = text.length ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: text,
          json,
          localPort: req.socket?.localPort,
          reusedSocket: req.reusedSocket,
          complete: res.complete,
        });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`request ${method} ${url} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

export function postJson(url, body, opts = {}) {
  return request(url, { ...opts, method: 'POST', body });
}

/** Splits an SSE body into the payloads of its `data:` fields, one string per event. */
export function sseData(text) {
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const lines = block.split(/\r?\n/).filter((l) => l.startsWith('data:'));
    if (!lines.length) continue;
    out.push(lines.map((l) => l.slice(5).replace(/^ /, '')).join('\n'));
  }
  return out;
}

/** JSON payloads of an SSE body (the `[DONE]` sentinel left out). */
export function sseJson(text) {
  return sseData(text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
}

/**
 * Opens a streaming request and hands back control while the body is still arriving.
 * Resolves once the response headers are in:
 *   { status, headers, res, req, text() (all received so far), nextData(predicate, timeoutMs),
 *     done (promise: { complete, aborted, error, text }) , destroy() }
 */
export function openStream(url, opts = {}) {
  const { method = 'POST', headers = {}, timeoutMs = DEFAULT_TIMEOUT_MS } = opts;
  let body = opts.body;
  const hdrs = { ...headers };
  if (body !== undefined && typeof body === 'object' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
    hdrs['content-type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: hdrs, agent: opts.agent ?? false });
    const headerTimer = setTimeout(() => {
      req.destroy(new Error(`no response headers from ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      clearTimeout(headerTimer);
      reject(e);
    });
    req.on('response', (res) => {
      clearTimeout(headerTimer);
      let received = '';
      const waiters = new Set();
      const notify = () => {
        for (const w of waiters) w();
      };
      res.setEncoding('utf8');
      res.on('data', (c) => {
        received += c;
        notify();
      });
      const done = new Promise((resolveDone) => {
        let settled = false;
        const finish = (extra) => {
          if (settled) return;
          settled = true;
          notify();
          resolveDone({ complete: res.complete, text: received, ...extra });
        };
        res.on('end', () => finish({ aborted: false, error: null }));
        res.on('aborted', () => finish({ aborted: true, error: null }));
        res.on('error', (e) => finish({ aborted: true, error: e }));
        res.on('close', () => finish({ aborted: !res.complete, error: null }));
      });
      let ended = false;
      done.then(() => {
        ended = true;
      });
      resolve({
        status: res.statusCode,
        headers: res.headers,
        localPort: req.socket?.localPort,
        reusedSocket: req.reusedSocket,
        req,
        res,
        done,
        text: () => received,
        /** Waits until predicate(receivedText) is true; rejects after timeoutMs or at stream end. */
        waitFor(predicate, ms = DEFAULT_TIMEOUT_MS) {
          return new Promise((res2, rej2) => {
            const check = () => {
              if (predicate(received)) {
                cleanup();
                res2(received);
              } else if (ended) {
                cleanup();
                rej2(new Error(`stream ended before condition; got: ${received.slice(0, 2000)}`));
              }
            };
            const t = setTimeout(() => {
              cleanup();
              rej2(new Error(`timed out after ${ms} ms waiting on stream; got: ${received.slice(0, 2000)}`));
            }, ms);
            const cleanup = () => {
              clearTimeout(t);
              waiters.delete(check);
            };
            waiters.add(check);
            check();
          });
        },
        /** Hangs up: destroys the client socket. */
        destroy() {
          req.destroy();
          res.destroy();
        },
      });
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** Resolves with the stream's whole text; asserts nothing. Bounded by timeoutMs. */
export async function streamAll(url, body, opts = {}) {
  const s = await openStream(url, { ...opts, body });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timer;
  const result = await Promise.race([
    s.done,
    new Promise((_, rej) => {
      timer = setTimeout(() => {
        s.destroy();
        rej(new Error(`stream did not end within ${timeoutMs} ms; got: ${s.text().slice(0, 2000)}`));
      }, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return { status: s.status, headers: s.headers, localPort: s.localPort, reusedSocket: s.reusedSocket,
    ...result };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
