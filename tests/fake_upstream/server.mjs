// Fake OpenAI-wire upstream for Kakehashi's integration and client tests.
//
// Plain Node (node:http), no dependencies. It answers the OpenAI endpoints the gateway forwards to
// (models, chat completions, legacy completions, embeddings) in OpenAI's wire format, records every
// request it receives and every connection it sees, and injects faults on demand.
//
// Library use:
//   import { startFakeUpstream } from './server.mjs';
//   const up = await startFakeUpstream({ models: ['gpt-4o'] });
//   up.url          -> 'http://127.0.0.1:PORT/v1'
//   up.stats()      -> { connections: [...], requests: [...], openConnections }
//   up.nextFault('hang')  // the next request hangs
//   await up.close();
//
// HTTPS: pass `tls: { key, cert }` (PEM) to serve over node:https instead; `urlHost` sets the host
// name used in `up.url` (e.g. 'localhost' so a client verifies the certificate against that name).
// Each TLS connection record then carries `tls: true` and `servername` (the SNI name the client
// sent, or null), and `up.sniNames()` lists the SNI names of every ClientHello, including those
// of handshakes that failed afterwards.
//
// CLI use:  node server.mjs [--port N] [--host H] [--models a,b,c]
//   prints {"port":N,"url":"..."} on stdout; control endpoints:
//   POST /__control/next {"fault": <spec>, "count": 1}, POST /__control/reset, GET /__control/stats
//
// A fault is chosen per request, first match wins:
//   1. a fault queued with nextFault() / POST /__control/next (applies to POST requests only),
//   2. an `x-fake-fault: <spec>` request header,
//   3. the request's model name: `fault-<spec>` (also after a `/` or `:`), e.g. `fault-500`.
// Spec strings (the same grammar everywhere):
//   <status>                 e.g. 500, 503, 400, 401, 404, 429: that status with an OpenAI error body
//   hang                     accept the request, never answer
//   slow-headers[-MS]        wait MS (default 3000) before answering normally
//   drop[-N]                 send the headers and N (default 2) SSE chunks (or part of a JSON body),
//                            then destroy the socket
//   garbage                  write bytes that are not HTTP at all, then close
//   nonjson                  200 with a body that is not JSON
//   slow-stream[-MS[-N]]     stream N content chunks (default 600), one every MS (default 100)
// Models named `big-N` (no fault) answer N characters of text (streamed in 997-char pieces).
// Object specs are accepted too: {type:'status', status, error:{message,type,param,code}, headers},
// {type:'hang'}, {type:'slow_headers', ms}, {type:'drop', chunks}, {type:'garbage'},
// {type:'nonjson'}, {type:'slow_stream', intervalMs, chunks}.

import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { closeFake, recordQueries, recordRequest } from './capture.mjs';

const DEFAULT_MODELS = ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small'];
const SYSTEM_FINGERPRINT = 'fp_fake0001';

/** Wall-clock milliseconds with sub-millisecond precision (same clock as Date.now()). */
export function nowMs() {
  return performance.timeOrigin + performance.now();
}

function randomId(prefix) {
  return prefix + randomBytes(12).toString('hex');
}

function errorBody(message, type, param = null, code = null) {
  return { error: { message, type, param, code } };
}

const STATUS_ERRORS = {
  400: () => errorBody("Invalid value for 'messages': fake upstream rejected the request.",
    'invalid_request_error', 'messages', 'invalid_value'),
  401: () => errorBody('Incorrect API key provided: sk-fake***. (fake upstream)',
    'invalid_request_error', null, 'invalid_api_key'),
  403: () => errorBody('You are not allowed to sample from this model (fake upstream).',
    'invalid_request_error', null, 'model_not_allowed'),
  404: () => errorBody('The model does not exist or you do not have access to it (fake upstream).',
    'invalid_request_error', null, 'model_not_found'),
  429: () => errorBody('Rate limit reached (fake upstream).', 'requests', null,
    'rate_limit_exceeded'),
  500: () => errorBody('The server had an error while processing your request (fake upstream).',
    'server_error', null, null),
  503: () => errorBody('The engine is currently overloaded (fake upstream).', 'server_error',
    null, 'service_unavailable'),
};

