// Shared machinery of the provider-specific fake upstreams (anthropic.mjs, gemini.mjs).
//
// Plain Node (node:http), no dependencies. server.mjs (the OpenAI-wire fake) is left as it is; what
// it exports (`nowMs`, `parseFault`) is reused from there, and what it keeps private is written
// here once for the newer fakes:
//   parseFault(spec)          server.mjs's grammar plus `stream-error[-N]` ({type:'stream_error', after})
//   faultFromModel(model)     `fault-<spec>` model names (also after `/` or `:`)
//   randomId, countTokens, splitPieces, embedText   (same algorithms as server.mjs, so a text embeds to
//                             the same vector in every fake)
//   parseSse(text)            [{event, data, json}] of an SSE body (LF or CRLF), for tests
//   startRecordingServer(cfg) the recording HTTP server both fakes are built on: connections and
//                             requests recorded, fault queue / header / model-name selection, scripted
//                             reply queue, generic faults (hang, garbage, nonjson, slow-headers, status),
//                             SSE writer honouring drop / slow-stream / stream-error, control endpoints
//   runCli(...)               the CLI mode shared by the fakes

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { nowMs, parseFault as parseBaseFault } from './server.mjs';
import { closeFake, recordQueries, recordRequest } from './capture.mjs';

export { nowMs, parseBaseFault };

/** server.mjs's fault grammar plus `stream-error[-N]`: an error event after N stream events. */
export function parseFault(spec) {
  if (typeof spec === 'string') {
    const m = /^stream-error(?:-(\d+))?$/.exec(spec.trim().toLowerCase());
    if (m) return { type: 'stream_error', after: m[1] ? Number(m[1]) : null };
  }
  if (spec && typeof spec === 'object' && String(spec.type).replace(/-/g, '_') === 'stream_error') {
    return { after: null, ...spec, type: 'stream_error' };
  }
  return parseBaseFault(spec);
}

/** The fault named by a model id such as `fault-500`, `x/fault-hang` or `p:fault-drop-3`. */
export function faultFromModel(model) {
  if (typeof model !== 'string') return null;
  const m = /(?:^|[/:])fault-([a-z0-9-]+)$/i.exec(model);
  if (!m) return null;
  try {
    return parseFault(m[1]);
  } catch {
    return null;
  }
}

export function randomId(prefix = '', bytes = 12) {
  return prefix + randomBytes(bytes).toString('hex');
}

/** Base62 id like Anthropic's `msg_01XFDUDYJgAACzvnptvVoYEL` / `toolu_01A09q90qw90lq917835lq9`. */
export function base62Id(prefix, len = 22) {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const bytes = randomBytes(len);
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[bytes[i] % 62];
  return `${prefix}01${s}`;
}

export function countTokens(text) {
  const words = String(text).trim().split(/\s+/).filter(Boolean);
  return Math.max(1, words.length);
}

/** Splits text into stream pieces: "echo: a b" -> ["echo:", " a", " b"]. */
export function splitPieces(text) {
  const pieces = String(text).match(/\s*\S+/g);
  return pieces && pieces.length ? pieces : [String(text)];
}

/** Deterministic pseudo-embedding of `text` with `dims` components in [-1, 1] (as server.mjs). */
export function embedText(text, dims) {
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
    out[i] = Math.fround(((h % 20001) - 10000) / 10000);
  }
  return out;
}

/**
 * A plausible value for a JSON schema (tool input / function args): every declared property,
 * enum[0] / const / default / example first, strings `sample <name>`, numbers 42, integers 7.
 */
export function sampleFromSchema(schema, name = 'value', depth = 0) {
  if (!schema || typeof schema !== 'object' || depth > 6) return `sample ${name}`;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  if ('default' in schema) return schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if ('example' in schema) return schema.example;
  for (const k of ['anyOf', 'oneOf', 'allOf']) {
    if (Array.isArray(schema[k]) && schema[k].length) return sampleFromSchema(schema[k][0], name, depth + 1);
  }
  let type = schema.type;
  if (Array.isArray(type)) type = type.find((t) => t !== 'null' && t !== 'NULL') ?? type[0];
  type = typeof type === 'string' ? type.toLowerCase() : (schema.properties ? 'object' : 'string');
  switch (type) {
    case 'object': {
      const out = {};
      for (const [k, v] of Object.entries(schema.properties ?? {})) out[k] = sampleFromSchema(v, k, depth + 1);
      return out;
    }
    case 'array':
      return [sampleFromSchema(schema.items ?? { type: 'string' }, name, depth + 1)];
    case 'integer':
      return 7;
    case 'number':
      return 42;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return `sample ${name}`;
  }
}

