// Fake Google Gemini API (Generative Language API, v1beta) upstream for Kakehashi's tests.
//
// Plain Node (node:http), no dependencies. It answers models.list / models.get, generateContent,
// streamGenerateContent (?alt=sse, and the JSON-array stream without it), countTokens, embedContent
// and batchEmbedContents in Google's wire format, validates requests where a translation bug would
// show (with the 400 INVALID_ARGUMENT the real API gives), records every request and connection,
// and injects faults on demand. Shared machinery: common.mjs.
//
// Library use:
//   import { startFakeGemini } from './gemini.mjs';
//   const up = await startFakeGemini({ apiKey: 'AIza-test' });
//   up.url          -> 'http://127.0.0.1:PORT/v1beta'
//   up.stats()      -> { connections, requests: [{ method, path, query, headers, body, apiKey,
//                        keySource ('header'|'query'|null), model, rpc, alt, fault, reply, status,
//                        responseBody, ... }] }
//   up.nextFault('503'); up.nextReply({ parts: [{ functionCall: { name: 'f', args: {} } }] });
//   up.lastRequest(), up.requests(filter), up.waitFor(pred), up.reset(), up.setModels([...])
//   await up.close();
// Options: { host='127.0.0.1', port=0, apiKey (when set: the key must equal it), models (strings or
//   {id, displayName, supportedGenerationMethods, ...}; default gemini-2.0-flash, gemini-2.5-pro with
//   generateContent/countTokens, text-embedding-004 with embedContent/batchEmbedContents),
//   embeddingDims=8, chunkDelayMs=0, sseEol='\r\n' (the line end of SSE frames),
//   strictCamelCase=true (reject snake_case generationConfig names the real API would also accept,
//   so a gateway's mixed naming shows up; false accepts them like the real API) }
//
// Auth, as the real API: the key in the `x-goog-api-key` header, or `?key=` (recorded as
//   keySource). No key -> 403 PERMISSION_DENIED "Method doesn't allow unregistered callers …";
//   wrong key -> 400 INVALID_ARGUMENT "API key not valid. Please pass a valid API key." with an
//   ErrorInfo detail (reason API_KEY_INVALID, domain googleapis.com).
// Errors: {"error":{"code":<http status>,"message":…,"status":<canonical code>[,"details":[…]]}},
//   content-type application/json; charset=UTF-8: 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED,
//   403 PERMISSION_DENIED, 404 NOT_FOUND, 429 RESOURCE_EXHAUSTED (details QuotaFailure + RetryInfo
//   {"retryDelay":"1s"}; Google sends no retry-after header), 500 INTERNAL, 503 UNAVAILABLE
//   ("The model is overloaded. Please try again later."), 504 DEADLINE_EXCEEDED.
//
// POST /v1beta/models/{model}:generateContent -> GenerateContentResponse:
//   {"candidates":[{"content":{"parts":[{"text":"echo: <last user text>[ [images: N]]"}],"role":"model"},
//     "finishReason":"STOP","index":0}],
//    "usageMetadata":{"promptTokenCount":p,"candidatesTokenCount":c,"totalTokenCount":p+c,
//                     "promptTokensDetails":[{"modality":"TEXT","tokenCount":p}]},
//    "modelVersion":"<model>","responseId":"<random>"}
//   The last user text is the concatenated text parts of the last `user` content (or, when it holds
//   only function responses, `[functionResponse <name>: <json>]`); N counts inlineData/inline_data
//   and fileData/file_data parts of all contents (suffix absent when 0).
// POST …:streamGenerateContent?alt=sse -> content-type text/event-stream, one
//   `data: <GenerateContentResponse JSON>` per event, each terminated by "\r\n\r\n" (the real API
//   frames SSE with CRLF line ends — Vertex/Gemini proxies had to learn to split on it, and Google's
//   own JS SDK matches /^data: (.*)(?:\n\n|\r\r|\r\n\r\n)/; `sseEol: '\n'` switches to LF). No [DONE]
//   sentinel: the stream just ends. Text comes one word per event; every event carries
//   usageMetadata {promptTokenCount, totalTokenCount}; the last one carries finishReason and the full
//   usageMetadata. A functionCall part comes whole, in one event. Without alt=sse the same
//   responses stream as a JSON array ("[" first, ",\r\n" between, "]" last), content-type
//   application/json.
// Scripted answers: up.nextReply({ parts: string | [{text} | {functionCall:{name,args}}],
//   finishReason ('STOP'), usageMetadata (merged over the computed one), promptFeedback }) answers the
//   next generateContent/streamGenerateContent request (a reply with promptFeedback and no parts is a
//   blocked prompt: no candidates). A function(body, record) -> reply is accepted too.
// Model-name conventions (the model of the URL path, also after a `/` or `:` prefix):
//   tool-<name>  a functionCall for the declared function named <name>, else the first declared
//                function (tools[].functionDeclarations / function_declarations), args built from
//                its parameters / parametersJsonSchema (enum[0]/default/example, strings
//                "sample <prop>", integers 7, numbers 42, booleans true); finishReason STOP
//   max-tokens   finishReason MAX_TOKENS after generationConfig.maxOutputTokens words (default 3)
//   safety       candidate without content, finishReason SAFETY, safetyRatings (one blocked: true)
//   blocked      no candidates; promptFeedback {blockReason:"SAFETY", safetyRatings}
//   fault-<spec> a fault, see below
// Validation (400 INVALID_ARGUMENT): malformed JSON; unknown top-level fields ("Invalid JSON payload
//   received. Unknown name \"messages\": Cannot find field."); contents non-empty; roles only
//   user/model ("Please use a valid role: user, model."); parts non-empty; each part exactly one of
//   text/inlineData/fileData/functionCall/functionResponse/executableCode/codeExecutionResult
//   (OpenAI-style {type:'text'} parts are unknown names); functionResponse needs a name and an object
//   response; functionCall needs a name and object args; inlineData needs mimeType and data;
//   systemInstruction must be a Content object with parts (a plain string is rejected);
//   generationConfig names must be known camelCase names (snake_case with strictCamelCase);
//   tools: function declarations need a valid name.
// POST …:embedContent {content:{parts:[{text}]}, outputDimensionality?} -> {"embedding":{"values":[…]}}
// POST …:batchEmbedContents {requests:[{model:"models/<same model>", content, outputDimensionality?}]}
//   -> {"embeddings":[{"values":[…]}, …]}; vectors deterministic per text (the same as server.mjs
//   gives for that text), length outputDimensionality or embeddingDims.
// POST …:countTokens {contents | generateContentRequest} -> {"totalTokens":n,"promptTokensDetails":[…]}
// GET /v1beta/models[?pageSize=&pageToken=] -> {"models":[{"name":"models/<id>","version",
//   "displayName","description","inputTokenLimit","outputTokenLimit","supportedGenerationMethods",
//   …}], "nextPageToken" (only when more)}; GET /v1beta/models/<id> -> one model or 404 NOT_FOUND.
//
// CLI use:  node gemini.mjs [--port N] [--host H] [--models a,b] [--api-key K] [--chunk-delay-ms MS]
//   prints {"port":N,"url":"..."}; control endpoints as anthropic.mjs (/__control/next, /reply,
//   /reset, /models, /stats).
//
// Faults (a queued fault (POSTs only), an `x-fake-fault` header, or the model `fault-<spec>`):
//   <status>             that status with a Google error body
//   hang | slow-headers[-MS] | garbage | nonjson   as in server.mjs
//   drop[-N]             stream: N events (default 2) then the socket is destroyed; otherwise half
//                        the JSON body, then destroyed
//   slow-stream[-MS[-N]] N filler events " tick<i>" (default 600), one every MS (default 100), after
//                        the first event
//   stream-error[-N]     after N events (default 1) an event `data: {"error":{"code":503,"message":
//                        "The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`,
//                        then the stream ends (HTTP status stays 200)

