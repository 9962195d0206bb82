// Fake Anthropic Messages API upstream for Kakehashi's integration and client tests.
//
// Plain Node (node:http), no dependencies. It answers POST /v1/messages (plain and streaming),
// POST /v1/messages/count_tokens, GET /v1/models and GET /v1/models/{id} in Anthropic's wire format,
// validates requests the way the real API does where a translation bug would show (so a gateway
// that sends OpenAI-isms gets the 400 the real API would give), records every request and
// connection, and injects faults on demand. Shared machinery: common.mjs.
//
// Library use:
//   import { startFakeAnthropic } from './anthropic.mjs';
//   const up = await startFakeAnthropic({ apiKey: 'sk-ant-test' });
//   up.url          -> 'http://127.0.0.1:PORT'   (no /v1: clients append /v1/messages)
//   up.stats()      -> { connections, requests: [{ method, path, headers, body, apiKey,
//                        anthropicVersion, anthropicBeta, fault, reply, status, responseBody, ... }] }
//   up.nextFault('529')                     // the next POST answers 529 overloaded_error
//   up.nextReply({ content: [{ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } }] })
//   up.lastRequest(), up.requests(filter), up.waitFor(pred), up.reset(), up.setModels([...])
//   await up.close();
// Options: { host='127.0.0.1', port=0, apiKey (when set, x-api-key must equal it, else 401),
//   models=['claude-sonnet-4-5','claude-haiku-4-5'] (strings or {id, display_name, created_at}),
//   chunkDelayMs=0, requireVersion=true (anthropic-version header required),
//   strictAlternation=false (reject two user / two assistant turns in a row; the real API merges
//   them), allowExtraFields=false (true: unknown top-level body fields are not rejected) }
//
// Default answer (non-stream), as the real API:
//   200 {"id":"msg_01…","type":"message","role":"assistant","model":<request model>,
//        "content":[{"type":"text","text":"echo: <last user text>[ [images: N]]"}],
//        "stop_reason":"end_turn","stop_sequence":null,
//        "usage":{"input_tokens":n,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,
//                 "output_tokens":m}}
//   The last user text is the concatenated text blocks of the last user message (or, when it holds
//   only tool results, `[tool_result <tool_use_id>: <text>]` for each). N counts `image` blocks in
//   the whole request (tool_result contents included); the suffix is absent when N is 0.
//   Headers: content-type application/json, request-id req_…
// Scripted answers: up.nextReply(reply) (or POST /__control/reply {"reply":…,"count":n}) answers the
//   next /v1/messages request with reply = { content: string | [blocks], stop_reason, stop_sequence,
//   usage, id, model } — blocks `{type:'text', text}` and `{type:'tool_use', id?, name, input}` (id
//   generated as toolu_01… when absent); stop_reason defaults to 'tool_use' when a tool_use block is
//   present, else 'end_turn'; usage is merged over the computed one. A function(body, record) ->
//   reply is accepted too.
// Model-name conventions (also after a `/` or `:` prefix):
//   tool-<name>   a tool_use block for the request's tool named <name>, else its first tool (or a
//                 tool named <name> with {} when the request declares none); input built from the
//                 tool's input_schema (enum[0]/default/example, strings "sample <prop>", integers 7,
//                 numbers 42, booleans true); stop_reason "tool_use"; text "Let me call <name>."
//                 precedes it
//   stop-seq      stops with stop_reason "stop_sequence", stop_sequence = request stop_sequences[0]
//                 (or "STOP")
//   max-tokens    stops with stop_reason "max_tokens" after max_tokens text pieces, output_tokens =
//                 max_tokens
//   fault-<spec>  a fault, see below
// Streaming ("stream": true): `event: <type>\ndata: <json>\n\n` (LF line ends), content-type
//   text/event-stream; charset=utf-8, in the order the real API sends:
//   message_start {"type":"message_start","message":{…, "content":[], "stop_reason":null,
//                  "stop_sequence":null, "usage":{"input_tokens":n, cache…:0, "output_tokens":1}}}
//   per content block i: content_block_start {"index":i,"content_block":{"type":"text","text":""}
//                 | {"type":"tool_use","id","name","input":{}}}
//     (a single `ping` follows the first content_block_start)
//     content_block_delta {"index":i,"delta":{"type":"text_delta","text":<piece>}} one per word, or
//                 {"type":"input_json_delta","partial_json":<piece>}: first piece "", then the input
//                 JSON (Python-style `": "`/`", "` separators) cut at awkward places
//     content_block_stop {"index":i}
//   message_delta {"delta":{"stop_reason","stop_sequence"},"usage":{"output_tokens":m}}
//   message_stop {"type":"message_stop"}
// Errors: {"type":"error","error":{"type":…,"message":…},"request_id":"req_…"} with the type per status:
//   400 invalid_request_error, 401 authentication_error, 403 permission_error, 404 not_found_error,
//   413 request_too_large, 429 rate_limit_error (+ retry-after: 1), 500 api_error,
//   529 overloaded_error (other 5xx api_error, other 4xx invalid_request_error).
//   Missing/wrong x-api-key -> 401 "x-api-key header is required" / "invalid x-api-key"; missing
//   anthropic-version -> 400 "anthropic-version: header is required".
// Validation (400 invalid_request_error, messages in the real API's words where known): unknown
//   top-level fields ("stream_options: Extra inputs are not permitted"), model string, max_tokens
//   integer >= 1, messages non-empty list, roles only user/assistant (role "system" gets the real
//   API's hint about the top-level `system`), first turn user, non-empty content, block types
//   (text, image, document, tool_use, tool_result, thinking, redacted_thinking, …; OpenAI's
//   `image_url` is rejected), non-empty text blocks, image sources (base64 + media_type / url /
//   file), tool_use only from assistant with an object input, tool_result only from user, every
//   tool_use answered by a tool_result in the next message and every tool_result matching a
//   tool_use of the previous one, system string or text blocks, tools need name (pattern) and
//   input_schema (OpenAI's {type:'function'} tools rejected), tool_choice object, temperature /
//   top_p in 0..1, top_k integer, stop_sequences strings, thinking shape.
//
// CLI use:  node anthropic.mjs [--port N] [--host H] [--models a,b] [--api-key K] [--chunk-delay-ms MS]
//   prints {"port":N,"url":"..."} on stdout; control endpoints: POST /__control/next
//   {"fault":<spec>,"count":1}, POST /__control/reply {"reply":{…},"count":1}, POST /__control/reset,
//   POST /__control/models {"models":[…]}, GET /__control/stats
//
// Faults (chosen per request, first match wins: a queued fault (POSTs only), an `x-fake-fault`
// header, a model `fault-<spec>`), grammar of server.mjs plus stream-error:
//   <status>            that status with an Anthropic error body (e.g. 400, 401, 429, 500, 529)
//   hang | slow-headers[-MS] | garbage | nonjson   as in server.mjs
//   drop[-N]            stream: N events (default 2) then the socket is destroyed; non-stream: half
//                       the JSON body, then destroyed
//   slow-stream[-MS[-N]] N filler text_delta " tick<i>" (default 600) one every MS (default 100)
//                       after the first text delta
//   stream-error[-N]    after N events (default 4: message_start, content_block_start, ping, first
//                       delta) `event: error` {"type":"error","error":{"type":"overloaded_error",
//                       "message":"Overloaded"}}, then the stream ends (HTTP status stays 200)

