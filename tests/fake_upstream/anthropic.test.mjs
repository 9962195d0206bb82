// Self-test of the fake Anthropic upstream (no gateway needed): node --test tests/fake_upstream/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFakeAnthropic, validateMessagesRequest } from './anthropic.mjs';
import { parseFault, parseSse } from './common.mjs';
import { request, postJson, streamAll, openStream } from '../integration/lib/http.mjs';

const KEY = 'sk-ant-test';
const HDRS = { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' };
let up;
before(async () => {
  up = await startFakeAnthropic({ apiKey: KEY });
});
after(async () => {
  await up.close();
});

const msgBody = (extra = {}) => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 256,
  system: 'be brief',
  messages: [{ role: 'user', content: 'hello there' }],
  ...extra,
});
const post = (body, headers = HDRS, path = '/v1/messages', opts = {}) => postJson(`${up.url}${path}`, body, { headers, ...opts });
const stream = (body, headers = HDRS) => streamAll(`${up.url}/v1/messages`, body, { headers });
const IMG = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };
const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'weather',
  input_schema: {
    type: 'object',
    properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer' } },
    required: ['location'],
  },
};

test('url has no /v1; default answer is an Anthropic message echoing the last user text', async () => {
  assert.match(up.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  up.reset();
  const r = await post(msgBody());
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.match(r.headers['request-id'], /^req_/);
  const m = r.json;
  assert.match(m.id, /^msg_01[0-9A-Za-z]+$/);
  assert.deepEqual(Object.keys(m).sort(),
    ['content', 'id', 'model', 'role', 'stop_reason', 'stop_sequence', 'type', 'usage']);
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.equal(m.model, 'claude-sonnet-4-5');
  assert.deepEqual(m.content, [{ type: 'text', text: 'echo: hello there' }]);
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.stop_sequence, null);
  assert.deepEqual(Object.keys(m.usage).sort(),
    ['cache_creation_input_tokens', 'cache_read_input_tokens', 'input_tokens', 'output_tokens']);
  assert.equal(m.usage.cache_creation_input_tokens, 0);
  assert.equal(m.usage.cache_read_input_tokens, 0);
  assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);

  const rec = up.lastRequest();
  assert.equal(rec.method, 'POST');
  assert.equal(rec.path, '/v1/messages');
  assert.equal(rec.apiKey, KEY);
  assert.equal(rec.anthropicVersion, '2023-06-01');
  assert.equal(rec.headers['x-api-key'], KEY);
  assert.deepEqual(rec.body, msgBody());
  assert.equal(rec.responseBody, r.body);
  assert.equal(rec.status, 200);
});

test('images are counted (tool results included); content block text is concatenated', async () => {
  const r = await post(msgBody({
    messages: [{ role: 'user', content: [{ type: 'text', text: 'what ' }, IMG, { type: 'text', text: 'is this' }, IMG] }],
  }));
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.content[0].text, 'echo: what is this [images: 2]');
});

test('a user turn of tool results echoes the results', async () => {
  const r = await post(msgBody({
    tools: [WEATHER_TOOL],
    messages: [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: [{ type: 'text', text: 'checking' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '21C' }, IMG] }] },
    ],
  }));
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.content[0].text, 'echo: [tool_result toolu_1: 21C] [images: 1]');
});