import {
  startRecordingServer, runCliIfMain, countTokens, splitPieces, embedText, sampleFromSchema,
} from './common.mjs';
import { randomBytes } from 'node:crypto';

const DEFAULT_MODELS = [
  { id: 'gemini-2.0-flash', supportedGenerationMethods: ['generateContent', 'countTokens'] },
  { id: 'gemini-2.5-pro', supportedGenerationMethods: ['generateContent', 'countTokens'] },
  { id: 'text-embedding-004', supportedGenerationMethods: ['embedContent', 'batchEmbedContents'] },
];

const CANONICAL = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
  401: ['UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, '
    + 'login cookie or other valid authentication credential.'],
  403: ['PERMISSION_DENIED', 'The caller does not have permission'],
  404: ['NOT_FOUND', 'Requested entity was not found.'],
  409: ['ABORTED', 'The operation was aborted.'],
  429: ['RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan and billing details. '
    + 'For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.'],
  499: ['CANCELLED', 'The operation was cancelled.'],
  500: ['INTERNAL', 'An internal error has occurred. Please retry or report in '
    + 'https://developers.generativeai.google/guide/troubleshooting'],
  501: ['NOT_IMPLEMENTED', 'Method not implemented.'],
  503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  504: ['DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'],
};

/** Google's canonical status name for an HTTP status. */
export function googleStatus(code) {
  if (CANONICAL[code]) return CANONICAL[code][0];
  return code >= 500 ? 'UNKNOWN' : 'FAILED_PRECONDITION';
}