import {
  startRecordingServer, runCliIfMain, base62Id, countTokens, splitPieces,
  sampleFromSchema, spacedJson, awkwardSplit,
} from './common.mjs';

const DEFAULT_MODELS = ['claude-sonnet-4-5', 'claude-haiku-4-5'];
const VERSIONS = new Set(['2023-06-01', '2023-01-01']);
const TOP_LEVEL_FIELDS = new Set(['model', 'messages', 'max_tokens', 'system', 'metadata', 'stop_sequences',
  'stream', 'temperature', 'top_p', 'top_k', 'tools', 'tool_choice', 'thinking', 'service_tier', 'container',
  'mcp_servers', 'context_management', 'output_format', 'output_config']);
const BLOCK_TYPES = ['text', 'image', 'document', 'search_result', 'thinking', 'redacted_thinking', 'tool_use',
  'tool_result', 'server_tool_use', 'web_search_tool_result', 'container_upload'];
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

const ERROR_TYPES = {
  400: ['invalid_request_error', 'Invalid request (fake anthropic).'],
  401: ['authentication_error', 'invalid x-api-key'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'Not found (fake anthropic).'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit (fake anthropic).'],
  500: ['api_error', 'Internal server error'],
  529: ['overloaded_error', 'Overloaded'],
};

/** Anthropic's error type for an HTTP status. */
export function anthropicErrorType(status) {
  if (ERROR_TYPES[status]) return ERROR_TYPES[status][0];
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

/** `{"type":"error","error":{type,message},"request_id"}` for a status. */
export function anthropicError(status, message, type) {
  return {
    type: 'error',
    error: { type: type ?? anthropicErrorType(status), message: message ?? ERROR_TYPES[status]?.[1] ?? `fake anthropic status ${status}` },
    request_id: base62Id('req_'),
  };
}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v) => Number.isInteger(v);

function blockText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.filter((b) => isObj(b) && b.type === 'text' && typeof b.text === 'string').map((b) => b.text).join('');
}

