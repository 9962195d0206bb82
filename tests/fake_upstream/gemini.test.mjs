// Self-test of the fake Gemini upstream (no gateway needed): node --test tests/fake_upstream/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFakeGemini, validateGenerateRequest } from './gemini.mjs';
import { startFakeUpstream } from './server.mjs';
import { parseSse } from './common.mjs';
import { request, postJson, streamAll, openStream } from '../integration/lib/http.mjs';

const KEY = 'AIza-fake-key';
const HDRS = { 'x-goog-api-key': KEY };
let up;
before(async () => {
  up = await startFakeGemini({ apiKey: KEY });
});
after(async () => {
  await up.close();
});

const genBody = (extra = {}) => ({
  systemInstruction: { parts: [{ text: 'be brief' }] },
  contents: [{ role: 'user', parts: [{ text: 'hello there' }] }],
  generationConfig: { temperature: 0.2, maxOutputTokens: 64 },
  ...extra,
});
const gen = (model, body, headers = HDRS, opts = {}) => postJson(`${up.url}/models/${model}:generateContent`, body, { headers, ...opts });
const sse = (model, body, headers = HDRS) => streamAll(`${up.url}/models/${model}:streamGenerateContent?alt=sse`, body, { headers });
const WEATHER = {
  name: 'get_weather',
  description: 'weather',
  parameters: {
    type: 'OBJECT',
    properties: { location: { type: 'STRING' }, unit: { type: 'STRING', enum: ['celsius', 'fahrenheit'] } },
    required: ['location'],
  },
};

test('url ends in /v1beta; generateContent default answer in Gemini shape', async () => {
  assert.match(up.url, /^http:\/\/127\.0\.0\.1:\d+\/v1beta$/);
  up.reset();
  const r = await gen('gemini-2.0-flash', genBody());
  assert.equal(r.status, 200, r.body);
  assert.match(r.headers['content-type'], /^application\/json; charset=UTF-8$/);
  const g = r.json;
  assert.deepEqual(Object.keys(g).sort(), ['candidates', 'modelVersion', 'responseId', 'usageMetadata']);
  assert.equal(g.candidates.length, 1);
  const c = g.candidates[0];
  assert.deepEqual(c.content, { parts: [{ text: 'echo: hello there' }], role: 'model' });
  assert.equal(c.finishReason, 'STOP');
  assert.equal(c.index, 0);
  const u = g.usageMetadata;
  assert.ok(u.promptTokenCount > 0 && u.candidatesTokenCount > 0);
  assert.equal(u.totalTokenCount, u.promptTokenCount + u.candidatesTokenCount);
  assert.equal(g.modelVersion, 'gemini-2.0-flash');
  assert.match(g.responseId, /^[A-Za-z0-9_-]{10,}$/);

  const rec = up.lastRequest();
  assert.equal(rec.method, 'POST');
  assert.equal(rec.path, '/v1beta/models/gemini-2.0-flash:generateContent');
  assert.equal(rec.model, 'gemini-2.0-flash');
  assert.equal(rec.rpc, 'generateContent');
  assert.equal(rec.keySource, 'header');
  assert.equal(rec.apiKey, KEY);
  assert.deepEqual(rec.body, genBody());
  assert.equal(rec.responseBody, r.body);
});