/** JSON with Python-style separators (`", "`, `": "`), as Anthropic's partial_json pieces read. */
export function spacedJson(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(spacedJson).join(', ')}]`;
  return `{${Object.entries(v).filter(([, x]) => x !== undefined)
    .map(([k, x]) => `${JSON.stringify(k)}: ${spacedJson(x)}`).join(', ')}}`;
}

/** Cuts a string at awkward places (inside keys, strings and numbers): sizes 1, 6, 3, 9, 2, 7, ... */
export function awkwardSplit(s) {
  const sizes = [1, 6, 3, 9, 2, 7, 4, 11, 5];
  const out = [];
  let i = 0;
  let k = 0;
  while (i < s.length) {
    const n = sizes[k++ % sizes.length];
    out.push(s.slice(i, i + n));
    i += n;
  }
  return out;
}

/** Parses an SSE body (LF, CRLF or CR line ends) into [{event, data, json}]; `event` null if unnamed. */
export function parseSse(text) {
  const out = [];
  for (const block of String(text).split(/\r\n\r\n|\n\n|\r\r/)) {
    if (!block.trim()) continue;
    let event = null;
    const data = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line.startsWith('event:')) event = line.slice(6).replace(/^ /, '');
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (!data.length && event === null) continue;
    const d = data.join('\n');
    let json;
    try {
      json = JSON.parse(d);
    } catch {
      json = undefined;
    }
    out.push({ event, data: d, json });
  }
  return out;
}

/**
 * Starts the recording HTTP server a provider fake is built on.
 * cfg: {
 *   host, port, basePath (appended to origin for `url`), models (initial list, provider-specific),
 *   chunkDelayMs (delay before each stream event), name (for error messages),
 *   errorBody(status, fault) -> { body, headers }   provider-shaped error for a status fault,
 *   modelOf(ctx) -> string | undefined              model name for `fault-<spec>` selection,
 *   authenticate(ctx) -> boolean                    false when it answered (rejected) already,
 *   annotate(ctx)                                   adds provider fields to ctx.record,
 *   route(ctx) -> Promise                           answers a request (faults not yet handled:
 *                                                   drop, slow_stream, stream_error),
 *   bugBody(message) -> object                      body of a 500 when route() throws,
 * }
 * ctx: { req, res, url, path, query, raw, rawText, body, parseError, record, fault, conn }.
 */
export async function startRecordingServer(cfg) {
  const host = cfg.host ?? '127.0.0.1';
  const basePath = (cfg.basePath ?? '').replace(/\/+$/, '');
  const chunkDelayMs = cfg.chunkDelayMs ?? 0;

  let connections = [];
  let requests = [];
  let faultQueue = [];
  let replyQueue = [];
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
  const sleep = (ms) => new Promise((resolve) => later(ms, resolve));

  const server = http.createServer({ keepAliveTimeout: 30000 });
  server.on('connection', (socket) => {
    const conn = {
      id: nextConnId++,
      remotePort: socket.remotePort,
      openedAt: nowMs(),
      closedAt: null,
      requestIds: [],
      control: false,
    };
    connections.push(conn);
    socket.__fakeConn = conn;
    liveSockets.add(socket);
    socket.on('close', () => {
      conn.closedAt = nowMs();
      liveSockets.delete(socket);
    });
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  server.on('request', (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((err) => {
        if (!res.headersSent) {
          sendJson(res, 500, cfg.bugBody ? cfg.bugBody(`fake ${cfg.name ?? 'upstream'} bug: ${err.message}`)
            : { error: `fake upstream bug: ${err.message}` });
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
      ...extraHeaders,
    });
    res.end(body);
    return body;
  }

  /** 200 with the first half of a JSON body, then the socket is destroyed. */
  function dropJson(ctx, obj, headers = {}) {
    const body = JSON.stringify(obj);
    ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
    ctx.res.write(body.slice(0, Math.floor(body.length / 2)));
    later(50, () => ctx.req.socket.destroy());
  }

  /**
   * Writes SSE events (values or functions evaluated at write time) through `frame(ev) -> string`.
   * opts: { headers, fault, makeFiller(i), fillerAfter (events before filler, default 1),
   *         errorEvent (written for stream_error faults), errorAfter (default events before it),
   *         trailer (string written after the last event, e.g. OpenAI's [DONE]) }
   */
  async function streamEvents(ctx, events, frame, opts = {}) {
    const { req, res } = ctx;
    const fault = opts.fault;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      ...(opts.headers ?? {}),
    });
    res.flushHeaders();
    const gone = () => res.destroyed || res.writableEnded;
    const write = (ev) => {
      const obj = typeof ev === 'function' ? ev() : ev;
      if (!gone()) res.write(frame(obj));
    };
    const finish = () => {
      if (opts.trailer && !gone()) res.write(opts.trailer);
      if (!gone()) res.end();
    };

    if (fault && fault.type === 'drop') {
      const n = Math.min(fault.chunks, events.length);
      for (let i = 0; i < n; i++) write(events[i]);
      await sleep(50);
      req.socket.destroy();
      return;
    }
    if (fault && fault.type === 'stream_error') {
      const dflt = opts.errorAfter ?? 1;
      const n = Math.max(0, Math.min(fault.after ?? dflt, events.length - 1));
      for (let i = 0; i < n; i++) write(events[i]);
      if (opts.errorEvent) write(opts.errorEvent);
      if (!gone()) res.end();
      return;
    }
    if (fault && fault.type === 'slow_stream') {
      const head = Math.min(opts.fillerAfter ?? 1, events.length);
      for (let i = 0; i < head; i++) write(events[i]);
      for (let i = 0; i < fault.chunks; i++) {
        await sleep(fault.intervalMs);
        if (gone()) return;
        write(opts.makeFiller(i));
      }
      for (let i = head; i < events.length; i++) write(events[i]);
      finish();
      return;
    }
    for (const ev of events) {
      if (chunkDelayMs) await sleep(chunkDelayMs);
      if (gone()) return;
      write(ev);
    }
    finish();
  }

  async function handle(req, res, raw) {
    const conn = req.socket.__fakeConn;
    const url = new URL(req.url, 'http://fake.local');
    const path = url.pathname;

    if (path.startsWith('/__control/')) {
      if (conn) conn.control = true;
      return handleControl(req, res, path, raw);
    }

    const { record, body, parseError, rawText } = recordRequest({
      id: nextReqId++, req, res, url, raw, conn, now: nowMs, extra: { reply: null },
    });
    requests.push(record);

    const ctx = { req, res, url, path, query: url.searchParams, raw, rawText, body, parseError, record, conn,
      fault: null };
    if (cfg.annotate) cfg.annotate(ctx);

    let fault = null;
    // Queued faults are for POSTs only, so a model discovery GET cannot eat one.
    if (faultQueue.length && req.method === 'POST') fault = faultQueue.shift();
    else if (req.headers['x-fake-fault']) {
      try {
        fault = parseFault(req.headers['x-fake-fault']);
      } catch {
        fault = null;
      }
    } else {
      fault = faultFromModel(cfg.modelOf ? cfg.modelOf(ctx) : body?.model);
    }
    record.fault = fault;
    ctx.fault = fault;

    if (cfg.authenticate && !cfg.authenticate(ctx)) return;

    if (fault) {
      switch (fault.type) {
        case 'hang':
          return;
        case 'garbage':
          req.socket.end('hello\r\n\r\n');
          return;
        case 'status': {
          const { body: errObj, headers } = cfg.errorBody(fault.status, fault);
          sendJson(res, fault.status, errObj, { ...(headers ?? {}), ...(fault.headers ?? {}) });
          return;
        }
        case 'nonjson': {
          const txt = '<html><body>this is not json</body></html>\n';
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(txt) });
          res.end(txt);
          return;
        }
        case 'slow_headers':
          await sleep(fault.ms);
          if (res.destroyed || req.socket.destroyed) return;
          break;
        default:
          break; // drop / slow_stream / stream_error: handled by the route
      }
    }
    return cfg.route(ctx);
  }

  function handleControl(req, res, path, raw) {
    let body = {};
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      sendJson(res, 400, { error: 'bad json' });
      return;
    }
    try {
      if (req.method === 'POST' && path === '/__control/next') {
        api.nextFault(body.fault, body.count ?? 1);
        return sendJson(res, 200, { queued: faultQueue.length });
      }
      if (req.method === 'POST' && path === '/__control/reply') {
        api.nextReply(body.reply, body.count ?? 1);
        return sendJson(res, 200, { queued: replyQueue.length });
      }
      if (req.method === 'POST' && path === '/__control/reset') {
        api.reset();
        return sendJson(res, 200, { ok: true });
      }
      if (req.method === 'POST' && path === '/__control/models') {
        if (Array.isArray(body.models)) api.setModels(body.models);
        return sendJson(res, 200, { models: api.models });
      }
      if (req.method === 'GET' && path === '/__control/stats') return sendJson(res, 200, api.stats());
    } catch (e) {
      return sendJson(res, 400, { error: e.message });
    }
    return sendJson(res, 404, { error: 'unknown control endpoint' });
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = server.address().port;

  const api = {
    port,
    host,
    origin: `http://${host}:${port}`,
    url: `http://${host}:${port}${basePath}`,
    server,
    models: cfg.models ?? [],
    /** Queues a fault for the next `count` POST requests (control requests excluded). */
    nextFault(spec, count = 1) {
      const f = parseFault(spec);
      if (!f) return;
      for (let i = 0; i < count; i++) faultQueue.push(f);
    },
    /** Queues a scripted reply (object, or function(body, record) -> object) for the next generations. */
    nextReply(reply, count = 1) {
      if (reply === undefined || reply === null) throw new Error('nextReply needs a reply');
      for (let i = 0; i < count; i++) replyQueue.push(reply);
    },
    /** Next scripted reply, or null; called by the provider for generation requests only. */
    takeReply(ctx) {
      if (!replyQueue.length) return null;
      const r = replyQueue.shift();
      const v = typeof r === 'function' ? r(ctx.body, ctx.record) : r;
      ctx.record.reply = JSON.parse(JSON.stringify(v ?? null));
      return v;
    },
    setModels(list) {
      api.models = [...list];
    },
    stats() {
      return JSON.parse(JSON.stringify({
        connections,
        requests,
        openConnections: liveSockets.size,
        queuedFaults: faultQueue.length,
        queuedReplies: replyQueue.length,
      }));
    },
    ...recordQueries(() => ({ requests, connections }), cfg.name ?? 'upstream'),
    reset() {
      connections = connections.filter((c) => c.closedAt === null);
      requests = [];
      faultQueue = [];
      replyQueue = [];
    },
    close() {
      return closeFake(server, timers, liveSockets);
    },
    // helpers for the provider module
    sendJson,
    dropJson,
    streamEvents,
    later,
    sleep,
  };
  return api;
}

/** Parses the common CLI flags: --port --host --models a,b --api-key K --chunk-delay-ms MS. */
export function parseCliArgs(argv) {
  const out = {};
  const valued = ['--port', '--host', '--models', '--api-key', '--chunk-delay-ms'];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const [key, val] = eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, argv[i + 1]];
    if (eq < 0 && valued.includes(key)) i++;
    if (key === '--port') out.port = Number(val);
    else if (key === '--host') out.host = val;
    else if (key === '--models') out.models = val.split(',').filter(Boolean);
    else if (key === '--api-key') out.apiKey = val;
    else if (key === '--chunk-delay-ms') out.chunkDelayMs = Number(val);
    else if (key === '--help' || key === '-h') out.help = true;
  }
  return out;
}

/** CLI mode: when `moduleUrl` is the script node runs, start the fake and print {"port","url"}. */
export async function runCliIfMain(moduleUrl, start, usage) {
  if (!process.argv[1] || fileURLToPath(moduleUrl) !== process.argv[1]) return;
  const args = parseCliArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const up = await start(args);
  process.stdout.write(`${JSON.stringify({ port: up.port, url: up.url })}\n`);
  const stop = () => {
    up.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