function countImages(messages) {
  let n = 0;
  const walk = (content) => {
    if (!Array.isArray(content)) return;
    for (const b of content) {
      if (!isObj(b)) continue;
      if (b.type === 'image') n++;
      if (b.type === 'tool_result') walk(b.content);
    }
  };
  for (const m of Array.isArray(messages) ? messages : []) walk(m?.content);
  return n;
}

function lastUserText(messages) {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (!m || m.role !== 'user') continue;
    const text = blockText(m.content);
    if (text || typeof m.content === 'string') return text;
    const results = (Array.isArray(m.content) ? m.content : []).filter((b) => isObj(b) && b.type === 'tool_result');
    return results.map((r) => `[tool_result ${r.tool_use_id}: ${blockText(r.content)}]`).join(' ');
  }
  return '';
}

function inputTokens(body) {
  let n = 0;
  const sys = typeof body.system === 'string' ? body.system : blockText(body.system);
  if (sys) n += countTokens(sys);
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    n += 3 + countTokens(blockText(m?.content) || ' ');
  }
  return Math.max(1, n);
}

/** Validates a Messages request; returns the real API's 400 message, or null when it is fine. */
export function validateMessagesRequest(body, opts = {}) {
  if (!isObj(body)) return 'Input should be a valid dictionary';
  if (!opts.allowExtraFields) {
    for (const k of Object.keys(body)) {
      if (!TOP_LEVEL_FIELDS.has(k)) return `${k}: Extra inputs are not permitted`;
    }
  }
  if (!('model' in body)) return 'model: Field required';
  if (typeof body.model !== 'string' || !body.model) return 'model: Input should be a valid string';
  if (!('max_tokens' in body)) return 'max_tokens: Field required';
  if (!isInt(body.max_tokens)) return 'max_tokens: Input should be a valid integer';
  if (body.max_tokens < 1) return 'max_tokens: Input should be greater than or equal to 1';
  if (!('messages' in body)) return 'messages: Field required';
  if (!Array.isArray(body.messages)) return 'messages: Input should be a valid list';
  if (body.messages.length === 0) return 'messages: at least one message is required';

  const msgs = body.messages;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    const at = `messages.${i}`;
    if (!isObj(m)) return `${at}: Input should be a valid dictionary`;
    if (m.role === 'system') {
      return 'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, '
        + 'not "system" as an input message role.';
    }
    if (m.role !== 'user' && m.role !== 'assistant') return `${at}.role: Input should be 'user' or 'assistant'`;
    for (const k of Object.keys(m)) {
      if (k !== 'role' && k !== 'content') return `${at}.${k}: Extra inputs are not permitted`;
    }
    if (!('content' in m)) return `${at}.content: Field required`;
    const isFinalAssistant = i === msgs.length - 1 && m.role === 'assistant';
    if (typeof m.content === 'string') {
      if (!m.content && !isFinalAssistant) {
        return `${at}: all messages must have non-empty content except for the optional final assistant message`;
      }
      continue;
    }
    if (!Array.isArray(m.content)) return `${at}.content: Input should be a valid string or list of content blocks`;
    if (!m.content.length && !isFinalAssistant) {
      return `${at}: all messages must have non-empty content except for the optional final assistant message`;
    }
    for (let j = 0; j < m.content.length; j++) {
      const err = validateBlock(m.content[j], `${at}.content.${j}`, m.role);
      if (err) return err;
    }
  }
  if (msgs[0].role !== 'user') return 'messages: first message must use the "user" role';
  if (opts.strictAlternation) {
    for (let i = 1; i < msgs.length; i++) {
      if (msgs[i].role === msgs[i - 1].role) {
        return `messages: roles must alternate between "user" and "assistant", but found multiple "${msgs[i].role}" roles in a row`;
      }
    }
  }
  // tool_use <-> tool_result pairing, as the real API checks it.
  const blocks = (m) => (Array.isArray(m?.content) ? m.content.filter(isObj) : []);
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (m.role === 'assistant') {
      const ids = blocks(m).filter((b) => b.type === 'tool_use').map((b) => b.id);
      if (!ids.length) continue;
      const next = msgs[i + 1];
      const answered = new Set(next && next.role === 'user'
        ? blocks(next).filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id) : []);
      const missing = ids.filter((id) => !answered.has(id));
      if (missing.length) {
        return `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: `
          + `${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
      }
    } else {
      const prev = msgs[i - 1];
      const used = new Set(prev ? blocks(prev).filter((b) => b.type === 'tool_use').map((b) => b.id) : []);
      const content = blocks(m);
      for (let j = 0; j < content.length; j++) {
        const b = content[j];
        if (b.type === 'tool_result' && !used.has(b.tool_use_id)) {
          return `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. `
            + 'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.';
        }
      }
    }
  }

  if ('system' in body && body.system !== undefined) {
    if (Array.isArray(body.system)) {
      for (let j = 0; j < body.system.length; j++) {
        const b = body.system[j];
        if (!isObj(b) || b.type !== 'text') return `system.${j}.type: Input should be 'text'`;
        if (typeof b.text !== 'string') return `system.${j}.text: Field required`;
        if (!b.text) return 'system: text content blocks must be non-empty';
      }
    } else if (typeof body.system !== 'string') {
      return 'system: Input should be a valid string';
    }
  }
  if ('stop_sequences' in body) {
    if (!Array.isArray(body.stop_sequences)) return 'stop_sequences: Input should be a valid list';
    const bad = body.stop_sequences.findIndex((s) => typeof s !== 'string');
    if (bad >= 0) return `stop_sequences.${bad}: Input should be a valid string`;
  }
  for (const k of ['temperature', 'top_p']) {
    if (k in body) {
      if (typeof body[k] !== 'number') return `${k}: Input should be a valid number`;
      if (body[k] < 0) return `${k}: Input should be greater than or equal to 0`;
      if (body[k] > 1) return `${k}: Input should be less than or equal to 1`;
    }
  }
  if ('top_k' in body && !isInt(body.top_k)) return 'top_k: Input should be a valid integer';
  if ('stream' in body && typeof body.stream !== 'boolean') return 'stream: Input should be a valid boolean';
  if ('metadata' in body && !isObj(body.metadata)) return 'metadata: Input should be a valid dictionary';
  if ('tools' in body) {
    if (!Array.isArray(body.tools)) return 'tools: Input should be a valid list';
    for (let j = 0; j < body.tools.length; j++) {
      const t = body.tools[j];
      if (!isObj(t)) return `tools.${j}: Input should be a valid dictionary`;
      if (t.type !== undefined && t.type !== 'custom') {
        // Server tools are typed with a version suffix, e.g. web_search_20250305, bash_20250124.
        if (typeof t.type === 'string' && /_\d{8}$/.test(t.type)) continue;
        return `tools.${j}: Input tag '${t.type}' found using 'type' does not match any of the expected tags: `
          + "'custom', 'bash_20250124', 'text_editor_20250124', 'web_search_20250305'";
      }
      if (!('name' in t)) return `tools.${j}.custom.name: Field required`;
      if (typeof t.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(t.name)) {
        return `tools.${j}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`;
      }
      if (!('input_schema' in t)) return `tools.${j}.custom.input_schema: Field required`;
      if (!isObj(t.input_schema)) return `tools.${j}.custom.input_schema: Input should be a valid dictionary`;
      if (t.input_schema.type !== 'object') return `tools.${j}.custom.input_schema.type: Input should be 'object'`;
    }
  }
  if ('tool_choice' in body) {
    const tc = body.tool_choice;
    if (!isObj(tc)) return 'tool_choice: Input should be a valid dictionary or object to extract fields from';
    if (!['auto', 'any', 'tool', 'none'].includes(tc.type)) {
      return `tool_choice: Input tag '${tc.type}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'`;
    }
    if (tc.type === 'tool' && typeof tc.name !== 'string') return 'tool_choice.tool.name: Field required';
  }
  if ('thinking' in body) {
    const th = body.thinking;
    if (!isObj(th) || !['enabled', 'disabled', 'adaptive'].includes(th.type)) {
      return "thinking: Input tag found using 'type' does not match any of the expected tags: 'enabled', 'disabled'";
    }
    if (th.type === 'enabled') {
      if (!isInt(th.budget_tokens)) return 'thinking.enabled.budget_tokens: Field required';
      if (th.budget_tokens < 1024) return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
      if (th.budget_tokens >= body.max_tokens) return '`max_tokens` must be greater than `thinking.budget_tokens`';
    }
  }
  return null;
}

function validateBlock(b, at, role) {
  if (!isObj(b)) return `${at}: Input should be a valid dictionary`;
  if (!BLOCK_TYPES.includes(b.type)) {
    return `${at}: Input tag '${b.type}' found using 'type' does not match any of the expected tags: `
      + BLOCK_TYPES.map((t) => `'${t}'`).join(', ');
  }
  switch (b.type) {
    case 'text':
      if (typeof b.text !== 'string') return `${at}.text.text: Field required`;
      if (!b.text) return 'messages: text content blocks must be non-empty';
      return null;
    case 'image': {
      const s = b.source;
      if (!isObj(s)) return `${at}.image.source: Field required`;
      if (s.type === 'base64') {
        if (!IMAGE_TYPES.has(s.media_type)) {
          return `${at}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`;
        }
        if (typeof s.data !== 'string' || !s.data) return `${at}.image.source.base64.data: Field required`;
        return null;
      }
      if (s.type === 'url') return typeof s.url === 'string' ? null : `${at}.image.source.url.url: Field required`;
      if (s.type === 'file') return typeof s.file_id === 'string' ? null : `${at}.image.source.file.file_id: Field required`;
      return `${at}.image.source: Input tag '${s.type}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'`;
    }
    case 'tool_use':
      if (role !== 'assistant') return `${at}: tool_use blocks may only appear in assistant messages`;
      if (typeof b.id !== 'string' || !b.id) return `${at}.tool_use.id: Field required`;
      if (typeof b.name !== 'string' || !b.name) return `${at}.tool_use.name: Field required`;
      if (!isObj(b.input)) return `${at}.tool_use.input: Input should be a valid dictionary`;
      return null;
    case 'tool_result': {
      if (role !== 'user') return `${at}: tool_result blocks may only appear in user messages`;
      if (typeof b.tool_use_id !== 'string' || !b.tool_use_id) return `${at}.tool_result.tool_use_id: Field required`;
      if ('is_error' in b && typeof b.is_error !== 'boolean') return `${at}.tool_result.is_error: Input should be a valid boolean`;
      if (b.content === undefined || typeof b.content === 'string') return null;
      if (!Array.isArray(b.content)) return `${at}.tool_result.content: Input should be a valid string or list`;
      for (let k = 0; k < b.content.length; k++) {
        const c = b.content[k];
        if (!isObj(c) || !['text', 'image', 'document', 'search_result'].includes(c.type)) {
          return `${at}.tool_result.content.${k}: Input tag '${c?.type}' found using 'type' does not match any of the expected tags: 'text', 'image', 'document', 'search_result'`;
        }
        const err = validateBlock(c, `${at}.tool_result.content.${k}`, role);
        if (err) return err;
      }
      return null;
    }
    case 'thinking':
      if (typeof b.thinking !== 'string') return `${at}.thinking.thinking: Field required`;
      if (typeof b.signature !== 'string') return `${at}.thinking.signature: Field required`;
      return null;
    default:
      return null;
  }
}

/**
 * Starts the fake Anthropic upstream. See the header comment for options and behaviour.
 */
export async function startFakeAnthropic(opts = {}) {
  const requireVersion = opts.requireVersion ?? true;

  const modelObject = (m, i) => {
    const o = typeof m === 'string' ? { id: m } : { ...m };
    return {
      type: 'model',
      id: o.id,
      display_name: o.display_name ?? o.id.replace(/-\d{8}$/, '').replace(/(\d)-(?=\d(?:-|$))/g, '$1.')
        .split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join(' '),
      created_at: o.created_at ?? new Date(Date.UTC(2025, 8, 29) - i * 86400000).toISOString().replace('.000Z', 'Z'),
    };
  };

  const errorHeaders = (status) => {
    const h = { 'request-id': base62Id('req_') };
    if (status === 429) h['retry-after'] = '1';
    if (status === 529 || status === 500) h['x-should-retry'] = 'true';
    return h;
  };

  let base;
  const sendError = (ctx, status, message, type) => {
    base.sendJson(ctx.res, status, anthropicError(status, message, type), errorHeaders(status));
  };

  base = await startRecordingServer({
    name: 'anthropic',
    host: opts.host,
    port: opts.port,
    basePath: '',
    chunkDelayMs: opts.chunkDelayMs,
    models: opts.models ?? DEFAULT_MODELS,
    bugBody: (msg) => anthropicError(500, msg),
    errorBody(status, fault) {
      const body = anthropicError(status);
      if (fault.error) body.error = { ...body.error, ...fault.error };
      return { body, headers: errorHeaders(status) };
    },
    annotate(ctx) {
      const h = ctx.req.headers;
      ctx.record.apiKey = h['x-api-key'] ?? null;
      ctx.record.anthropicVersion = h['anthropic-version'] ?? null;
      ctx.record.anthropicBeta = h['anthropic-beta'] ?? null;
    },
    authenticate(ctx) {
      if (opts.apiKey === undefined) return true;
      const key = ctx.req.headers['x-api-key'];
      if (key === opts.apiKey) return true;
      sendError(ctx, 401, key === undefined ? 'x-api-key header is required' : 'invalid x-api-key');
      return false;
    },
    route,
  });

  async function route(ctx) {
    const { req, path } = ctx;
    if (requireVersion) {
      const v = req.headers['anthropic-version'];
      if (v === undefined) return sendError(ctx, 400, 'anthropic-version: header is required');
      if (!VERSIONS.has(v)) return sendError(ctx, 400, `anthropic-version: "${v}" is not a valid version`);
    }
    if (req.method === 'GET' && path === '/v1/models') return listModels(ctx);
    if (req.method === 'GET' && path.startsWith('/v1/models/')) {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      const i = base.models.findIndex((m) => (typeof m === 'string' ? m : m.id) === id);
      if (i < 0) return sendError(ctx, 404, `model: ${id}`, 'not_found_error');
      return base.sendJson(ctx.res, 200, modelObject(base.models[i], i), { 'request-id': base62Id('req_') });
    }
    if (req.method === 'POST' && (path === '/v1/messages' || path === '/v1/messages/count_tokens')) {
      if (ctx.parseError) {
        return sendError(ctx, 400, `There was an issue with the JSON body of your request: ${ctx.parseError.message}`);
      }
      if (path === '/v1/messages/count_tokens') {
        const err = validateMessagesRequest({ max_tokens: 1, ...(ctx.body ?? {}) },
          { ...opts, allowExtraFields: true });
        if (err) return sendError(ctx, 400, err);
        return base.sendJson(ctx.res, 200, { input_tokens: inputTokens(ctx.body) });
      }
      const err = validateMessagesRequest(ctx.body, opts);
      if (err) return sendError(ctx, 400, err);
      return messages(ctx);
    }
    return sendError(ctx, 404, 'Not Found', 'not_found_error');
  }

  function listModels(ctx) {
    const all = base.models.map(modelObject);
    const q = ctx.query;
    const limit = Math.max(1, Math.min(1000, Number(q.get('limit') ?? 20) || 20));
    let start = 0;
    let end = all.length;
    if (q.get('after_id')) start = all.findIndex((m) => m.id === q.get('after_id')) + 1;
    if (q.get('before_id')) {
      end = Math.max(0, all.findIndex((m) => m.id === q.get('before_id')));
      start = Math.max(0, end - limit);
    }
    const data = all.slice(start, Math.min(end, start + limit));
    base.sendJson(ctx.res, 200, {
      data,
      has_more: start + data.length < end,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
    }, { 'request-id': base62Id('req_') });
  }

  /** The reply for a request: scripted, by model convention, or the echo. */
  function plan(ctx) {
    const body = ctx.body;
    const model = body.model;
    const promptTokens = inputTokens(body);
    const scripted = base.takeReply(ctx);
    if (scripted) {
      let content = typeof scripted.content === 'string' ? [{ type: 'text', text: scripted.content }]
        : (scripted.content ?? []);
      content = content.map((b) => (b.type === 'tool_use'
        ? { type: 'tool_use', id: b.id ?? base62Id('toolu_'), name: b.name, input: b.input ?? {} }
        : { ...b }));
      const outTokens = content.reduce((n, b) => n + (b.type === 'text' ? splitPieces(b.text).length
        : countTokens(spacedJson(b.input ?? {}))), 0);
      return {
        id: scripted.id,
        model: scripted.model ?? model,
        content,
        stop_reason: scripted.stop_reason ?? (content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn'),
        stop_sequence: scripted.stop_sequence ?? null,
        usage: { input_tokens: promptTokens, output_tokens: Math.max(1, outTokens), ...(scripted.usage ?? {}) },
      };
    }
    const images = countImages(body.messages);
    let text = `echo: ${lastUserText(body.messages)}${images ? ` [images: ${images}]` : ''}`;
    let m;
    if ((m = /(?:^|[/:])tool-([A-Za-z0-9_-]+)$/.exec(model))) {
      const tools = Array.isArray(body.tools) ? body.tools.filter((t) => t && t.name) : [];
      const tool = tools.find((t) => t.name === m[1]) ?? tools[0] ?? { name: m[1], input_schema: { type: 'object' } };
      const input = sampleFromSchema(tool.input_schema ?? { type: 'object' });
      const lead = `Let me call ${tool.name}.`;
      return {
        model,
        content: [{ type: 'text', text: lead }, { type: 'tool_use', id: base62Id('toolu_'), name: tool.name, input }],
        stop_reason: 'tool_use',
        stop_sequence: null,
        usage: { input_tokens: promptTokens, output_tokens: splitPieces(lead).length + countTokens(spacedJson(input)) },
      };
    }
    let stopReason = 'end_turn';
    let stopSequence = null;
    let outTokens;
    if (/(?:^|[/:])stop-seq$/.test(model)) {
      stopReason = 'stop_sequence';
      stopSequence = Array.isArray(body.stop_sequences) && body.stop_sequences.length ? body.stop_sequences[0] : 'STOP';
    } else if (/(?:^|[/:])max-tokens$/.test(model)) {
      stopReason = 'max_tokens';
      text = splitPieces(`${text} and then some more words until the budget runs out`)
        .slice(0, body.max_tokens).join('');
      outTokens = body.max_tokens;
    }
    return {
      model,
      content: [{ type: 'text', text }],
      stop_reason: stopReason,
      stop_sequence: stopSequence,
      usage: { input_tokens: promptTokens, output_tokens: outTokens ?? splitPieces(text).length },
    };
  }

  function messages(ctx) {
    const p = plan(ctx);
    const id = p.id ?? base62Id('msg_');
    const usage = {
      input_tokens: p.usage.input_tokens,
      cache_creation_input_tokens: p.usage.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: p.usage.cache_read_input_tokens ?? 0,
      output_tokens: p.usage.output_tokens,
    };
    const headers = { 'request-id': base62Id('req_') };
    const fault = ctx.fault;

    if (!ctx.body.stream) {
      const msg = {
        id,
        type: 'message',
        role: 'assistant',
        model: p.model,
        content: p.content,
        stop_reason: p.stop_reason,
        stop_sequence: p.stop_sequence,
        usage,
      };
      if (fault && fault.type === 'drop') return base.dropJson(ctx, msg, headers);
      base.sendJson(ctx.res, 200, msg, headers);
      return;
    }

    const ev = (type, data) => ({ event: type, data: { type, ...data } });
    const events = [ev('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model: p.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    })];
    let fillerAfter = null;
    let fillerIndex = 0;
    p.content.forEach((b, index) => {
      if (b.type === 'text') {
        events.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
        if (index === 0) events.push(ev('ping', {}));
        splitPieces(b.text).forEach((piece, k) => {
          events.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }));
          if (k === 0 && fillerAfter === null) {
            fillerAfter = events.length;
            fillerIndex = index;
          }
        });
      } else if (b.type === 'tool_use') {
        events.push(ev('content_block_start', {
          index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} },
        }));
        if (index === 0) events.push(ev('ping', {}));
        for (const piece of ['', ...awkwardSplit(spacedJson(b.input))]) {
          events.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } }));
        }
      } else {
        // Other block types (thinking, …) as scripted: start with the block, no deltas.
        events.push(ev('content_block_start', { index, content_block: b }));
      }
      events.push(ev('content_block_stop', { index }));
    });
    let fillers = 0;
    events.push(() => ev('message_delta', {
      delta: { stop_reason: p.stop_reason, stop_sequence: p.stop_sequence },
      usage: { output_tokens: usage.output_tokens + fillers },
    }));
    events.push(ev('message_stop', {}));

    return base.streamEvents(ctx, events,
      (e) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`, {
        fault,
        headers: { 'content-type': 'text/event-stream; charset=utf-8', ...headers },
        fillerAfter: fillerAfter ?? 1,
        makeFiller: (i) => {
          if (fillerAfter === null) return ev('ping', {});
          fillers++;
          return ev('content_block_delta', { index: fillerIndex, delta: { type: 'text_delta', text: ` tick${i}` } });
        },
        errorAfter: 4,
        errorEvent: ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
      });
  }

  return base;
}

await runCliIfMain(import.meta.url, startFakeAnthropic,
  'usage: node anthropic.mjs [--port N] [--host H] [--models a,b] [--api-key KEY] [--chunk-delay-ms MS]');