test('images (inlineData, inline_data, fileData) are counted; function responses are echoed', async () => {
  const r = await gen('gemini-2.0-flash', genBody({
    contents: [{ role: 'user', parts: [
      { text: 'what is ' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { text: 'this' }, { inline_data: { mime_type: 'image/jpeg', data: '/9j/' } },
      { fileData: { mimeType: 'image/png', fileUri: 'https://example.com/a.png' } },
    ] }],
  }));
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.candidates[0].content.parts[0].text, 'echo: what is this [images: 3]');
  const fr = await gen('gemini-2.0-flash', genBody({
    tools: [{ functionDeclarations: [WEATHER] }],
    contents: [
      { role: 'user', parts: [{ text: 'weather?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { location: 'Paris' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] },
    ],
  }));
  assert.equal(fr.status, 200, fr.body);
  assert.equal(fr.json.candidates[0].content.parts[0].text, 'echo: [functionResponse get_weather: {"temp":21}]');
});

test('auth: header or ?key= (recorded); missing 403 PERMISSION_DENIED; wrong 400 API_KEY_INVALID', async () => {
  const q = await postJson(`${up.url}/models/gemini-2.0-flash:generateContent?key=${KEY}`, genBody());
  assert.equal(q.status, 200);
  assert.equal(up.lastRequest().keySource, 'query');
  const none = await gen('gemini-2.0-flash', genBody(), {});
  assert.equal(none.status, 403);
  assert.equal(none.json.error.code, 403);
  assert.equal(none.json.error.status, 'PERMISSION_DENIED');
  assert.match(none.json.error.message, /unregistered callers/);
  const wrong = await gen('gemini-2.0-flash', genBody(), { 'x-goog-api-key': 'bad' });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.json.error.status, 'INVALID_ARGUMENT');
  assert.equal(wrong.json.error.message, 'API key not valid. Please pass a valid API key.');
  const info = wrong.json.error.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo');
  assert.equal(info.reason, 'API_KEY_INVALID');
  assert.equal(info.domain, 'googleapis.com');
  const bearer = await gen('gemini-2.0-flash', genBody(), { authorization: `Bearer ${KEY}` });
  assert.equal(bearer.status, 403);
  const models = await request(`${up.url}/models?key=wrong`);
  assert.equal(models.status, 400);
  assert.equal(up.lastRequest().keySource, 'query');
});

test('validation answers 400 INVALID_ARGUMENT', async () => {
  const cases = [
    [{ contents: [] }, /contents is not specified/],
    [{}, /contents is not specified/],
    [{ messages: [{ role: 'user', content: 'x' }] }, /^Invalid JSON payload received\. Unknown name "messages": Cannot find field\.$/],
    [{ contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }, /^Please use a valid role: user, model\.$/],
    [{ contents: [{ role: 'system', parts: [{ text: 'x' }] }] }, /valid role: user, model/],
    [{ contents: [{ role: 'user', parts: [] }] }, /contents\[0\]\.parts: contents\.parts must not be empty/],
    [{ contents: [{ role: 'user' }] }, /parts must not be empty/],
    [{ contents: [{ role: 'user', parts: [{ type: 'text', text: 'x' }] }] }, /Unknown name "type" at 'contents\[0\]\.parts\[0\]'/],
    [{ contents: [{ role: 'user', parts: [{}] }] }, /required oneof field 'data'/],
    [{ contents: [{ role: 'user', parts: [{ text: 'a', inlineData: { mimeType: 'image/png', data: 'x' } }] }] }, /oneof field 'data' is already set/],
    [{ contents: [{ role: 'user', parts: [{ functionResponse: { response: { a: 1 } } }] }] }, /function_response\.name: Name cannot be empty/],
    [{ contents: [{ role: 'user', parts: [{ functionResponse: { name: 'f', response: '{"a":1}' } }] }] }, /function_response\.response' \(type\.googleapis\.com\/google\.protobuf\.Struct\)/],
    [{ contents: [{ role: 'model', parts: [{ functionCall: { name: 'f', args: '{}' } }] }] }, /function_call\.args/],
    [{ contents: [{ role: 'user', parts: [{ inlineData: { data: 'x' } }] }] }, /inline_data must have mime_type and data/],
    [genBody({ systemInstruction: 'be brief' }), /^Invalid value at 'system_instruction'/],
    [genBody({ systemInstruction: { parts: [] } }), /system_instruction\.parts: contents\.parts must not be empty/],
    [genBody({ generationConfig: { maxTokens: 5 } }), /^Invalid JSON payload received\. Unknown name "maxTokens" at 'generation_config': Cannot find field\.$/],
    [genBody({ generationConfig: { max_tokens: 5 } }), /Unknown name "max_tokens" at 'generation_config'/],
    [genBody({ generationConfig: { max_output_tokens: 5 } }), /snake_case; send "maxOutputTokens"/],
    [genBody({ generationConfig: { temperature: 3 } }), /temperature must be in the range/],
    [genBody({ tools: [{ type: 'function', function: { name: 'f' } }] }), /Unknown name "type" at 'tools\[0\]'/],
    [genBody({ tools: [{ functionDeclarations: [{ name: 'bad name' }] }] }), /Invalid function name/],
  ];
  for (const [body, re] of cases) {
    const r = await gen('gemini-2.0-flash', body);
    assert.equal(r.status, 400, `expected 400 for ${JSON.stringify(body)}; got ${r.body}`);
    assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'status']);
    assert.equal(r.json.error.code, 400);
    assert.equal(r.json.error.status, 'INVALID_ARGUMENT');
    assert.match(r.json.error.message, re, JSON.stringify(body));
  }
  const bad = await postJson(`${up.url}/models/gemini-2.0-flash:generateContent`, '{"contents": [', { headers: HDRS });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /^Invalid JSON payload received/);
  // What the real API accepts passes: role omitted, snake_case part / top-level names, thought parts.
  assert.equal(validateGenerateRequest({
    contents: [{ parts: [{ text: 'a' }] }, { role: 'model', parts: [{ text: 'b', thoughtSignature: 'sig' }] },
      { role: 'user', parts: [{ inline_data: { mime_type: 'image/png', data: 'x' } }] }],
    system_instruction: { parts: [{ text: 's' }] },
    generation_config: { max_output_tokens: 5, stop_sequences: ['x'] },
    tool_config: { function_calling_config: { mode: 'AUTO' } },
    safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }],
  }, { strictCamelCase: false }), null);
});