/** Parses a fault spec (string or object) into a normalised object, or null when it is none. */
export function parseFault(spec) {
  if (spec === undefined || spec === null || spec === '' || spec === false) return null;
  if (typeof spec === 'number') return { type: 'status', status: spec };
  if (typeof spec === 'object') {
    const f = { ...spec };
    if (typeof f.type !== 'string') throw new Error('fault object needs a type');
    f.type = f.type.replace(/-/g, '_');
    if (f.type === 'status' && typeof f.status !== 'number') throw new Error('status fault needs status');
    return f;
  }
  const s = String(spec).trim().toLowerCase();
  let m;
  if ((m = /^(\d{3})$/.exec(s))) return { type: 'status', status: Number(m[1]) };
  if (s === 'hang') return { type: 'hang' };
  if ((m = /^slow-headers(?:-(\d+))?$/.exec(s))) {
    return { type: 'slow_headers', ms: m[1] ? Number(m[1]) : 3000 };
  }
  if ((m = /^drop(?:-(\d+))?$/.exec(s))) return { type: 'drop', chunks: m[1] ? Number(m[1]) : 2 };
  if (s === 'garbage') return { type: 'garbage' };
  if (s === 'nonjson' || s === 'non-json') return { type: 'nonjson' };
  if ((m = /^slow-stream(?:-(\d+)(?:-(\d+))?)?$/.exec(s))) {
    return {
      type: 'slow_stream',
      intervalMs: m[1] ? Number(m[1]) : 100,
      chunks: m[2] ? Number(m[2]) : 600,
    };
  }
  throw new Error(`unknown fault spec: ${spec}`);
}

/** The fault named by a model id such as `fault-500`, `x/fault-hang` or `p:fault-drop-3`. */
function faultFromModel(model) {
  if (typeof model !== 'string') return null;
  const m = /(?:^|[/:])fault-([a-z0-9-]+)$/i.exec(model);
  if (!m) return null;
  try {
    return parseFault(m[1]);
  } catch {
    return null;
  }
}

/** Text of a chat message content (string or array of parts). */
function contentText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (p && typeof p === 'object' && typeof p.text === 'string' ? p.text : ''))
      .join('');
  }
  return '';
}

function countTokens(text) {
  const words = String(text).trim().split(/\s+/).filter(Boolean);
  return Math.max(1, words.length);
}

/** Splits text into stream pieces: "echo: a b" -> ["echo:", " a", " b"]. */
function splitPieces(text) {
  const pieces = String(text).match(/\s*\S+/g);
  return pieces && pieces.length ? pieces : [String(text)];
}

/** `big-N` models (also after `/` or `:`) answer N characters of text, for large-body relays. */
function bigSize(model) {
  const m = typeof model === 'string' ? /(?:^|[/:])big-(\d+)$/.exec(model) : null;
  return m ? Math.max(8, Number(m[1])) : 0;
}

function bigText(n) {
  const unit = 'abcdefghijklmnopqrstuvwxyz0123456789 ';
  return `echo: ${unit.repeat(Math.ceil(n / unit.length))}`.slice(0, n);
}

function splitFixed(text, size) {
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function promptText(prompt) {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt)) {
    if (prompt.every((p) => typeof p === 'string')) return prompt.join(' ');
    return `[${prompt.length} token ids]`;
  }
  return '';
}