/** `{"error":{code,message,status[,details]}}`. */
export function googleError(code, message, status, details) {
  const error = {
    code,
    message: message ?? CANONICAL[code]?.[1] ?? `fake gemini status ${code}`,
    status: status ?? googleStatus(code),
  };
  if (details) error.details = details;
  else if (code === 429) {
    error.details = [
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [{
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
          quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
          quotaDimensions: { location: 'global', model: 'fake' },
          quotaValue: '15',
        }],
      },
      { '@type': 'type.googleapis.com/google.rpc.Help',
        links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' },
    ];
  }
  return { error };
}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const pick = (o, camel, snake) => (o[camel] !== undefined ? o[camel] : o[snake]);
const snakeOf = (s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const TOP_LEVEL = ['contents', 'tools', 'toolConfig', 'safetySettings', 'systemInstruction', 'generationConfig',
  'cachedContent', 'model', 'labels'];
const PART_DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode',
  'codeExecutionResult'];
const PART_EXTRA = ['thought', 'thoughtSignature', 'videoMetadata', 'partMetadata', 'mediaResolution'];
const GEN_CONFIG = ['stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', '_responseJsonSchema',
  'responseModalities', 'candidateCount', 'maxOutputTokens', 'temperature', 'topP', 'topK', 'seed', 'presencePenalty',
  'frequencyPenalty', 'responseLogprobs', 'logprobs', 'enableEnhancedCivicAnswers', 'speechConfig', 'thinkingConfig',
  'imageConfig', 'mediaResolution'];
const TOOL_KEYS = ['functionDeclarations', 'googleSearch', 'googleSearchRetrieval', 'codeExecution', 'urlContext',
  'computerUse', 'fileSearch', 'googleMaps'];

const nameSet = (list) => new Set(list.flatMap((k) => [k, snakeOf(k)]));
const TOP_LEVEL_SET = nameSet(TOP_LEVEL);
const PART_DATA_SET = nameSet(PART_DATA);
const PART_EXTRA_SET = nameSet(PART_EXTRA);
const TOOL_KEY_SET = nameSet(TOOL_KEYS);
const unknownName = (k, at) => `Invalid JSON payload received. Unknown name "${k}"${at ? ` at '${at}'` : ''}: Cannot find field.`;

function validateContent(c, at, label) {
  if (!isObj(c)) return `Invalid value at '${at}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), ${JSON.stringify(c)}`;
  for (const k of Object.keys(c)) if (k !== 'role' && k !== 'parts') return unknownName(k, at);
  if (!Array.isArray(c.parts) || c.parts.length === 0) return `* ${label}.parts: contents.parts must not be empty.\n`;
  for (let j = 0; j < c.parts.length; j++) {
    const p = c.parts[j];
    const pat = `${at}.parts[${j}]`;
    if (!isObj(p)) return `Invalid value at '${pat}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Part), ${JSON.stringify(p)}`;
    const data = [];
    for (const k of Object.keys(p)) {
      if (PART_DATA_SET.has(k)) data.push(k);
      else if (!PART_EXTRA_SET.has(k)) return unknownName(k, pat);
    }
    if (data.length === 0) return `* ${label}.parts[${j}].data: required oneof field 'data' must have one initialized field\n`;
    if (data.length > 1) return `Invalid value at '${pat}': oneof field 'data' is already set. Cannot set '${data[1]}'`;
    const kind = data[0];
    const v = p[kind];
    if (kind === 'text' && typeof v !== 'string') return `Invalid value at '${pat}.text' (TYPE_STRING), ${JSON.stringify(v)}`;
    if (kind === 'inlineData' || kind === 'inline_data') {
      if (!isObj(v) || typeof pick(v, 'mimeType', 'mime_type') !== 'string' || typeof v.data !== 'string') {
        return `* ${label}.parts[${j}].inline_data: inline_data must have mime_type and data.\n`;
      }
    }
    if (kind === 'fileData' || kind === 'file_data') {
      if (!isObj(v) || typeof pick(v, 'fileUri', 'file_uri') !== 'string') {
        return `* ${label}.parts[${j}].file_data.file_uri: Field is required.\n`;
      }
    }
    if (kind === 'functionCall' || kind === 'function_call') {
      if (!isObj(v) || typeof v.name !== 'string' || !v.name) return `* ${label}.parts[${j}].function_call.name: Name cannot be empty.\n`;
      if (v.args !== undefined && !isObj(v.args)) {
        return `Invalid value at '${pat}.function_call.args' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(v.args)}`;
      }
    }
    if (kind === 'functionResponse' || kind === 'function_response') {
      if (!isObj(v) || typeof v.name !== 'string' || !v.name) return `* ${label}.parts[${j}].function_response.name: Name cannot be empty.\n`;
      if (v.response !== undefined && !isObj(v.response)) {
        return `Invalid value at '${pat}.function_response.response' (type.googleapis.com/google.protobuf.Struct), ${JSON.stringify(v.response)}`;
      }
    }
  }
  return null;
}