test('auth: x-api-key is required and must match; the models list needs it too', async () => {
  const none = await post(msgBody(), { 'anthropic-version': '2023-06-01' });
  assert.equal(none.status, 401);
  assert.deepEqual(none.json.error, { type: 'authentication_error', message: 'x-api-key header is required' });
  assert.equal(none.json.type, 'error');
  const wrong = await post(msgBody(), { ...HDRS, 'x-api-key': 'nope' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error.message, 'invalid x-api-key');
  const bearer = await post(msgBody(), { 'anthropic-version': '2023-06-01', authorization: `Bearer ${KEY}` });
  assert.equal(bearer.status, 401, 'a bearer token is not an API key');
  const models = await request(`${up.url}/v1/models`, { headers: { 'anthropic-version': '2023-06-01' } });
  assert.equal(models.status, 401);
});

test('anthropic-version header is required', async () => {
  const r = await post(msgBody(), { 'x-api-key': KEY });
  assert.equal(r.status, 400);
  assert.deepEqual(r.json.error, { type: 'invalid_request_error', message: 'anthropic-version: header is required' });
  const bad = await post(msgBody(), { ...HDRS, 'anthropic-version': '2024-99-99' });
  assert.equal(bad.status, 400);
});

test('validation answers 400 invalid_request_error with the real API messages', async () => {
  const user = (content) => ({ role: 'user', content });
  const cases = [
    [{ max_tokens: 10, messages: [user('x')] }, /^model: Field required$/],
    [msgBody({ max_tokens: undefined }), /^max_tokens: Field required$/],
    [msgBody({ max_tokens: '10' }), /^max_tokens: Input should be a valid integer$/],
    [msgBody({ max_tokens: 0 }), /greater than or equal to 1/],
    [msgBody({ messages: [] }), /^messages: at least one message is required$/],
    [msgBody({ messages: [{ role: 'system', content: 'x' }, user('x')] }), /Unexpected role "system".*top-level `system`/],
    [msgBody({ messages: [{ role: 'tool', content: 'x' }] }), /^messages\.0\.role: Input should be 'user' or 'assistant'$/],
    [msgBody({ messages: [{ role: 'assistant', content: 'x' }, user('y')] }), /first message must use the "user" role/],
    [msgBody({ messages: [user('')] }), /all messages must have non-empty content/],
    [msgBody({ messages: [user([])] }), /all messages must have non-empty content/],
    [msgBody({ messages: [user([{ type: 'text', text: '' }])] }), /text content blocks must be non-empty/],
    [msgBody({ messages: [user([{ type: 'image_url', image_url: { url: 'http://x' } }])] }),
      /^messages\.0\.content\.0: Input tag 'image_url' found using 'type'/],
    [msgBody({ messages: [user([{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'x' } }])] }),
      /media_type/],
    [msgBody({ messages: [user('q'), { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: '{"a":1}' }] },
      user([{ type: 'tool_result', tool_use_id: 't1', content: 'r' }])] }), /tool_use\.input: Input should be a valid dictionary/],
    [msgBody({ messages: [user('q'), { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] },
      user('no result')] }), /`tool_use` ids were found without `tool_result` blocks immediately after: t1/],
    [msgBody({ messages: [user([{ type: 'tool_result', tool_use_id: 'ghost', content: 'r' }])] }),
      /unexpected `tool_use_id` found in `tool_result` blocks: ghost/],
    [msgBody({ system: [{ type: 'text', text: 'ok' }, { text: 'missing type' }] }), /^system\.1\.type/],
    [msgBody({ system: { text: 'x' } }), /^system: Input should be a valid string$/],
    [msgBody({ stream_options: { include_usage: true } }), /^stream_options: Extra inputs are not permitted$/],
    [msgBody({ temperature: 1.5 }), /^temperature: Input should be less than or equal to 1$/],
    [msgBody({ tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] }), /^tools\.0: Input tag 'function'/],
    [msgBody({ tools: [{ name: 'f' }] }), /^tools\.0\.custom\.input_schema: Field required$/],
    [msgBody({ tools: [{ name: 'bad name!', input_schema: { type: 'object' } }] }), /String should match pattern/],
    [msgBody({ tool_choice: 'auto' }), /^tool_choice: Input should be a valid dictionary/],
    [msgBody({ stop_sequences: 'STOP' }), /^stop_sequences: Input should be a valid list$/],
  ];
  for (const [body, re] of cases) {
    const r = await post(body);
    assert.equal(r.status, 400, `expected 400 for ${JSON.stringify(body)}; got ${r.body}`);
    assert.equal(r.json.type, 'error');
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.match(r.json.error.message, re, JSON.stringify(body));
    assert.match(r.json.request_id, /^req_/);
  }
  const bad = await post('{"model": "x",', HDRS);
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /JSON body/);
  // Things the real API accepts pass: consecutive user turns, a final assistant prefill, server tools.
  assert.equal(validateMessagesRequest(msgBody({
    messages: [{ role: 'user', content: 'a' }, { role: 'user', content: [{ type: 'text', text: 'b', cache_control: { type: 'ephemeral' } }] },
      { role: 'assistant', content: '' }],
    tools: [{ type: 'web_search_20250305', name: 'web_search' }],
    tool_choice: { type: 'auto' },
    metadata: { user_id: 'u' },
    thinking: { type: 'enabled', budget_tokens: 1024 },
    max_tokens: 2048,
  })), null);
  assert.match(validateMessagesRequest(msgBody({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] }),
    { strictAlternation: true }), /roles must alternate/);
});