test('streamGenerateContent?alt=sse: CRLF-framed data events, text split, last carries finishReason and usage', async () => {
  const s = await sse('gemini-2.5-pro', genBody({ contents: [{ role: 'user', parts: [{ text: 'one two three' }] }] }));
  assert.equal(s.status, 200);
  assert.equal(s.complete, true);
  assert.match(s.headers['content-type'], /^text\/event-stream/);
  assert.match(s.text, /^data: \{/);
  const frames = s.text.split('\r\n\r\n');
  assert.equal(frames.at(-1), '', 'every event ends with \\r\\n\\r\\n');
  for (const f of frames.slice(0, -1)) {
    assert.match(f, /^data: \{.*\}$/);
    assert.ok(!f.includes('\n'));
  }
  assert.ok(!s.text.includes('[DONE]'));
  const evs = parseSse(s.text).map((e) => e.json);
  assert.equal(evs.length, 4);
  assert.equal(evs.map((e) => e.candidates[0].content.parts[0].text).join(''), 'echo: one two three');
  for (const e of evs) {
    assert.equal(e.candidates[0].content.role, 'model');
    assert.equal(e.modelVersion, 'gemini-2.5-pro');
    assert.equal(e.responseId, evs[0].responseId);
    assert.ok(e.usageMetadata.promptTokenCount > 0);
  }
  for (const e of evs.slice(0, -1)) {
    assert.equal(e.candidates[0].finishReason, undefined);
    assert.equal(e.usageMetadata.candidatesTokenCount, undefined);
  }
  const last = evs.at(-1);
  assert.equal(last.candidates[0].finishReason, 'STOP');
  assert.equal(last.usageMetadata.candidatesTokenCount, 4);
  assert.equal(last.usageMetadata.totalTokenCount, last.usageMetadata.promptTokenCount + 4);

  const lf = await startFakeGemini({ sseEol: '\n' });
  try {
    const l = await streamAll(`${lf.url}/models/m:streamGenerateContent?alt=sse`, genBody());
    assert.ok(!l.text.includes('\r'));
    assert.ok(l.text.endsWith('}\n\n'));
  } finally {
    await lf.close();
  }
});

test('streamGenerateContent without alt=sse streams a JSON array', async () => {
  const r = await streamAll(`${up.url}/models/gemini-2.0-flash:streamGenerateContent`, genBody(), { headers: HDRS });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  const arr = JSON.parse(r.text);
  assert.ok(Array.isArray(arr) && arr.length === 3);
  assert.equal(arr.map((e) => e.candidates[0].content.parts[0].text).join(''), 'echo: hello there');
  assert.equal(arr.at(-1).candidates[0].finishReason, 'STOP');
});

test('scripted replies: text + functionCall parts, finishReason, usage; consumed once', async () => {
  up.reset();
  up.nextReply({ parts: [{ text: 'Calling.' }, { functionCall: { name: 'get_weather', args: { location: 'Paris' } } }],
    usageMetadata: { candidatesTokenCount: 11 } });
  const r = await gen('gemini-2.0-flash', genBody({ tools: [{ functionDeclarations: [WEATHER] }] }));
  const c = r.json.candidates[0];
  assert.deepEqual(c.content.parts, [{ text: 'Calling.' }, { functionCall: { name: 'get_weather', args: { location: 'Paris' } } }]);
  assert.equal(c.finishReason, 'STOP');
  assert.equal(r.json.usageMetadata.candidatesTokenCount, 11);
  assert.equal(up.lastRequest().reply.parts[1].functionCall.name, 'get_weather');

  up.nextReply({ parts: [{ text: 'a b' }, { functionCall: { name: 'f', args: { x: 1 } } }], finishReason: 'STOP' });
  const s = await sse('gemini-2.0-flash', genBody());
  const evs = parseSse(s.text).map((e) => e.json);
  assert.deepEqual(evs.map((e) => e.candidates[0].content.parts), [[{ text: 'a' }], [{ text: ' b' }],
    [{ functionCall: { name: 'f', args: { x: 1 } } }]]);
  assert.equal(evs.at(-1).candidates[0].finishReason, 'STOP');

  up.nextReply({ promptFeedback: { blockReason: 'OTHER' } });
  const b = await gen('gemini-2.0-flash', genBody());
  assert.equal(b.json.candidates, undefined);
  assert.equal(b.json.promptFeedback.blockReason, 'OTHER');

  const plain = await gen('gemini-2.0-flash', genBody());
  assert.equal(plain.json.candidates[0].content.parts[0].text, 'echo: hello there');
});

test('model conventions: tool-<name>, max-tokens, safety, blocked', async () => {
  const tools = [{ functionDeclarations: [{ name: 'noop' }, WEATHER] }];
  const t = await gen('tool-get_weather', genBody({ tools }));
  assert.deepEqual(t.json.candidates[0].content.parts,
    [{ functionCall: { name: 'get_weather', args: { location: 'sample location', unit: 'celsius' } } }]);
  assert.equal(t.json.candidates[0].finishReason, 'STOP');
  const first = await gen('tool-any', genBody({ tools }));
  assert.deepEqual(first.json.candidates[0].content.parts[0].functionCall, { name: 'noop', args: {} });
  const ts = await sse('tool-get_weather', genBody({ tools }));
  const tevs = parseSse(ts.text).map((e) => e.json);
  assert.equal(tevs.length, 1, 'a function call comes whole, in one event');
  assert.equal(tevs[0].candidates[0].content.parts[0].functionCall.args.location, 'sample location');

  const m = await gen('max-tokens', genBody({ generationConfig: { maxOutputTokens: 2 } }));
  assert.equal(m.json.candidates[0].finishReason, 'MAX_TOKENS');
  assert.equal(m.json.candidates[0].content.parts[0].text, 'echo: hello');
  assert.equal(m.json.usageMetadata.candidatesTokenCount, 2);

  const s = await gen('safety', genBody());
  const sc = s.json.candidates[0];
  assert.equal(sc.finishReason, 'SAFETY');
  assert.equal(sc.content, undefined);
  assert.ok(sc.safetyRatings.some((x) => x.blocked === true && x.probability === 'HIGH'));

  const b = await gen('blocked', genBody());
  assert.equal(b.status, 200);
  assert.equal(b.json.candidates, undefined);
  assert.equal(b.json.promptFeedback.blockReason, 'SAFETY');
  assert.ok(b.json.usageMetadata.promptTokenCount > 0);
  const bs = await sse('blocked', genBody());
  const bevs = parseSse(bs.text).map((e) => e.json);
  assert.equal(bevs.length, 1);
  assert.equal(bevs[0].promptFeedback.blockReason, 'SAFETY');
});

test('status faults answer Google error shapes', async () => {
  const expect = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
    429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' };
  for (const [code, status] of Object.entries(expect)) {
    const r = await gen('gemini-2.0-flash', genBody(), { ...HDRS, 'x-fake-fault': code });
    assert.equal(r.status, Number(code));
    assert.equal(r.json.error.code, Number(code));
    assert.equal(r.json.error.status, status);
    assert.equal(typeof r.json.error.message, 'string');
  }
  const rl = await gen('fault-429', genBody());
  assert.equal(rl.status, 429);
  assert.equal(rl.headers['retry-after'], undefined);
  const retry = rl.json.error.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.RetryInfo');
  assert.equal(retry.retryDelay, '1s');
  const ov = await sse('fault-503', genBody());
  assert.equal(ov.status, 503, 'an error before the stream is plain JSON');
  assert.equal(ov.json?.error?.message ?? JSON.parse(ov.text).error.message, 'The model is overloaded. Please try again later.');
  up.nextFault({ type: 'status', status: 429, error: { message: 'quota' } });
  const list = await request(`${up.url}/models`, { headers: HDRS });
  assert.equal(list.status, 200, 'GET does not consume a queued fault');
  const q = await gen('gemini-2.0-flash', genBody());
  assert.equal(q.status, 429);
  assert.equal(q.json.error.message, 'quota');
});

test('stream faults: drop-N, stream-error mid-stream, slow-stream', async () => {
  const s = await openStream(`${up.url}/models/fault-drop-1:streamGenerateContent?alt=sse`, { headers: HDRS, body: genBody() });
  const d = await s.done;
  assert.equal(d.complete, false);
  assert.equal(parseSse(d.text).length, 1);

  const e = await sse('fault-stream-error', genBody());
  assert.equal(e.status, 200);
  const evs = parseSse(e.text).map((x) => x.json);
  assert.equal(evs.length, 2);
  assert.equal(evs[0].candidates[0].content.parts[0].text, 'echo:');
  assert.deepEqual(evs[1], { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } });
  assert.ok(e.text.endsWith('"status":"UNAVAILABLE"}}\r\n\r\n'));

  const ss = await sse('fault-slow-stream-10-2', genBody());
  const sevs = parseSse(ss.text).map((x) => x.json);
  assert.equal(sevs.map((x) => x.candidates[0].content.parts[0].text).join(''), 'echo: tick0 tick1 hello there');
  assert.equal(sevs.at(-1).usageMetadata.candidatesTokenCount, 5);
});