/** Validates a GenerateContentRequest; returns the 400 message, or null when it is fine. */
export function validateGenerateRequest(body, opts = {}) {
  if (!isObj(body)) return 'Invalid JSON payload received. Expected an object.';
  for (const k of Object.keys(body)) if (!TOP_LEVEL_SET.has(k)) return unknownName(k);
  const contents = body.contents;
  if (contents !== undefined && !Array.isArray(contents)) {
    return `Invalid value at 'contents' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), ${JSON.stringify(contents)}`;
  }
  if (!contents || contents.length === 0) return '* GenerateContentRequest.contents: contents is not specified\n';
  for (let i = 0; i < contents.length; i++) {
    const c = contents[i];
    if (isObj(c) && c.role !== undefined && c.role !== 'user' && c.role !== 'model') return 'Please use a valid role: user, model.';
    const err = validateContent(c, `contents[${i}]`, `GenerateContentRequest.contents[${i}]`);
    if (err) return err;
  }
  const sys = pick(body, 'systemInstruction', 'system_instruction');
  if (sys !== undefined) {
    if (!isObj(sys)) {
      return `Invalid value at 'system_instruction' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), ${JSON.stringify(sys)}`;
    }
    const err = validateContent(sys, 'system_instruction', 'GenerateContentRequest.system_instruction');
    if (err) return err;
  }
  const gc = pick(body, 'generationConfig', 'generation_config');
  if (gc !== undefined) {
    if (!isObj(gc)) return `Invalid value at 'generation_config' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig), ${JSON.stringify(gc)}`;
    for (const k of Object.keys(gc)) {
      if (GEN_CONFIG.includes(k)) continue;
      const camel = GEN_CONFIG.find((c) => snakeOf(c) === k);
      if (!camel) return unknownName(k, 'generation_config');
      if (opts.strictCamelCase ?? true) {
        return `fake gemini (strictCamelCase): generationConfig field "${k}" is snake_case; send "${camel}" `
          + '(the real API accepts both spellings; the fake insists on the documented camelCase)';
      }
    }
    const max = pick(gc, 'maxOutputTokens', 'max_output_tokens');
    if (max !== undefined && !Number.isInteger(max)) return `Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), ${JSON.stringify(max)}`;
    const stops = pick(gc, 'stopSequences', 'stop_sequences');
    if (stops !== undefined && (!Array.isArray(stops) || stops.some((s) => typeof s !== 'string'))) {
      return `Invalid value at 'generation_config.stop_sequences' (TYPE_STRING), ${JSON.stringify(stops)}`;
    }
    const t = gc.temperature;
    if (t !== undefined && (typeof t !== 'number' || t < 0 || t > 2)) {
      return `* GenerationConfig.temperature: temperature must be in the range [0.0, 2.0]\n`;
    }
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return `Invalid value at 'tools' (type.googleapis.com/google.ai.generativelanguage.v1beta.Tool), ${JSON.stringify(body.tools)}`;
    for (let i = 0; i < body.tools.length; i++) {
      const tool = body.tools[i];
      if (!isObj(tool)) return `Invalid value at 'tools[${i}]' (type.googleapis.com/google.ai.generativelanguage.v1beta.Tool), ${JSON.stringify(tool)}`;
      for (const k of Object.keys(tool)) if (!TOOL_KEY_SET.has(k)) return unknownName(k, `tools[${i}]`);
      const decls = pick(tool, 'functionDeclarations', 'function_declarations') ?? [];
      if (!Array.isArray(decls)) return `Invalid value at 'tools[${i}].function_declarations', ${JSON.stringify(decls)}`;
      for (let j = 0; j < decls.length; j++) {
        const d = decls[j];
        if (!isObj(d) || typeof d.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(d.name)) {
          return `* GenerateContentRequest.tools[${i}].function_declarations[${j}].name: Invalid function name. `
            + 'Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, '
            + 'colons and dashes, with a maximum length of 64.\n';
        }
      }
    }
  }
  return null;
}