test('scripted reply: tool_use (id generated) with stop_reason tool_use, non-stream and stream', async () => {
  up.reset();
  up.nextReply({ content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', name: 'get_weather', input: { location: 'Paris, FR' } }] });
  const r = await post(msgBody({ tools: [WEATHER_TOOL] }));
  assert.equal(r.status, 200);
  assert.equal(r.json.stop_reason, 'tool_use');
  assert.equal(r.json.content[0].text, 'Checking.');
  const tu = r.json.content[1];
  assert.equal(tu.type, 'tool_use');
  assert.match(tu.id, /^toolu_01/);
  assert.equal(tu.name, 'get_weather');
  assert.deepEqual(tu.input, { location: 'Paris, FR' });
  assert.equal(up.lastRequest().reply.content[1].name, 'get_weather');

  up.nextReply({ content: 'just text', stop_reason: 'end_turn', usage: { output_tokens: 99, cache_read_input_tokens: 5 } });
  const s = await stream(msgBody({ stream: true }));
  const evs = parseSse(s.text);
  assert.equal(evs.filter((e) => e.event === 'content_block_delta').map((e) => e.json.delta.text).join(''), 'just text');
  assert.equal(evs.at(-2).json.usage.output_tokens, 99);
  assert.equal(evs[0].json.message.usage.cache_read_input_tokens, 5);

  const plain = await post(msgBody());
  assert.equal(plain.json.content[0].text, 'echo: hello there', 'replies are used once');
});

test('streaming text: exact Anthropic event sequence and framing', async () => {
  const s = await stream(msgBody({ stream: true, messages: [{ role: 'user', content: 'one two three' }] }));
  assert.equal(s.status, 200);
  assert.equal(s.complete, true);
  assert.match(s.headers['content-type'], /^text\/event-stream/);
  assert.match(s.text, /^event: message_start\ndata: \{/);
  assert.ok(s.text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n'));
  assert.ok(!s.text.includes('\r'));
  const evs = parseSse(s.text);
  for (const e of evs) assert.equal(e.event, e.json.type, 'event name equals data.type');
  assert.deepEqual(evs.map((e) => e.event), [
    'message_start', 'content_block_start', 'ping',
    'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_delta',
    'content_block_stop', 'message_delta', 'message_stop',
  ]);
  const start = evs[0].json.message;
  assert.match(start.id, /^msg_/);
  assert.deepEqual(start.content, []);
  assert.equal(start.stop_reason, null);
  assert.equal(start.stop_sequence, null);
  assert.ok(start.usage.input_tokens > 0);
  assert.equal(start.usage.output_tokens, 1);
  assert.deepEqual(evs[1].json, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  const deltas = evs.filter((e) => e.event === 'content_block_delta');
  for (const d of deltas) {
    assert.equal(d.json.index, 0);
    assert.equal(d.json.delta.type, 'text_delta');
  }
  assert.equal(deltas.map((d) => d.json.delta.text).join(''), 'echo: one two three');
  assert.deepEqual(evs[7].json, { type: 'content_block_stop', index: 0 });
  assert.deepEqual(evs[8].json.delta, { stop_reason: 'end_turn', stop_sequence: null });
  assert.equal(evs[8].json.usage.output_tokens, 4);
});

test('model tool-<name>: tool_use from the input_schema; streamed as input_json_delta at awkward cuts', async () => {
  const tools = [{ name: 'other', input_schema: { type: 'object' } }, WEATHER_TOOL];
  const r = await post(msgBody({ model: 'tool-get_weather', tools }));
  assert.equal(r.json.stop_reason, 'tool_use');
  const tu = r.json.content.find((b) => b.type === 'tool_use');
  assert.equal(tu.name, 'get_weather');
  assert.deepEqual(tu.input, { location: 'sample location', unit: 'celsius', days: 7 });
  const first = await post(msgBody({ model: 'prov/tool-nomatch', tools }));
  assert.equal(first.json.content.find((b) => b.type === 'tool_use').name, 'other');

  const s = await stream(msgBody({ model: 'tool-get_weather', tools, stream: true }));
  const evs = parseSse(s.text);
  const startIdx = evs.findIndex((e) => e.event === 'content_block_start' && e.json.content_block.type === 'tool_use');
  const blockStart = evs[startIdx].json;
  assert.equal(blockStart.index, 1);
  assert.deepEqual(blockStart.content_block.input, {});
  assert.match(blockStart.content_block.id, /^toolu_/);
  const pieces = evs.filter((e) => e.event === 'content_block_delta' && e.json.index === 1).map((e) => {
    assert.equal(e.json.delta.type, 'input_json_delta');
    return e.json.delta.partial_json;
  });
  assert.equal(pieces[0], '', 'first partial_json is empty, as Anthropic sends');
  assert.ok(pieces.length >= 4);
  assert.ok(pieces.slice(1, -1).some((p) => { try { JSON.parse(p); return false; } catch { return true; } }),
    'pieces are not JSON on their own');
  assert.deepEqual(JSON.parse(pieces.join('')), { location: 'sample location', unit: 'celsius', days: 7 });
  assert.equal(evs[startIdx + pieces.length + 1].event, 'content_block_stop');
  assert.equal(evs.at(-2).json.delta.stop_reason, 'tool_use');
});

test('model stop-seq and max-tokens', async () => {
  const s = await post(msgBody({ model: 'stop-seq', stop_sequences: ['###'] }));
  assert.equal(s.json.stop_reason, 'stop_sequence');
  assert.equal(s.json.stop_sequence, '###');
  const m = await post(msgBody({ model: 'max-tokens', max_tokens: 3 }));
  assert.equal(m.json.stop_reason, 'max_tokens');
  assert.equal(m.json.usage.output_tokens, 3);
  assert.equal(m.json.content[0].text, 'echo: hello there');
  const ms = await stream(msgBody({ model: 'max-tokens', max_tokens: 2, stream: true }));
  const evs = parseSse(ms.text);
  assert.deepEqual(evs.at(-2).json.delta, { stop_reason: 'max_tokens', stop_sequence: null });
  assert.equal(evs.at(-2).json.usage.output_tokens, 2);
});

test('status faults answer Anthropic error shapes with the right type', async () => {
  const expect = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error',
    404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error',
    503: 'api_error', 529: 'overloaded_error' };
  for (const [status, type] of Object.entries(expect)) {
    const r = await post(msgBody(), { ...HDRS, 'x-fake-fault': status });
    assert.equal(r.status, Number(status));
    assert.equal(r.json.type, 'error');
    assert.equal(r.json.error.type, type);
    assert.equal(typeof r.json.error.message, 'string');
    if (status === '429') assert.equal(r.headers['retry-after'], '1');
  }
  const byModel = await post(msgBody({ model: 'anthropic/fault-529', stream: true }));
  assert.equal(byModel.status, 529, 'an error before the stream is plain JSON');
  assert.match(byModel.headers['content-type'], /application\/json/);
  assert.deepEqual(byModel.json.error, { type: 'overloaded_error', message: 'Overloaded' });
  up.nextFault({ type: 'status', status: 429, error: { message: 'slow down' }, headers: { 'retry-after': '7' } });
  const models = await request(`${up.url}/v1/models`, { headers: HDRS });
  assert.equal(models.status, 200, 'GET does not consume a queued fault');
  const q = await post(msgBody());
  assert.equal(q.status, 429);
  assert.equal(q.headers['retry-after'], '7');
  assert.deepEqual(q.json.error, { type: 'rate_limit_error', message: 'slow down' });
});

test('drop fault: stream cut after N events; non-stream body cut in half', async () => {
  const s = await openStream(`${up.url}/v1/messages`, { headers: HDRS, body: msgBody({ model: 'fault-drop-3', stream: true }) });
  const d = await s.done;
  assert.equal(d.complete, false);
  assert.deepEqual(parseSse(d.text).map((e) => e.event), ['message_start', 'content_block_start', 'ping']);
  up.nextFault('drop');
  await assert.rejects(post(msgBody()), /aborted|socket hang up|ECONNRESET/i);
});

test('stream-error fault: event: error with overloaded_error mid-stream', async () => {
  const s = await stream(msgBody({ model: 'fault-stream-error', stream: true }));
  assert.equal(s.status, 200);
  const evs = parseSse(s.text);
  assert.deepEqual(evs.map((e) => e.event), ['message_start', 'content_block_start', 'ping', 'content_block_delta', 'error']);
  assert.deepEqual(evs.at(-1).json, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
  assert.ok(s.text.endsWith('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'));
  const early = await stream(msgBody({ stream: true }), { ...HDRS, 'x-fake-fault': 'stream-error-1' });
  assert.deepEqual(parseSse(early.text).map((e) => e.event), ['message_start', 'error']);
});

test('hang, slow-headers, garbage, nonjson, slow-stream', async () => {
  await assert.rejects(post(msgBody({ model: 'fault-hang' }), HDRS, '/v1/messages', { timeoutMs: 300 }), /timed out/);
  const t0 = Date.now();
  const slow = await post(msgBody({ model: 'fault-slow-headers-200' }));
  assert.equal(slow.status, 200);
  assert.ok(Date.now() - t0 >= 180);
  up.nextFault('garbage');
  await assert.rejects(post(msgBody()), /parse|HPE|socket hang up/i);
  const nj = await post(msgBody({ model: 'fault-nonjson' }));
  assert.equal(nj.status, 200);
  assert.equal(nj.json, undefined);
  const ss = await stream(msgBody({ model: 'fault-slow-stream-10-3', stream: true }));
  const evs = parseSse(ss.text);
  const text = evs.filter((e) => e.event === 'content_block_delta').map((e) => e.json.delta.text).join('');
  assert.equal(text, 'echo: tick0 tick1 tick2 hello there');
  assert.equal(evs.at(-2).json.usage.output_tokens, 6);
  assert.equal(evs.at(-1).event, 'message_stop');
});

test('models list in Anthropic shape, with pagination; get one model; 404', async () => {
  const r = await request(`${up.url}/v1/models`, { headers: HDRS });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json).sort(), ['data', 'first_id', 'has_more', 'last_id']);
  assert.deepEqual(r.json.data.map((m) => m.id), ['claude-sonnet-4-5', 'claude-haiku-4-5']);
  assert.equal(r.json.has_more, false);
  assert.equal(r.json.first_id, 'claude-sonnet-4-5');
  assert.equal(r.json.last_id, 'claude-haiku-4-5');
  for (const m of r.json.data) {
    assert.deepEqual(Object.keys(m).sort(), ['created_at', 'display_name', 'id', 'type']);
    assert.equal(m.type, 'model');
    assert.match(m.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  }
  assert.equal(r.json.data[0].display_name, 'Claude Sonnet 4.5');
  const p1 = await request(`${up.url}/v1/models?limit=1`, { headers: HDRS });
  assert.equal(p1.json.has_more, true);
  const p2 = await request(`${up.url}/v1/models?limit=1&after_id=${p1.json.last_id}`, { headers: HDRS });
  assert.deepEqual(p2.json.data.map((m) => m.id), ['claude-haiku-4-5']);
  assert.equal(p2.json.has_more, false);
  const one = await request(`${up.url}/v1/models/claude-haiku-4-5`, { headers: HDRS });
  assert.equal(one.json.id, 'claude-haiku-4-5');
  const missing = await request(`${up.url}/v1/models/nope`, { headers: HDRS });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.type, 'not_found_error');
  const other = await startFakeAnthropic({ models: [{ id: 'm1', display_name: 'M One', created_at: '2024-01-01T00:00:00Z' }] });
  try {
    const o = await request(`${other.url}/v1/models`, { headers: { 'anthropic-version': '2023-06-01' } });
    assert.deepEqual(o.json.data, [{ type: 'model', id: 'm1', display_name: 'M One', created_at: '2024-01-01T00:00:00Z' }]);
    const noKey = await post(msgBody(), { 'anthropic-version': '2023-06-01' });
    assert.equal(noKey.status, 401, 'sanity: the main fake still wants its key');
    const open = await postJson(`${other.url}/v1/messages`, msgBody(), { headers: { 'anthropic-version': '2023-06-01' } });
    assert.equal(open.status, 200, 'no apiKey option: any key (or none) is accepted');
  } finally {
    await other.close();
  }
});

test('count_tokens and unknown routes', async () => {
  const r = await post({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'a b c' }] }, HDRS, '/v1/messages/count_tokens');
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json), ['input_tokens']);
  assert.ok(r.json.input_tokens > 0);
  const nf = await post(msgBody(), HDRS, '/v1/chat/completions');
  assert.equal(nf.status, 404);
  assert.equal(nf.json.error.type, 'not_found_error');
});