function usageObject(promptTokens, completionTokens) {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** Deterministic pseudo-embedding of `text` with `dims` components in [-1, 1]. */
function embedText(text, dims) {
  let h = 2166136261;
  for (const ch of String(text)) {
    h ^= ch.codePointAt(0);
    h = Math.imul(h, 16777619) >>> 0;
  }
  const out = new Array(dims);
  for (let i = 0; i < dims; i++) {
    h ^= h << 13; h >>>= 0;
    h ^= h >>> 17;
    h ^= h << 5; h >>>= 0;
    // Rounded through float32 so float and base64 encodings carry identical values.
    out[i] = Math.fround(((h % 20001) - 10000) / 10000);
  }
  return out;
}

function float32Base64(values) {
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

/**
 * Starts the fake upstream.
 * opts: { host='127.0.0.1', port=0, basePath='/v1', models=[...], embeddingDims=8,
 *         chunkDelayMs=0, apiKey (when set, other bearer tokens get 401), created,
 *         tls: { key, cert } (serve HTTPS), urlHost (host name in `url`; default `host`) }
 */
export async function startFakeUpstream(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const basePath = (opts.basePath ?? '/v1').replace(/\/+$/, '');
  let models = opts.models ?? DEFAULT_MODELS;
  const embeddingDims = opts.embeddingDims ?? 8;
  const chunkDelayMs = opts.chunkDelayMs ?? 0;
  const created = opts.created ?? Math.floor(Date.now() / 1000);

  let connections = [];
  let requests = [];
  let faultQueue = [];
  let nextConnId = 1;
  let nextReqId = 1;
  const liveSockets = new Set();
  const timers = new Set();

  function later(ms, fn) {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  }

  const useTls = !!opts.tls;
  const sniNames = [];
  let server;
  if (useTls) {
    const secureContext = tls.createSecureContext({ key: opts.tls.key, cert: opts.tls.cert });
    server = https.createServer({
      key: opts.tls.key,
      cert: opts.tls.cert,
      keepAliveTimeout: 30000,
      SNICallback: (name, cb) => {
        sniNames.push(name);
        cb(null, secureContext);
      },
    });
  } else {
    server = http.createServer({ keepAliveTimeout: 30000 });
  }
  // TCP connections by remote port, so a TLS socket can find the record of the socket it wraps.
  const connByPort = new Map();
  server.on('connection', (socket) => {
    const conn = {
      id: nextConnId++,
      remotePort: socket.remotePort,
      openedAt: nowMs(),
      closedAt: null,
      requestIds: [],
      control: false,
    };
    if (useTls) {
      conn.tls = true;
      conn.secure = false; // set once the handshake completes
      conn.servername = null;
    }
    connections.push(conn);
    socket.__fakeConn = conn;
    liveSockets.add(socket);
    connByPort.set(socket.remotePort, conn);
    socket.on('close', () => {
      conn.closedAt = nowMs();
      liveSockets.delete(socket);
      if (connByPort.get(conn.remotePort) === conn) connByPort.delete(conn.remotePort);
    });
  });
  if (useTls) {
    server.on('secureConnection', (tlsSocket) => {
      const conn = connByPort.get(tlsSocket.remotePort);
      if (!conn) return;
      conn.secure = true;
      conn.servername = tlsSocket.servername || null;
      tlsSocket.__fakeConn = conn;
    });
    // A client that rejects our certificate aborts the handshake: not an error of the server.
    server.on('tlsClientError', () => {});
  }
  // Clients speaking garbage to us must not crash the server.
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  server.on('request', (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      handle(req, res, raw).catch((err) => {
        if (!res.headersSent) {
          sendJson(res, 500, errorBody(`fake upstream bug: ${err.message}`, 'server_error'));
        } else {
          res.destroy();
        }
      });
    });
  });

  function sendJson(res, status, obj, extraHeaders = {}) {
    const body = Buffer.from(JSON.stringify(obj));
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': body.length,
      'x-request-id': randomId('req_'),
      'openai-processing-ms': '1',
      ...extraHeaders,
    });
    res.end(body);
    return body;
  }

  async function handle(req, res, raw) {
    const conn = req.socket.__fakeConn;
    const url = new URL(req.url, 'http://fake.local');
    const path = url.pathname;

    if (path.startsWith('/__control/')) {
      if (conn) conn.control = true;
      return handleControl(req, res, path, raw);
    }

    const { record, body, parseError } = recordRequest({ id: nextReqId++, req, res, url, raw, conn, now: nowMs });
    requests.push(record);

    let fault = null;
    // Queued faults are for inference calls only, so a model discovery GET cannot eat one.
    if (faultQueue.length && req.method === 'POST') fault = faultQueue.shift();
    else if (req.headers['x-fake-fault']) {
      try {
        fault = parseFault(req.headers['x-fake-fault']);
      } catch {
        fault = null;
      }
    } else if (body && typeof body === 'object') fault = faultFromModel(body.model);
    record.fault = fault;

    if (opts.apiKey !== undefined) {
      const auth = req.headers.authorization ?? '';
      if (auth !== `Bearer ${opts.apiKey}`) {
        sendJson(res, 401, STATUS_ERRORS[401]());
        return;
      }
    }

    if (fault) {
      switch (fault.type) {
        case 'hang':
          return; // keep the socket open, never answer
        case 'garbage':
          req.socket.end('hello\r\n\r\n');
          return;
        case 'status': {
          const make = STATUS_ERRORS[fault.status];
          const errObj = fault.error
            ? { error: { message: 'fake error', type: 'invalid_request_error', param: null,
              code: null, ...fault.error } }
            : make ? make()
              : errorBody(`fake upstream status ${fault.status}`,
                fault.status >= 500 ? 'server_error' : 'invalid_request_error');
          const headers = { ...(fault.headers ?? {}) };
          if (fault.status === 429 && !headers['retry-after']) headers['retry-after'] = '1';
          sendJson(res, fault.status, errObj, headers);
          return;
        }
        case 'nonjson': {
          const txt = '<html><body>this is not json</body></html>\n';
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(txt) });
          res.end(txt);
          return;
        }
        case 'slow_headers': {
          await new Promise((resolve) => later(fault.ms, resolve));
          if (res.destroyed || req.socket.destroyed) return;
          break; // then answer normally
        }
        default:
          break; // drop / slow_stream are handled by the endpoint
      }
    }

    if (parseError && req.method === 'POST') {
      sendJson(res, 400, errorBody(`We could not parse the JSON body of your request. (${parseError.message})`,
        'invalid_request_error', null, null));
      return;
    }

    const route = path.startsWith(basePath) ? path.slice(basePath.length) : null;
    if (req.method === 'GET' && route === '/models') return listModels(res);
    if (req.method === 'GET' && route && route.startsWith('/models/')) {
      return getModel(res, decodeURIComponent(route.slice('/models/'.length)));
    }
    if (req.method === 'POST' && route === '/chat/completions') return chat(req, res, body ?? {}, fault);
    if (req.method === 'POST' && route === '/completions') return completions(req, res, body ?? {}, fault);
    if (req.method === 'POST' && route === '/embeddings') return embeddings(res, body ?? {}, fault);
    sendJson(res, 404, errorBody(`Invalid URL (${req.method} ${path})`, 'invalid_request_error', null, null));
  }

  function modelObject(id) {
    return { id, object: 'model', created, owned_by: 'fake-upstream' };
  }

  function listModels(res) {
    sendJson(res, 200, { object: 'list', data: models.map(modelObject) });
  }

  function getModel(res, id) {
    if (!models.includes(id)) {
      sendJson(res, 404, errorBody(`The model '${id}' does not exist`, 'invalid_request_error',
        'model', 'model_not_found'));
      return;
    }
    sendJson(res, 200, modelObject(id));
  }

  function lastUserText(messages) {
    if (!Array.isArray(messages)) return '';
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i];
      if (m && m.role === 'user') return contentText(m.content);
    }
    const last = messages[messages.length - 1];
    return last ? contentText(last.content) : '';
  }

  function promptTokensOfMessages(messages) {
    if (!Array.isArray(messages)) return 1;
    return messages.reduce((n, m) => n + countTokens(contentText(m?.content ?? '')) + 3, 0);
  }

  function startSse(res) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': randomId('req_'),
    });
    res.flushHeaders();
  }

  /** Writes SSE events in order, honouring chunkDelayMs, drop and slow-stream faults. */
  async function streamEvents(req, res, events, fault, makeFiller) {
    startSse(res);
    const sleep = (ms) => new Promise((resolve) => later(ms, resolve));
    const gone = () => res.destroyed || res.writableEnded;
    const write = (ev) => {
      const obj = typeof ev === 'function' ? ev() : ev;
      if (!gone()) res.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`);
    };

    if (fault && fault.type === 'drop') {
      const n = Math.min(fault.chunks, events.length);
      for (let i = 0; i < n; i++) write(events[i]);
      // Let the written chunks reach the peer, then cut the connection without finishing.
      await sleep(50);
      req.socket.destroy();
      return;
    }

    if (fault && fault.type === 'slow_stream') {
      write(events[0]);
      for (let i = 0; i < fault.chunks; i++) {
        await sleep(fault.intervalMs);
        if (gone()) return;
        write(makeFiller(i));
      }
      for (let i = 1; i < events.length; i++) write(events[i]);
      write('[DONE]');
      if (!gone()) res.end();
      return;
    }

    for (const ev of events) {
      if (chunkDelayMs) await sleep(chunkDelayMs);
      if (gone()) return;
      write(ev);
    }
    write('[DONE]');
    if (!gone()) res.end();
  }

  function dropJson(req, res, obj) {
    const body = JSON.stringify(obj);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.write(body.slice(0, Math.floor(body.length / 2)));
    later(50, () => req.socket.destroy());
  }

  function chat(req, res, body, fault) {
    const model = body.model ?? '';
    const big = bigSize(model);
    const text = big ? bigText(big) : `echo: ${lastUserText(body.messages)}`;
    const promptTokens = promptTokensOfMessages(body.messages);
    const pieces = big ? splitFixed(text, 997) : splitPieces(text);
    const id = randomId('chatcmpl-');

    if (!body.stream) {
      const obj = {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{
          index: 0,
          message: { role: 'assistant', content: text, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'stop',
        }],
        usage: usageObject(promptTokens, pieces.length),
        service_tier: 'default',
        system_fingerprint: SYSTEM_FINGERPRINT,
      };
      if (fault && fault.type === 'drop') return dropJson(req, res, obj);
      sendJson(res, 200, obj);
      return;
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (choices, usage) => {
      const c = {
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        service_tier: 'default',
        system_fingerprint: SYSTEM_FINGERPRINT,
        choices,
      };
      if (includeUsage) c.usage = usage ?? null;
      return c;
    };
    const delta = (d, finish = null) => [{ index: 0, delta: d, logprobs: null, finish_reason: finish }];
    const events = [chunk(delta({ role: 'assistant', content: '', refusal: null }))];
    for (const p of pieces) events.push(chunk(delta({ content: p })));
    events.push(chunk(delta({}, 'stop')));
    let fillerCount = 0;
    // Evaluated when written, so slow streams count their filler chunks too.
    if (includeUsage) events.push(() => chunk([], usageObject(promptTokens, pieces.length + fillerCount)));
    return streamEvents(req, res, events, fault, (i) => {
      fillerCount++;
      return chunk(delta({ content: ` tick${i}` }));
    });
  }

  function completions(req, res, body, fault) {
    const model = body.model ?? '';
    const ptext = promptText(body.prompt);
    const text = `echo: ${ptext}`;
    const promptTokens = countTokens(ptext);
    const pieces = splitPieces(text);
    const id = randomId('cmpl-');

    if (!body.stream) {
      const obj = {
        id,
        object: 'text_completion',
        created,
        model,
        choices: [{ text, index: 0, logprobs: null, finish_reason: 'stop' }],
        usage: usageObject(promptTokens, pieces.length),
        system_fingerprint: SYSTEM_FINGERPRINT,
      };
      if (fault && fault.type === 'drop') return dropJson(req, res, obj);
      sendJson(res, 200, obj);
      return;
    }

    const includeUsage = body.stream_options?.include_usage === true;
    let fillerCount = 0;
    const chunk = (choices, usage) => {
      const c = { id, object: 'text_completion', created, choices, model,
        system_fingerprint: SYSTEM_FINGERPRINT };
      if (includeUsage) c.usage = usage ?? null;
      return c;
    };
    const choice = (t, finish = null) => [{ text: t, index: 0, logprobs: null, finish_reason: finish }];
    const events = pieces.map((p) => chunk(choice(p)));
    events.push(chunk(choice('', 'stop')));
    if (includeUsage) events.push(() => chunk([], usageObject(promptTokens, pieces.length + fillerCount)));
    return streamEvents(req, res, events, fault, (i) => {
      fillerCount++;
      return chunk(choice(` tick${i}`));
    });
  }

  function embeddings(res, body, fault) {
    const model = body.model ?? '';
    let inputs = body.input;
    if (typeof inputs === 'string') inputs = [inputs];
    if (!Array.isArray(inputs) || inputs.length === 0) {
      sendJson(res, 400, errorBody("'input' is a required property", 'invalid_request_error', 'input', null));
      return;
    }
    // Arrays of token ids (numbers) count as one input.
    if (inputs.every((x) => typeof x === 'number')) inputs = [inputs];
    const dims = Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : embeddingDims;
    const base64 = body.encoding_format === 'base64';
    let tokens = 0;
    const data = inputs.map((inp, index) => {
      const txt = Array.isArray(inp) ? inp.join(',') : String(inp);
      tokens += Array.isArray(inp) ? inp.length : countTokens(txt);
      const vec = embedText(txt, dims);
      return { object: 'embedding', index, embedding: base64 ? float32Base64(vec) : vec };
    });
    const obj = { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
    if (fault && fault.type === 'drop') return dropJson(res.req, res, obj);
    sendJson(res, 200, obj);
  }

  function handleControl(req, res, path, raw) {
    let body = {};
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      sendJson(res, 400, { error: 'bad json' });
      return;
    }
    if (req.method === 'POST' && path === '/__control/next') {
      try {
        api.nextFault(body.fault, body.count ?? 1);
      } catch (e) {
        sendJson(res, 400, { error: e.message });
        return;
      }
      sendJson(res, 200, { queued: faultQueue.length });
      return;
    }
    if (req.method === 'POST' && path === '/__control/reset') {
      api.reset();
      sendJson(res, 200, { ok: true });
      return;
    }
    if (req.method === 'POST' && path === '/__control/models') {
      if (Array.isArray(body.models)) models = body.models.map(String);
      sendJson(res, 200, { models });
      return;
    }
    if (req.method === 'GET' && path === '/__control/stats') {
      sendJson(res, 200, api.stats());
      return;
    }
    sendJson(res, 404, { error: 'unknown control endpoint' });
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = server.address().port;
  const scheme = useTls ? 'https' : 'http';
  const urlHost = opts.urlHost ?? host;

  const api = {
    port,
    host,
    origin: `${scheme}://${urlHost}:${port}`,
    url: `${scheme}://${urlHost}:${port}${basePath}`,
    server,
    /** SNI names of every TLS ClientHello received so far (TLS servers only). */
    sniNames() {
      return sniNames.slice();
    },
    /** Queues a fault for the next `count` requests (control requests excluded). */
    nextFault(spec, count = 1) {
      const f = parseFault(spec);
      if (!f) return;
      for (let i = 0; i < count; i++) faultQueue.push(f);
    },
    setModels(list) {
      models = [...list];
    },
    /** Deep copy of everything recorded so far. */
    stats() {
      return JSON.parse(JSON.stringify({
        connections,
        requests,
        openConnections: liveSockets.size,
        queuedFaults: faultQueue.length,
      }));
    },
    ...recordQueries(() => ({ requests, connections })),
    reset() {
      connections = connections.filter((c) => c.closedAt === null);
      requests = [];
      faultQueue = [];
    },
    close() {
      return closeFake(server, timers, liveSockets);
    },
  };
  return api;
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const [key, val] = eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, argv[i + 1]];
    if (eq < 0 && ['--port', '--host', '--models', '--base-path', '--api-key', '--chunk-delay-ms'].includes(key)) i++;
    if (key === '--port') out.port = Number(val);
    else if (key === '--host') out.host = val;
    else if (key === '--models') out.models = val.split(',').filter(Boolean);
    else if (key === '--base-path') out.basePath = val;
    else if (key === '--api-key') out.apiKey = val;
    else if (key === '--chunk-delay-ms') out.chunkDelayMs = Number(val);
    else if (key === '--help' || key === '-h') out.help = true;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write('usage: node server.mjs [--port N] [--host H] [--models a,b] [--base-path /v1]\n'
      + '                      [--api-key KEY] [--chunk-delay-ms MS]\n');
    process.exit(0);
  }
  const up = await startFakeUpstream(args);
  process.stdout.write(`${JSON.stringify({ port: up.port, url: up.url })}\n`);
  const stop = () => {
    up.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