function partsOf(c) {
  return isObj(c) && Array.isArray(c.parts) ? c.parts.filter(isObj) : [];
}

function lastUserText(contents) {
  for (let i = contents.length - 1; i >= 0; i--) {
    const c = contents[i];
    if ((c.role ?? 'user') !== 'user') continue;
    const parts = partsOf(c);
    const texts = parts.filter((p) => typeof p.text === 'string');
    if (texts.length) return texts.map((p) => p.text).join('');
    const fr = parts.map((p) => pick(p, 'functionResponse', 'function_response')).filter(Boolean);
    if (fr.length) return fr.map((r) => `[functionResponse ${r.name}: ${JSON.stringify(r.response ?? {})}]`).join(' ');
    return '';
  }
  return '';
}

function countImages(contents) {
  let n = 0;
  for (const c of contents) {
    for (const p of partsOf(c)) {
      if (pick(p, 'inlineData', 'inline_data') || pick(p, 'fileData', 'file_data')) n++;
    }
  }
  return n;
}

function promptTokens(body) {
  let n = 0;
  const sys = pick(body, 'systemInstruction', 'system_instruction');
  for (const c of [...(isObj(sys) ? [sys] : []), ...(Array.isArray(body.contents) ? body.contents : [])]) {
    for (const p of partsOf(c)) n += typeof p.text === 'string' ? countTokens(p.text) : 4;
  }
  return Math.max(1, n);
}

function functionDeclarations(body) {
  const out = [];
  for (const t of Array.isArray(body.tools) ? body.tools : []) {
    const decls = isObj(t) ? pick(t, 'functionDeclarations', 'function_declarations') : null;
    if (Array.isArray(decls)) out.push(...decls.filter((d) => isObj(d) && d.name));
  }
  return out;
}

const SAFETY_RATINGS = (blockedCategory) => [
  'HARM_CATEGORY_SEXUALLY_EXPLICIT', 'HARM_CATEGORY_HATE_SPEECH', 'HARM_CATEGORY_HARASSMENT',
  'HARM_CATEGORY_DANGEROUS_CONTENT',
].map((category) => (category === blockedCategory
  ? { category, probability: 'HIGH', blocked: true }
  : { category, probability: 'NEGLIGIBLE' }));

function displayNameOf(id) {
  return id.split('-').map((w) => (/^[a-z]/.test(w) ? w[0].toUpperCase() + w.slice(1) : w)).join(' ');
}

/**
 * Starts the fake Gemini upstream. See the header comment for options and behaviour.
 */