test('hang, slow-headers, garbage, nonjson, drop on a plain request', async () => {
  await assert.rejects(gen('fault-hang', genBody(), HDRS, { timeoutMs: 300 }), /timed out/);
  const t0 = Date.now();
  const slow = await gen('fault-slow-headers-200', genBody());
  assert.equal(slow.status, 200);
  assert.ok(Date.now() - t0 >= 180);
  up.nextFault('garbage');
  await assert.rejects(gen('gemini-2.0-flash', genBody()), /parse|HPE|socket hang up/i);
  const nj = await gen('gemini-2.0-flash', genBody(), { ...HDRS, 'x-fake-fault': 'nonjson' });
  assert.equal(nj.status, 200);
  assert.equal(nj.json, undefined);
  await assert.rejects(gen('fault-drop', genBody()), /aborted|socket hang up|ECONNRESET/i);
});

test('embedContent and batchEmbedContents: deterministic vectors, outputDimensionality, same as server.mjs', async () => {
  const one = await postJson(`${up.url}/models/text-embedding-004:embedContent`,
    { content: { parts: [{ text: 'hello' }] } }, { headers: HDRS });
  assert.equal(one.status, 200, one.body);
  assert.deepEqual(Object.keys(one.json), ['embedding']);
  assert.equal(one.json.embedding.values.length, 8);
  const batch = await postJson(`${up.url}/models/text-embedding-004:batchEmbedContents`, {
    requests: [
      { model: 'models/text-embedding-004', content: { parts: [{ text: 'hello' }] } },
      { model: 'models/text-embedding-004', content: { parts: [{ text: 'world' }] }, outputDimensionality: 3 },
    ],
  }, { headers: HDRS });
  assert.equal(batch.status, 200, batch.body);
  assert.equal(batch.json.embeddings.length, 2);
  assert.deepEqual(batch.json.embeddings[0].values, one.json.embedding.values);
  assert.equal(batch.json.embeddings[1].values.length, 3);
  assert.notDeepEqual(batch.json.embeddings[1].values, one.json.embedding.values.slice(0, 3));
  const oa = await startFakeUpstream();
  try {
    const o = await postJson(`${oa.url}/embeddings`, { model: 'text-embedding-3-small', input: 'hello' });
    assert.deepEqual(o.json.data[0].embedding, one.json.embedding.values);
  } finally {
    await oa.close();
  }
  const mismatch = await postJson(`${up.url}/models/text-embedding-004:batchEmbedContents`,
    { requests: [{ model: 'models/other', content: { parts: [{ text: 'x' }] } }] }, { headers: HDRS });
  assert.equal(mismatch.status, 400);
  const noModel = await postJson(`${up.url}/models/text-embedding-004:batchEmbedContents`,
    { requests: [{ content: { parts: [{ text: 'x' }] } }] }, { headers: HDRS });
  assert.equal(noModel.status, 400);
  assert.match(noModel.json.error.message, /requests\[0\]\.model/);
  const empty = await postJson(`${up.url}/models/text-embedding-004:embedContent`, { content: { parts: [] } }, { headers: HDRS });
  assert.equal(empty.status, 400);
  assert.equal(empty.json.error.status, 'INVALID_ARGUMENT');
});

