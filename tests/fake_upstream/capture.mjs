// Records what a fake upstream receives and sends, so tests can compare relayed bytes with the original.
// Shared by every fake (server.mjs, and the Anthropic and Gemini fakes through common.mjs).

/** Wraps res.write/end/writeHead so `record` gets status and body as they go out. */
export function captureResponse(res, record) {
  const origWrite = res.write.bind(res);
  const origEnd = res.end.bind(res);
  res.write = (chunk, ...rest) => {
    if (chunk && typeof chunk !== 'function') record.responseBody += chunk.toString();
    return origWrite(chunk, ...rest);
  };
  res.end = (chunk, ...rest) => {
    if (chunk && typeof chunk !== 'function') record.responseBody += chunk.toString();
    return origEnd(chunk, ...rest);
  };
  const origWriteHead = res.writeHead.bind(res);
  res.writeHead = (status, ...rest) => {
    record.status = status;
    return origWriteHead(status, ...rest);
  };
}

/**
 * The query side of a fake's records: requests(), lastRequest(), connection(), waitFor().
 * `get` returns the current { requests, connections } (a fake's reset() replaces the arrays).
 */
export function recordQueries(get, name = 'upstream') {
  return {
    /** Live (not copied) recorded requests, for cheap polling. */
    requests(filter) {
      const { requests } = get();
      return filter ? requests.filter(filter) : requests.slice();
    },
    lastRequest(filter) {
      const { requests } = get();
      const list = filter ? requests.filter(filter) : requests;
      return list[list.length - 1];
    },
    connection(id) {
      return get().connections.find((c) => c.id === id);
    },
    /** Polls `predicate` every 10 ms until truthy or `timeoutMs` passes; returns its value. */
    async waitFor(predicate, timeoutMs = 5000, what = 'condition') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = predicate();
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`fake ${name}: timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/** Stops a fake: pending timers, open sockets, then the listener. */
export async function closeFake(server, timers, liveSockets) {
  for (const t of timers) clearTimeout(t);
  timers.clear();
  for (const s of liveSockets) s.destroy();
  await new Promise((resolve) => server.close(() => resolve()));
}

/**
 * The record of one request: what arrived (method, path, headers, raw and parsed body), and,
 * filled in as it goes out, the answer's status and bytes and when the exchange closed.
 * `extra` adds fields a fake keeps per request. Returns { record, body, parseError, rawText }.
 */
export function recordRequest({ id, req, res, url, raw, conn, now, extra = {} }) {
  const rawText = raw.toString('utf8');
  let body = null;
  let parseError = null;
  if (raw.length) {
    try {
      body = JSON.parse(rawText);
    } catch (e) {
      parseError = e;
    }
  }
  const record = {
    id,
    connId: conn ? conn.id : null,
    method: req.method,
    path: url.pathname,
    url: req.url,
    query: Object.fromEntries(url.searchParams),
    headers: { ...req.headers },
    rawHeaders: [...req.rawHeaders],
    rawBody: rawText,
    body,
    receivedAt: now(),
    fault: null,
    ...extra,
    status: null,
    responseBody: '',
    finished: false,
    closedAt: null,
  };
  if (conn) conn.requestIds.push(record.id);
  res.on('close', () => {
    record.closedAt = now();
    record.finished = res.writableFinished;
  });
  captureResponse(res, record);
  return { record, body, parseError, rawText };
}