export async function startFakeGemini(opts = {}) {
  const embeddingDims = opts.embeddingDims ?? 8;
  const eol = opts.sseEol ?? '\r\n';
  const JSON_CT = { 'content-type': 'application/json; charset=UTF-8' };

  let base;
  const send = (ctx, status, obj) => base.sendJson(ctx.res, status, obj, JSON_CT);
  const sendError = (ctx, code, message, status, details) => send(ctx, code, googleError(code, message, status, details));

  /** { model, rpc } of `/v1beta/models/{model}:{rpc}`, or { model } of `/v1beta/models/{model}`. */
  function parseRoute(path) {
    const m = /^\/v1beta\/models\/([^:]+)(?::([A-Za-z]+))?$/.exec(path);
    if (!m) return null;
    return { model: decodeURIComponent(m[1]), rpc: m[2] ?? null };
  }

  base = await startRecordingServer({
    name: 'gemini',
    host: opts.host,
    port: opts.port,
    basePath: '/v1beta',
    chunkDelayMs: opts.chunkDelayMs,
    models: opts.models ?? DEFAULT_MODELS,
    bugBody: (msg) => googleError(500, msg),
    errorBody(status, fault) {
      const body = googleError(status);
      if (fault.error) body.error = { ...body.error, ...fault.error };
      return { body, headers: JSON_CT };
    },
    modelOf: (ctx) => parseRoute(ctx.path)?.model,
    annotate(ctx) {
      const h = ctx.req.headers['x-goog-api-key'];
      const q = ctx.query.get('key');
      ctx.record.apiKey = h ?? q ?? null;
      ctx.record.keySource = h !== undefined ? 'header' : q !== null ? 'query' : null;
      const r = parseRoute(ctx.path);
      ctx.record.model = r?.model ?? null;
      ctx.record.rpc = r?.rpc ?? null;
      ctx.record.alt = ctx.query.get('alt');
    },
    authenticate(ctx) {
      if (opts.apiKey === undefined) return true;
      const key = ctx.record.apiKey;
      if (key === opts.apiKey) return true;
      if (key === null) {
        sendError(ctx, 403, "Method doesn't allow unregistered callers (callers without established identity). "
          + 'Please use API Key or other form of API consumer identity to call this API.');
      } else {
        const msg = 'API key not valid. Please pass a valid API key.';
        sendError(ctx, 400, msg, 'INVALID_ARGUMENT', [
          { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com',
            metadata: { service: 'generativelanguage.googleapis.com' } },
          { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: msg },
        ]);
      }
      return false;
    },
    route,
  });

  const modelId = (m) => (typeof m === 'string' ? m : (m.id ?? String(m.name).replace(/^models\//, '')));
  function modelObject(m) {
    const o = typeof m === 'string' ? { id: m } : { ...m };
    const id = modelId(o);
    const embed = /embedding/.test(id);
    const methods = o.supportedGenerationMethods
      ?? (embed ? ['embedContent', 'batchEmbedContents'] : ['generateContent', 'countTokens']);
    const out = {
      name: `models/${id}`,
      version: o.version ?? '001',
      displayName: o.displayName ?? displayNameOf(id),
      description: o.description ?? `${displayNameOf(id)} (fake gemini)`,
      inputTokenLimit: o.inputTokenLimit ?? (embed ? 2048 : 1048576),
      outputTokenLimit: o.outputTokenLimit ?? (embed ? 1 : 65536),
      supportedGenerationMethods: methods,
    };
    if (!embed) Object.assign(out, { temperature: 1, topP: 0.95, topK: 64, maxTemperature: 2, thinking: /2\.5/.test(id) });
    return out;
  }

  async function route(ctx) {
    const { req, path } = ctx;
    if (req.method === 'GET' && path === '/v1beta/models') return listModels(ctx);
    const r = parseRoute(path);
    if (req.method === 'GET' && r && !r.rpc) {
      const m = base.models.find((x) => modelId(x) === r.model);
      if (!m) return sendError(ctx, 404, `models/${r.model} is not found for API version v1beta.`);
      return send(ctx, 200, modelObject(m));
    }
    if (req.method !== 'POST' || !r || !r.rpc) {
      return sendError(ctx, 404, `Method not found: ${req.method} ${path}`);
    }
    if (ctx.parseError) {
      return sendError(ctx, 400, `Invalid JSON payload received. ${ctx.parseError.message}`);
    }
    const body = ctx.body ?? {};
    switch (r.rpc) {
      case 'generateContent':
      case 'streamGenerateContent': {
        const err = validateGenerateRequest(body, opts);
        if (err) return sendError(ctx, 400, err);
        return generate(ctx, r.model, r.rpc === 'streamGenerateContent');
      }
      case 'countTokens': {
        const inner = isObj(body.generateContentRequest) ? body.generateContentRequest : body;
        const err = validateGenerateRequest({ ...inner, model: undefined }, { ...opts, strictCamelCase: false });
        if (err) return sendError(ctx, 400, err.replace(/GenerateContentRequest/g, 'CountTokensRequest'));
        const n = promptTokens(inner);
        return send(ctx, 200, { totalTokens: n, promptTokensDetails: [{ modality: 'TEXT', tokenCount: n }] });
      }
      case 'embedContent':
        return embedOne(ctx, r.model, body);
      case 'batchEmbedContents':
        return embedBatch(ctx, r.model, body);
      default:
        return sendError(ctx, 404, `Method not found: ${r.rpc}`);
    }
  }

  function listModels(ctx) {
    const q = ctx.query;
    const all = base.models.map(modelObject);
    let pageSize = q.get('pageSize') ?? q.get('page_size');
    pageSize = pageSize === null ? 50 : Number(pageSize);
    if (!Number.isInteger(pageSize) || pageSize < 0) return sendError(ctx, 400, `Invalid value at 'page_size' (TYPE_INT32), "${q.get('pageSize')}"`);
    if (pageSize === 0) pageSize = 50;
    pageSize = Math.min(pageSize, 1000);
    let start = 0;
    const token = q.get('pageToken') ?? q.get('page_token');
    if (token) {
      const m = /^off:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
      if (!m || Number(m[1]) > all.length) return sendError(ctx, 400, 'Invalid page token.');
      start = Number(m[1]);
    }
    const models = all.slice(start, start + pageSize);
    const out = { models };
    if (start + pageSize < all.length) out.nextPageToken = Buffer.from(`off:${start + pageSize}`).toString('base64url');
    send(ctx, 200, out);
  }

  function embedValues(ctx, model, req, at) {
    if (!isObj(req)) return { error: `Invalid value at '${at}' (type.googleapis.com/google.ai.generativelanguage.v1beta.EmbedContentRequest)` };
    const content = req.content;
    const err = validateContent(content, `${at ? `${at}.` : ''}content`, `${at ? `BatchEmbedContentsRequest.${at}` : 'EmbedContentRequest'}.content`);
    if (err) return { error: err };
    const dims = pick(req, 'outputDimensionality', 'output_dimensionality');
    if (dims !== undefined && (!Number.isInteger(dims) || dims < 1)) {
      return { error: `* ${at ? `BatchEmbedContentsRequest.${at}` : 'EmbedContentRequest'}.output_dimensionality: must be positive.\n` };
    }
    const text = partsOf(content).map((p) => (typeof p.text === 'string' ? p.text : '')).join('');
    return { values: embedText(text, dims ?? embeddingDims) };
  }

  function embedOne(ctx, model, body) {
    const r = embedValues(ctx, model, body, '');
    if (r.error) return sendError(ctx, 400, r.error);
    const obj = { embedding: { values: r.values } };
    if (ctx.fault?.type === 'drop') return base.dropJson(ctx, obj, JSON_CT);
    send(ctx, 200, obj);
  }

  function embedBatch(ctx, model, body) {
    if (!Array.isArray(body.requests) || body.requests.length === 0) {
      return sendError(ctx, 400, '* BatchEmbedContentsRequest.requests: requests must not be empty.\n');
    }
    const embeddings = [];
    for (let i = 0; i < body.requests.length; i++) {
      const req = body.requests[i];
      const at = `requests[${i}]`;
      if (isObj(req) && req.model === undefined) return sendError(ctx, 400, `* BatchEmbedContentsRequest.${at}.model: Field is required.\n`);
      if (isObj(req) && req.model !== `models/${model}`) {
        return sendError(ctx, 400, `* BatchEmbedContentsRequest.${at}.model: Model "${req.model}" does not match the model in the request URL "models/${model}".\n`);
      }
      const r = embedValues(ctx, model, req, at);
      if (r.error) return sendError(ctx, 400, r.error);
      embeddings.push({ values: r.values });
    }
    const obj = { embeddings };
    if (ctx.fault?.type === 'drop') return base.dropJson(ctx, obj, JSON_CT);
    send(ctx, 200, obj);
  }

  /** What to answer: { parts, finishReason, usage, candidate extras, promptFeedback, blocked }. */
  function plan(ctx, model) {
    const body = ctx.body;
    const contents = body.contents;
    const p = promptTokens(body);
    const scripted = base.takeReply(ctx);
    if (scripted) {
      const parts = typeof scripted.parts === 'string' ? [{ text: scripted.parts }] : (scripted.parts ?? []);
      if (scripted.promptFeedback && !parts.length) {
        return { blocked: true, promptFeedback: scripted.promptFeedback, prompt: p, usage: scripted.usageMetadata };
      }
      return { parts, finishReason: scripted.finishReason ?? 'STOP', prompt: p, usage: scripted.usageMetadata,
        promptFeedback: scripted.promptFeedback };
    }
    const images = countImages(contents);
    const text = `echo: ${lastUserText(contents)}${images ? ` [images: ${images}]` : ''}`;
    let m;
    if ((m = /(?:^|[/:])tool-([A-Za-z0-9_.-]+)$/.exec(model))) {
      const decls = functionDeclarations(body);
      const d = decls.find((x) => x.name === m[1]) ?? decls[0] ?? { name: m[1] };
      const schema = d.parameters ?? d.parametersJsonSchema ?? d.parameters_json_schema ?? { type: 'object' };
      return { parts: [{ functionCall: { name: d.name, args: sampleFromSchema(schema) } }], finishReason: 'STOP', prompt: p };
    }
    if (/(?:^|[/:])max-tokens$/.test(model)) {
      const gc = pick(body, 'generationConfig', 'generation_config') ?? {};
      const max = pick(gc, 'maxOutputTokens', 'max_output_tokens') ?? 3;
      const cut = splitPieces(`${text} and then some more words until the budget runs out`).slice(0, max).join('');
      return { parts: [{ text: cut }], finishReason: 'MAX_TOKENS', prompt: p, candidates: max };
    }
    if (/(?:^|[/:])safety$/.test(model)) {
      return { parts: [], finishReason: 'SAFETY', prompt: p, safetyRatings: SAFETY_RATINGS('HARM_CATEGORY_DANGEROUS_CONTENT') };
    }
    if (/(?:^|[/:])blocked$/.test(model)) {
      return { blocked: true, prompt: p,
        promptFeedback: { blockReason: 'SAFETY', safetyRatings: SAFETY_RATINGS('HARM_CATEGORY_HARASSMENT') } };
    }
    return { parts: [{ text }], finishReason: 'STOP', prompt: p };
  }

  function partTokens(parts) {
    return parts.reduce((n, part) => n + (typeof part.text === 'string' ? splitPieces(part.text).length
      : countTokens(JSON.stringify(part))), 0);
  }

  function usageOf(pl, candidates) {
    const u = {
      promptTokenCount: pl.prompt,
      candidatesTokenCount: candidates,
      totalTokenCount: pl.prompt + candidates,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: pl.prompt }],
      ...(pl.usage ?? {}),
    };
    if (!candidates && !pl.usage?.candidatesTokenCount) delete u.candidatesTokenCount;
    return u;
  }

  function generate(ctx, model, stream) {
    const pl = plan(ctx, model);
    const responseId = randomBytes(17).toString('base64url').slice(0, 23);
    const envelope = (extra) => ({ ...extra, modelVersion: model, responseId });
    const candidate = (parts, finishReason) => {
      const c = {};
      if (parts && parts.length) c.content = { parts, role: 'model' };
      if (finishReason) c.finishReason = finishReason;
      if (finishReason && pl.safetyRatings) c.safetyRatings = pl.safetyRatings;
      c.index = 0;
      return c;
    };
    const outTokens = pl.candidates ?? (pl.blocked ? 0 : partTokens(pl.parts));

    if (!stream) {
      const obj = pl.blocked
        ? envelope({ promptFeedback: pl.promptFeedback, usageMetadata: usageOf(pl, 0) })
        : envelope({
          candidates: [candidate(pl.parts, pl.finishReason)],
          ...(pl.promptFeedback ? { promptFeedback: pl.promptFeedback } : {}),
          usageMetadata: usageOf(pl, outTokens),
        });
      if (ctx.fault?.type === 'drop') return base.dropJson(ctx, obj, JSON_CT);
      return send(ctx, 200, obj);
    }

    const sse = ctx.query.get('alt') === 'sse';
    const partial = { promptTokenCount: pl.prompt, totalTokenCount: pl.prompt,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: pl.prompt }] };
    const events = [];
    let fillers = 0;
    if (pl.blocked) {
      events.push(envelope({ promptFeedback: pl.promptFeedback, usageMetadata: usageOf(pl, 0) }));
    } else {
      const items = [];
      for (const part of pl.parts) {
        if (typeof part.text === 'string') for (const piece of splitPieces(part.text)) items.push({ ...part, text: piece });
        else items.push(part);
      }
      if (!items.length) items.push(null);
      items.forEach((item, i) => {
        const last = i === items.length - 1;
        if (!last) {
          events.push(envelope({ candidates: [candidate([item], null)], usageMetadata: partial }));
        } else {
          events.push(() => envelope({ candidates: [candidate(item ? [item] : [], pl.finishReason)],
            usageMetadata: usageOf(pl, outTokens + fillers) }));
        }
      });
    }
    let n = 0;
    const frame = sse
      ? (obj) => `data: ${JSON.stringify(obj)}${eol}${eol}`
      : (obj) => `${n++ === 0 ? '[' : `,${eol}`}${JSON.stringify(obj)}`;
    return base.streamEvents(ctx, events, frame, {
      fault: ctx.fault,
      headers: sse ? {} : JSON_CT,
      trailer: sse ? null : ']',
      fillerAfter: 1,
      makeFiller: (i) => {
        fillers++;
        return envelope({ candidates: [candidate([{ text: ` tick${i}` }], null)], usageMetadata: partial });
      },
      errorAfter: 1,
      errorEvent: googleError(503),
    });
  }

  return base;
}

await runCliIfMain(import.meta.url, startFakeGemini,
  'usage: node gemini.mjs [--port N] [--host H] [--models a,b] [--api-key KEY] [--chunk-delay-ms MS]');