test('parseFault grammar includes stream-error', () => {
  assert.deepEqual(parseFault('stream-error'), { type: 'stream_error', after: null });
  assert.deepEqual(parseFault('stream-error-3'), { type: 'stream_error', after: 3 });
  assert.deepEqual(parseFault('529'), { type: 'status', status: 529 });
  assert.throws(() => parseFault('bogus'));
});

test('CLI mode prints its port and serves control endpoints (fault and reply)', async () => {
  const file = fileURLToPath(new URL('./anthropic.mjs', import.meta.url));
  const child = spawn(process.execPath, [file, '--port', '0', '--models', 'c1,c2', '--api-key', 'k'],
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
    assert.equal(url, `http://127.0.0.1:${port}`);
    const h = { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' };
    const m = await request(`${url}/v1/models`, { headers: h });
    assert.deepEqual(m.json.data.map((x) => x.id), ['c1', 'c2']);
    assert.equal((await postJson(`${url}/__control/next`, { fault: '529' })).status, 200);
    assert.equal((await postJson(`${url}/v1/messages`, msgBody(), { headers: h })).status, 529);
    assert.equal((await postJson(`${url}/__control/reply`, { reply: { content: 'scripted' } })).status, 200);
    const r = await postJson(`${url}/v1/messages`, msgBody(), { headers: h });
    assert.equal(r.json.content[0].text, 'scripted');
    const st = await request(`${url}/__control/stats`);
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