test('models.list with pageSize/pageToken; models.get; countTokens', async () => {
  const r = await request(`${up.url}/models`, { headers: HDRS });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json), ['models']);
  assert.deepEqual(r.json.models.map((m) => m.name), ['models/gemini-2.0-flash', 'models/gemini-2.5-pro', 'models/text-embedding-004']);
  const flash = r.json.models[0];
  assert.equal(flash.displayName, 'Gemini 2.0 Flash');
  assert.deepEqual(flash.supportedGenerationMethods, ['generateContent', 'countTokens']);
  assert.ok(flash.inputTokenLimit > 0 && flash.outputTokenLimit > 0);
  assert.deepEqual(r.json.models[2].supportedGenerationMethods, ['embedContent', 'batchEmbedContents']);
  const p1 = await request(`${up.url}/models?pageSize=2`, { headers: HDRS });
  assert.equal(p1.json.models.length, 2);
  assert.equal(typeof p1.json.nextPageToken, 'string');
  const p2 = await request(`${up.url}/models?pageSize=2&pageToken=${p1.json.nextPageToken}`, { headers: HDRS });
  assert.deepEqual(p2.json.models.map((m) => m.name), ['models/text-embedding-004']);
  assert.equal(p2.json.nextPageToken, undefined);
  const badTok = await request(`${up.url}/models?pageToken=zzz`, { headers: HDRS });
  assert.equal(badTok.status, 400);
  const one = await request(`${up.url}/models/gemini-2.5-pro`, { headers: HDRS });
  assert.equal(one.json.name, 'models/gemini-2.5-pro');
  const missing = await request(`${up.url}/models/nope`, { headers: HDRS });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.status, 'NOT_FOUND');
  const ct = await postJson(`${up.url}/models/gemini-2.0-flash:countTokens`, { contents: [{ parts: [{ text: 'a b c' }] }] }, { headers: HDRS });
  assert.equal(ct.status, 200);
  assert.equal(ct.json.totalTokens, 3);
  const custom = await startFakeGemini({ models: ['g1', { id: 'emb-embedding-1' }] });
  try {
    const c = await request(`${custom.url}/models`);
    assert.deepEqual(c.json.models.map((m) => [m.name, m.supportedGenerationMethods[0]]),
      [['models/g1', 'generateContent'], ['models/emb-embedding-1', 'embedContent']]);
  } finally {
    await custom.close();
  }
});

test('CLI mode prints its port and serves control endpoints', async () => {
  const file = fileURLToPath(new URL('./gemini.mjs', import.meta.url));
  const child = spawn(process.execPath, [file, '--port', '0', '--models', 'g1,g2', '--api-key', 'k'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let buf = '';
      const t = setTimeout(() => reject(new Error('CLI did not print its port')), 5000);
      child.stdout.on('data', (c) => {
        buf += c;
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(t);
          resolve(buf.slice(0, nl));
        }
      });
    });
    const { port, url } = JSON.parse(line);
    assert.equal(url, `http://127.0.0.1:${port}/v1beta`);
    const m = await request(`${url}/models?key=k`);
    assert.deepEqual(m.json.models.map((x) => x.name), ['models/g1', 'models/g2']);
    assert.equal((await postJson(`http://127.0.0.1:${port}/__control/next`, { fault: '503' })).status, 200);
    assert.equal((await postJson(`${url}/models/g1:generateContent?key=k`, genBody())).status, 503);
    assert.equal((await postJson(`http://127.0.0.1:${port}/__control/reply`, { reply: { parts: 'scripted' } })).status, 200);
    const r = await postJson(`${url}/models/g1:generateContent?key=k`, genBody());
    assert.equal(r.json.candidates[0].content.parts[0].text, 'scripted');
    const st = await request(`http://127.0.0.1:${port}/__control/stats`);
    assert.equal(st.json.requests.length, 3);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        r();
      }, 3000);
      child.once('exit', () => {
        clearTimeout(t);
        r();
      });
    });
  }
});
