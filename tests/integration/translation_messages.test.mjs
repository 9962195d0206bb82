// Anthropic-format clients: POST /v1/messages and /v1/messages/count_tokens routed to any provider
// (SPEC §3, §4). OpenAI-wire and Gemini providers are reached through translation; Anthropic
// providers get the client's body as sent, with only `model` rewritten.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { postJson, request, streamAll } from './lib/http.mjs';
import { startTranslationStack, ANTHROPIC_KEY, OA_KEY, SCRIPTED_KEY, GEMINI_KEY } from './lib/stack.mjs';
import { parseSse } from '../fake_upstream/common.mjs';

let stack;
before(async () => {
  stack = await startTranslationStack();
});
after(async () => {
  await stack?.stop();
});

const T = { timeout: 20000 };
const MSG = () => `${stack.url}/v1/messages`;
const COUNT = () => `${stack.url}/v1/messages/count_tokens`;
const ANTHROPIC_HEADERS = { 'anthropic-version': '2023-06-01' };
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const WEATHER = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const TIME = { name: 'get_time', description: 'Current time', input_schema: { type: 'object', properties: { tz: { type: 'string' } } } };

const lastOa = () => {
  const rec = stack.openai.lastRequest((q) => q.path === '/v1/chat/completions');
  assert.ok(rec, 'the OpenAI fake received a chat request');
  return rec;
};
const lastScripted = () => {
  const rec = stack.scripted.lastRequest((q) => q.path === '/v1/chat/completions');
  assert.ok(rec, 'the scripted upstream received a chat request');
  return rec;
};
const lastAnthropic = (path = '/v1/messages') => {
  const rec = stack.anthropic.lastRequest((q) => q.path === path);
  assert.ok(rec, `the Anthropic fake received ${path}`);
  return rec;
};
const textOf = (c) => (typeof c === 'string' ? c
  : c.map((p) => (typeof p.text === 'string' ? p.text : '')).join(''));

async function messages(body, opts = {}) {
  return postJson(MSG(), body, { ...opts, headers: { ...ANTHROPIC_HEADERS, ...(opts.headers ?? {}) } });
}

function assertMessage(r) {
  assert.equal(r.status, 200, r.body);
  assert.match(String(r.headers['content-type']), /application\/json/);
  const m = r.json;
  assert.equal(m.type, 'message', r.body);
  assert.equal(m.role, 'assistant');
  assert.match(m.id, /^msg_/);
  assert.ok(Array.isArray(m.content), r.body);
  assert.ok(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn', 'refusal'].includes(m.stop_reason), r.body);
  assert.ok('stop_sequence' in m, 'stop_sequence is present (null when none)');
  assert.ok(Number.isInteger(m.usage.input_tokens) && Number.isInteger(m.usage.output_tokens), r.body);
  return m;
}

/** Asserts Anthropic's error shape and returns `error`. */
function anthropicError(r, status, type) {
  const ctx = `${r.status} ${r.body}`;
  assert.equal(r.status, status, ctx);
  assert.match(String(r.headers['content-type']), /application\/json/, ctx);
  assert.equal(r.json?.type, 'error', ctx);
  const e = r.json.error;
  assert.ok(e && typeof e === 'object', ctx);
  assert.equal(typeof e.message, 'string', ctx);
  assert.ok(e.message.length > 0, ctx);
  if (type) assert.equal(e.type, type, ctx);
  else assert.equal(typeof e.type, 'string', ctx);
  return e;
}

/** Parses an Anthropic SSE stream, checks event names match data.type, assembles the message. */
function assembleAnthropic(text) {
  const events = parseSse(text);
  const blocks = [];
  let message = null;
  let stop = null;
  let usageOut = null;
  const errors = [];
  for (const ev of events) {
    assert.ok(ev.json, `JSON data: ${ev.data}`);
    assert.equal(ev.event, ev.json.type, `event name matches data.type: ${ev.event} / ${ev.data}`);
    const d = ev.json;
    switch (d.type) {
      case 'message_start':
        message = d.message;
        break;
      case 'content_block_start':
        blocks[d.index] = { ...d.content_block, _json: '' };
        break;
      case 'content_block_delta':
        assert.ok(blocks[d.index], `delta for a started block: ${ev.data}`);
        if (d.delta.type === 'text_delta') blocks[d.index].text += d.delta.text;
        else if (d.delta.type === 'input_json_delta') blocks[d.index]._json += d.delta.partial_json;
        break;
      case 'content_block_stop':
        if (blocks[d.index].type === 'tool_use') {
          blocks[d.index].input = blocks[d.index]._json ? JSON.parse(blocks[d.index]._json) : {};
        }
        delete blocks[d.index]._json;
        break;
      case 'message_delta':
        stop = d.delta;
        usageOut = d.usage;
        break;
      case 'error':
        errors.push(d.error);
        break;
      default:
        break;
    }
  }
  return { events, types: events.map((e) => e.json.type), message, blocks, stop, usageOut, errors };
}

/** The canonical event order: start, (block start, deltas, block stop)*, message_delta, message_stop. */
function assertEventOrder(types) {
  assert.equal(types[0], 'message_start', types.join(','));
  assert.equal(types.at(-1), 'message_stop', types.join(','));
  assert.equal(types.at(-2), 'message_delta', types.join(','));
  let open = false;
  for (const t of types.slice(1, -2)) {
    if (t === 'ping') continue;
    if (t === 'content_block_start') {
      assert.ok(!open, `block started inside a block: ${types.join(',')}`);
      open = true;
    } else if (t === 'content_block_delta') {
      assert.ok(open, `delta outside a block: ${types.join(',')}`);
    } else if (t === 'content_block_stop') {
      assert.ok(open, types.join(','));
      open = false;
    } else {
      assert.fail(`unexpected event ${t}: ${types.join(',')}`);
    }
  }
  assert.ok(!open, 'every block stopped');
}

// ============================ /v1/messages -> OpenAI-wire provider ============================

test('messages -> openai: text answer in Anthropic shape, request in OpenAI shape', T, async () => {
  const r = await messages({ model: 'oa:gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'hello from claude land' }] });
  const m = assertMessage(r);
  assert.deepEqual(m.content, [{ type: 'text', text: 'echo: hello from claude land' }]);
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.stop_sequence, null);
  assert.equal(m.model, 'gpt-4o');
  const rec = lastOa();
  const upstream = JSON.parse(rec.responseBody);
  assert.equal(m.usage.input_tokens, upstream.usage.prompt_tokens);
  assert.equal(m.usage.output_tokens, upstream.usage.completion_tokens);
  assert.equal(rec.body.model, 'gpt-4o');
  assert.equal(rec.headers.authorization, `Bearer ${OA_KEY}`);
  assert.ok(!('x-api-key' in rec.headers));
  assert.deepEqual(rec.body.messages.map((x) => [x.role, textOf(x.content)]), [['user', 'hello from claude land']]);
  assert.equal(rec.body.max_completion_tokens ?? rec.body.max_tokens, 100);
  assert.equal(r.headers['x-kakehashi-provider'], 'oa');
  assert.equal(r.headers['x-kakehashi-model'], 'gpt-4o');
  assert.ok(r.headers['x-request-id']);
});

test('messages -> openai: bare model name, system prompt (string and blocks) and parameters', T, async () => {
  let r = await messages({
    model: 'gpt-4o-mini', max_tokens: 50, system: 'Be terse.', temperature: 0.2, top_p: 0.7, top_k: 5,
    stop_sequences: ['END'], metadata: { user_id: 'u-1' },
    messages: [{ role: 'user', content: 'q1' }, { role: 'assistant', content: 'a1' }, { role: 'user', content: [{ type: 'text', text: 'q2' }] }],
  });
  let m = assertMessage(r);
  assert.equal(m.content[0].text, 'echo: q2');
  let body = lastOa().body;
  assert.equal(body.model, 'gpt-4o-mini');
  assert.deepEqual(body.messages.map((x) => [x.role, textOf(x.content)]),
    [['system', 'Be terse.'], ['user', 'q1'], ['assistant', 'a1'], ['user', 'q2']]);
  assert.equal(body.temperature, 0.2);
  assert.equal(body.top_p, 0.7);
  assert.deepEqual(typeof body.stop === 'string' ? [body.stop] : body.stop, ['END']);
  for (const k of ['system', 'stop_sequences', 'top_k', 'metadata']) assert.ok(!(k in body), `${k} not sent raw: ${lastOa().rawBody}`);
  assert.equal(body.user, 'u-1', 'metadata.user_id -> user (docs/translation.md)');

  r = await messages({ model: 'oa:gpt-4o', max_tokens: 50, system: [{ type: 'text', text: 'Part A.' }, { type: 'text', text: 'Part B.' }],
    messages: [{ role: 'user', content: 'blocks' }] });
  m = assertMessage(r);
  body = lastOa().body;
  const sys = body.messages.filter((x) => x.role === 'system').map((x) => textOf(x.content)).join('\n');
  assert.ok(sys.includes('Part A.') && sys.includes('Part B.'), JSON.stringify(body.messages));
  assert.equal(body.messages[0].role, 'system');
});

test('messages -> openai: image blocks become image_url parts', T, async () => {
  const r = await messages({ model: 'oa:gpt-4o', max_tokens: 20, messages: [{ role: 'user', content: [
    { type: 'text', text: 'see' },
    { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_B64 } },
    { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
  ] }] });
  assertMessage(r);
  const parts = lastOa().body.messages[0].content;
  assert.deepEqual(parts.filter((p) => p.type === 'image_url').map((p) => p.image_url.url),
    [`data:image/png;base64,${PNG_B64}`, 'https://example.com/cat.png']);
  assert.deepEqual(parts.filter((p) => p.type === 'text').map((p) => p.text), ['see']);
});

test('messages -> openai: tools translated; tool_calls answer becomes tool_use blocks', T, async () => {
  stack.scripted.nextReply({ content: 'Calling.', tool_calls: [
    { id: 'call_abc', name: 'get_weather', arguments: { city: 'Paris' } },
    { id: 'call_def', name: 'get_time', arguments: '{"tz":"CET"}' },
  ], usage: { prompt_tokens: 31, completion_tokens: 12 } });
  const r = await messages({ model: 'oas:scripted', max_tokens: 200, tools: [WEATHER, TIME], tool_choice: { type: 'auto' },
    messages: [{ role: 'user', content: 'weather and time?' }] });
  const m = assertMessage(r);
  const body = lastScripted().body;
  assert.deepEqual(body.tools, [
    { type: 'function', function: { name: 'get_weather', description: 'Current weather for a city', parameters: WEATHER.input_schema } },
    { type: 'function', function: { name: 'get_time', description: 'Current time', parameters: TIME.input_schema } },
  ]);
  assert.ok(body.tool_choice === undefined || body.tool_choice === 'auto', JSON.stringify(body.tool_choice));
  assert.equal(m.stop_reason, 'tool_use');
  assert.deepEqual(m.content, [
    { type: 'text', text: 'Calling.' },
    { type: 'tool_use', id: 'call_abc', name: 'get_weather', input: { city: 'Paris' } },
    { type: 'tool_use', id: 'call_def', name: 'get_time', input: { tz: 'CET' } },
  ]);
  assert.equal(m.usage.input_tokens, 31);
  assert.equal(m.usage.output_tokens, 12);
});

test('messages -> openai: tool_choice any / tool / none', T, async () => {
  const base = { model: 'oas:scripted', max_tokens: 20, tools: [WEATHER, TIME], messages: [{ role: 'user', content: 'c' }] };
  assertMessage(await messages({ ...base, tool_choice: { type: 'any' } }));
  assert.equal(lastScripted().body.tool_choice, 'required');
  assertMessage(await messages({ ...base, tool_choice: { type: 'tool', name: 'get_time' } }));
  assert.deepEqual(lastScripted().body.tool_choice, { type: 'function', function: { name: 'get_time' } });
  assertMessage(await messages({ ...base, tool_choice: { type: 'none' } }));
  const b = lastScripted().body;
  assert.ok(b.tool_choice === 'none' || !b.tools?.length, JSON.stringify(b.tool_choice));
  assertMessage(await messages({ ...base, tool_choice: { type: 'auto', disable_parallel_tool_use: true } }));
  assert.equal(lastScripted().body.parallel_tool_calls, false);
});

test('messages -> openai: tool_use / tool_result history becomes tool_calls / tool messages', T, async () => {
  const r = await messages({ model: 'oas:scripted', max_tokens: 50, tools: [WEATHER, TIME], messages: [
    { role: 'user', content: 'weather and time?' },
    { role: 'assistant', content: [
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {} },
    ] },
    { role: 'user', content: [
      { type: 'tool_result', tool_use_id: 'toolu_1', content: '21C' },
      { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'noon' }], is_error: false },
      { type: 'text', text: 'and tomorrow?' },
    ] },
  ] });
  assertMessage(r);
  const msgs = lastScripted().body.messages;
  assert.deepEqual(msgs.map((x) => x.role), ['user', 'assistant', 'tool', 'tool', 'user']);
  assert.equal(textOf(msgs[1].content ?? ''), 'Let me check.');
  assert.deepEqual(msgs[1].tool_calls.map((t) => [t.id, t.type, t.function.name, JSON.parse(t.function.arguments)]),
    [['toolu_1', 'function', 'get_weather', { city: 'Paris' }], ['toolu_2', 'function', 'get_time', {}]]);
  assert.deepEqual(msgs.slice(2, 4).map((x) => [x.tool_call_id, textOf(x.content)]), [['toolu_1', '21C'], ['toolu_2', 'noon']]);
  assert.equal(textOf(msgs[4].content), 'and tomorrow?');
});

test('messages -> openai: finish reasons length -> max_tokens, stop -> end_turn', T, async () => {
  stack.scripted.nextReply({ content: 'cut off', finish_reason: 'length' });
  let m = assertMessage(await messages({ model: 'oas:scripted', max_tokens: 2, messages: [{ role: 'user', content: 'x' }] }));
  assert.equal(m.stop_reason, 'max_tokens');
  stack.scripted.nextReply({ content: 'fine', finish_reason: 'stop' });
  m = assertMessage(await messages({ model: 'oas:scripted', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] }));
  assert.equal(m.stop_reason, 'end_turn');
});

test('messages -> openai: stream follows the Messages event sequence', T, async () => {
  const r = await streamAll(MSG(), { model: 'oa:gpt-4o', max_tokens: 100, stream: true,
    messages: [{ role: 'user', content: 'stream this answer' }] }, { headers: ANTHROPIC_HEADERS });
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^text\/event-stream/);
  assert.equal(r.complete, true);
  const a = assembleAnthropic(r.text);
  assertEventOrder(a.types);
  assert.equal(a.errors.length, 0);
  assert.match(a.message.id, /^msg_/);
  assert.equal(a.message.type, 'message');
  assert.equal(a.message.role, 'assistant');
  assert.deepEqual(a.message.content, []);
  assert.equal(a.message.model, 'gpt-4o');
  assert.equal(a.blocks.length, 1);
  assert.equal(a.blocks[0].type, 'text');
  assert.equal(a.blocks[0].text, 'echo: stream this answer');
  assert.equal(a.stop.stop_reason, 'end_turn');
  const rec = lastOa();
  assert.equal(rec.body.stream, true);
  const usageChunk = rec.responseBody.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6))).find((c) => c.usage);
  assert.ok(usageChunk, 'gateway asked upstream for usage');
  assert.equal(a.usageOut.output_tokens, usageChunk.usage.completion_tokens);
  const inTokens = a.usageOut.input_tokens ?? a.message.usage.input_tokens;
  assert.equal(inTokens, usageChunk.usage.prompt_tokens, 'input tokens reported (message_start or message_delta)');
  assert.ok(!r.text.includes('[DONE]'), 'no OpenAI sentinel in an Anthropic stream');
});

test('messages -> openai: streamed tool use (input_json_delta assembles to the input)', T, async () => {
  stack.scripted.nextReply({ content: 'Sure.', tool_calls: [
    { id: 'call_s1', name: 'get_weather', arguments: { city: 'São Paulo', days: [1, 2, 3] } },
    { id: 'call_s2', name: 'get_time', arguments: { tz: 'UTC' } },
  ] });
  const r = await streamAll(MSG(), { model: 'oas:scripted', max_tokens: 100, stream: true, tools: [WEATHER, TIME],
    messages: [{ role: 'user', content: 'go' }] }, { headers: ANTHROPIC_HEADERS });
  assert.equal(r.status, 200, r.text);
  const a = assembleAnthropic(r.text);
  assertEventOrder(a.types);
  assert.deepEqual(a.blocks.map((b) => b.type), ['text', 'tool_use', 'tool_use']);
  assert.equal(a.blocks[0].text, 'Sure.');
  assert.deepEqual(a.blocks.slice(1).map((b) => [b.id, b.name, b.input]),
    [['call_s1', 'get_weather', { city: 'São Paulo', days: [1, 2, 3] }], ['call_s2', 'get_time', { tz: 'UTC' }]]);
  const starts = a.events.filter((e) => e.json.type === 'content_block_start' && e.json.content_block.type === 'tool_use');
  for (const s of starts) assert.deepEqual(s.json.content_block.input, {}, 'tool_use starts with empty input');
  assert.equal(a.stop.stop_reason, 'tool_use');
});

test('messages errors: unknown model 404, malformed JSON 400, missing fields 400', T, async () => {
  let r = await messages({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
  anthropicError(r, 404, 'not_found_error');
  assert.match(r.json.error.message, /no-such-model/);

  r = await postJson(MSG(), '{"model": "oa:gpt-4o", "messages": [', { headers: { 'content-type': 'application/json', ...ANTHROPIC_HEADERS } });
  anthropicError(r, 400, 'invalid_request_error');

  r = await messages({ model: 'oa:gpt-4o', max_tokens: 10 });
  anthropicError(r, 400, 'invalid_request_error');
  assert.match(r.json.error.message, /messages/);

  r = await messages({ model: 'oa:gpt-4o', max_tokens: 'ten', messages: [{ role: 'user', content: 'x' }] });
  anthropicError(r, 400, 'invalid_request_error');
  assert.match(r.json.error.message, /max_tokens/);

  r = await messages({ model: 'oa:gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'x' }], stream: 'yes' });
  anthropicError(r, 400, 'invalid_request_error');

  r = await request(MSG(), { method: 'GET' });
  assert.ok(r.status === 404 || r.status === 405, `${r.status} ${r.body}`);
});

test('messages: max_tokens is required, whatever the provider (as the Messages API and the pass-through path say)', T, async () => {
  // The same request routed to an Anthropic provider gets the provider's 400 "max_tokens: Field
  // required"; routed elsewhere it must not quietly succeed.
  const r = await messages({ model: 'oa:gpt-4o', messages: [{ role: 'user', content: 'x' }] });
  anthropicError(r, 400, 'invalid_request_error');
  assert.match(r.json.error.message, /max_tokens/);
});

test('messages -> openai: document blocks and server tools are refused with a 400 naming them', T, async () => {
  const before = stack.openai.requests().length;
  let r = await messages({ model: 'oa:gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: [
    { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc' } },
    { type: 'text', text: 'summarise' }] }] });
  let e = anthropicError(r, 400, 'invalid_request_error');
  assert.match(e.message, /document/);
  r = await messages({ model: 'oa:gpt-4o', max_tokens: 10, tools: [{ type: 'web_search_20250305', name: 'web_search' }],
    messages: [{ role: 'user', content: 'search' }] });
  e = anthropicError(r, 400, 'invalid_request_error');
  assert.match(e.message, /tools|web_search/);
  assert.equal(stack.openai.requests().length, before, 'nothing was sent upstream');
});

test('messages -> openai: upstream errors in Anthropic shape with the right type', T, async () => {
  const cases = [['oa:fault-400', 400, 'invalid_request_error'], ['oa:fault-401', 401, 'authentication_error'],
    ['oa:fault-429', 429, 'rate_limit_error'], ['oa:fault-500', 500, 'api_error']];
  for (const [model, status, type] of cases) {
    const r = await messages({ model, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    anthropicError(r, status, type);
  }
  const r = await messages({ model: 'oa:fault-503', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
  const e = anthropicError(r, 503);
  assert.ok(['overloaded_error', 'api_error'].includes(e.type), e.type);
});

test('messages -> openai: an upstream drop mid-stream ends with an error event', T, async () => {
  const r = await streamAll(MSG(), { model: 'oa:fault-drop-3', max_tokens: 50, stream: true,
    messages: [{ role: 'user', content: 'one two three four five' }] }, { headers: ANTHROPIC_HEADERS });
  assert.equal(r.status, 200);
  const a = assembleAnthropic(r.text);
  assert.equal(a.types[0], 'message_start');
  assert.equal(a.errors.length, 1, r.text);
  assert.equal(a.types.at(-1), 'error', `the error event is last: ${a.types.join(',')}`);
  assert.equal(typeof a.errors[0].type, 'string');
  assert.ok(!a.types.includes('message_stop'), 'a failed stream is not closed as a success');
});

test('messages -> gemini: text, system and a stream through translation', T, async () => {
  const r = await messages({ model: 'gem:gemini-2.0-flash', max_tokens: 30, system: 'Be kind.',
    messages: [{ role: 'user', content: 'hi gemini' }] });
  const m = assertMessage(r);
  assert.deepEqual(m.content, [{ type: 'text', text: 'echo: hi gemini' }]);
  assert.equal(m.stop_reason, 'end_turn');
  const rec = stack.gemini.lastRequest((q) => q.rpc === 'generateContent');
  assert.deepEqual(rec.body.systemInstruction.parts.map((p) => p.text), ['Be kind.']);
  assert.equal(rec.body.generationConfig.maxOutputTokens, 30);
  assert.equal(rec.headers['x-goog-api-key'], GEMINI_KEY);
  const um = JSON.parse(rec.responseBody).usageMetadata;
  assert.equal(m.usage.input_tokens, um.promptTokenCount);
  assert.equal(m.usage.output_tokens, um.candidatesTokenCount);

  const s = await streamAll(MSG(), { model: 'gem:gemini-2.0-flash', max_tokens: 30, stream: true,
    messages: [{ role: 'user', content: 'stream gemini' }] }, { headers: ANTHROPIC_HEADERS });
  assert.equal(s.status, 200, s.text);
  const a = assembleAnthropic(s.text);
  assertEventOrder(a.types);
  assert.equal(a.blocks[0].text, 'echo: stream gemini');
  assert.equal(a.stop.stop_reason, 'end_turn');
});

test('messages -> gemini: tool use comes back as tool_use blocks', T, async () => {
  const r = await messages({ model: 'gem:tool-get_weather', max_tokens: 30, tools: [WEATHER],
    messages: [{ role: 'user', content: 'weather?' }] });
  const m = assertMessage(r);
  assert.equal(m.stop_reason, 'tool_use');
  const tu = m.content.find((b) => b.type === 'tool_use');
  assert.ok(tu, r.body);
  assert.equal(tu.name, 'get_weather');
  assert.deepEqual(tu.input, { city: 'sample city' });
  assert.match(tu.id, /^[a-zA-Z0-9_-]+$/, 'id usable as an Anthropic tool_use id');
});

// ============================ /v1/messages -> Anthropic provider (pass-through) ============================

test('messages -> anthropic: the body is passed through with only model rewritten', T, async () => {
  const body = {
    model: 'claude:claude-sonnet-4-5',
    max_tokens: 300,
    system: [{ type: 'text', text: 'System block.', cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: 'earlier' },
      { role: 'assistant', content: [{ type: 'text', text: 'reply' }] },
      { role: 'user', content: [{ type: 'text', text: 'pass me through' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_B64 } }] },
    ],
    temperature: 0.4,
    top_k: 3,
    stop_sequences: ['\n\nHuman:'],
    metadata: { user_id: 'user-42' },
    tools: [WEATHER],
    tool_choice: { type: 'auto' },
  };
  const r = await messages(body);
  const m = assertMessage(r);
  const rec = lastAnthropic();
  assert.deepEqual(rec.body, { ...body, model: 'claude-sonnet-4-5' });
  assert.deepEqual(m, JSON.parse(rec.responseBody), 'the answer is relayed unchanged');
  assert.equal(m.content[0].text, 'echo: pass me through [images: 1]');
  assert.equal(rec.headers['x-api-key'], ANTHROPIC_KEY);
  assert.equal(rec.headers['anthropic-version'], '2023-06-01');
  assert.equal(r.headers['x-kakehashi-provider'], 'claude');
  assert.equal(r.headers['x-kakehashi-model'], 'claude-sonnet-4-5');
});

test('messages -> anthropic: the raw body keeps its bytes apart from the model', T, async () => {
  const raw = '{"model":"claude-sonnet-4-5",  "max_tokens":20,"messages":[{"role":"user","content":"bytes \\u00e9 \\ud83d\\ude00"}]}';
  const r = await postJson(MSG(), raw, { headers: { 'content-type': 'application/json', ...ANTHROPIC_HEADERS } });
  assertMessage(r);
  assert.equal(lastAnthropic().rawBody, raw);
  assert.equal(r.json.content[0].text, 'echo: bytes é 😀');
});

test('messages -> anthropic: client keys are replaced by the provider key', T, async () => {
  const r = await messages({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'k' }] },
    { headers: { 'x-api-key': 'client-secret-key-1', authorization: 'Bearer client-secret-key-2' } });
  assertMessage(r);
  const rec = lastAnthropic();
  assert.equal(rec.headers['x-api-key'], ANTHROPIC_KEY);
  assert.ok(!JSON.stringify(rec.headers).includes('client-secret-key'), JSON.stringify(rec.headers));
});

test('messages -> anthropic: the client\'s anthropic-beta header reaches the provider', T, async () => {
  const r = await messages({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'beta' }] },
    { headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' } });
  assertMessage(r);
  assert.equal(lastAnthropic().anthropicBeta, 'prompt-caching-2024-07-31');
});

test('messages -> anthropic: streaming is relayed event for event, usage logged', T, async () => {
  const r = await streamAll(MSG(), { model: 'claude:claude-sonnet-4-5', max_tokens: 100, stream: true,
    messages: [{ role: 'user', content: 'stream through please' }] }, { headers: ANTHROPIC_HEADERS });
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^text\/event-stream/);
  assert.equal(r.complete, true);
  const rec = lastAnthropic();
  assert.equal(rec.body.stream, true);
  assert.deepEqual(parseSse(r.text).map((e) => [e.event, e.json]), parseSse(rec.responseBody).map((e) => [e.event, e.json]));
  const a = assembleAnthropic(r.text);
  assert.equal(a.blocks[0].text, 'echo: stream through please');
  const line = await stack.gw.waitForLog((j) => j?.msg === 'access' && j.path === '/v1/messages' && j.stream === true
    && j.provider === 'claude', 5000);
  assert.equal(line.json.prompt_tokens, a.message.usage.input_tokens, line.text);
  assert.equal(line.json.completion_tokens, a.usageOut.output_tokens, line.text);
  assert.equal(line.json.status, 200);
});

test('messages -> anthropic: usage of a plain request is logged', T, async () => {
  const r = await messages({ model: 'claude:claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'log my usage please' }] });
  const m = assertMessage(r);
  const line = await stack.gw.waitForLog((j) => j?.msg === 'access' && j.path === '/v1/messages' && j.request_id === r.headers['x-request-id'], 5000);
  assert.equal(line.json.provider, 'claude');
  assert.equal(line.json.upstream_model, 'claude-haiku-4-5');
  assert.equal(line.json.prompt_tokens, m.usage.input_tokens, line.text);
  assert.equal(line.json.completion_tokens, m.usage.output_tokens, line.text);
});

test('messages -> openai: usage of a translated request is logged too', T, async () => {
  const r = await messages({ model: 'oa:gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'log translated' }] });
  const m = assertMessage(r);
  const line = await stack.gw.waitForLog((j) => j?.msg === 'access' && j.request_id === r.headers['x-request-id'], 5000);
  assert.equal(line.json.provider, 'oa');
  assert.equal(line.json.prompt_tokens, m.usage.input_tokens, line.text);
  assert.equal(line.json.completion_tokens, m.usage.output_tokens, line.text);
});

test('messages -> anthropic: tool_use answers and tool_result follow-ups pass through', T, async () => {
  const r = await messages({ model: 'claude:tool-get_weather', max_tokens: 100, tools: [WEATHER],
    messages: [{ role: 'user', content: 'weather?' }] });
  const m = assertMessage(r);
  assert.equal(m.stop_reason, 'tool_use');
  const tu = m.content.find((b) => b.type === 'tool_use');
  assert.deepEqual(tu.input, { city: 'sample city' });
  const r2 = await messages({ model: 'claude:claude-sonnet-4-5', max_tokens: 100, tools: [WEATHER], messages: [
    { role: 'user', content: 'weather?' },
    { role: 'assistant', content: m.content },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: tu.id, content: 'rainy' }] },
  ] });
  const m2 = assertMessage(r2);
  assert.equal(m2.content[0].text, `echo: [tool_result ${tu.id}: rainy]`);
});

test('messages -> anthropic: upstream errors keep the Anthropic error body', T, async () => {
  let r = await messages({ model: 'claude:fault-400', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
  anthropicError(r, 400, 'invalid_request_error');
  assert.match(r.json.error.message, /fake anthropic/);
  r = await messages({ model: 'claude:fault-429', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
  anthropicError(r, 429, 'rate_limit_error');
  r = await messages({ model: 'claude:fault-529', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
  assert.ok(r.status === 529 || r.status === 503, `${r.status} ${r.body}`);
  anthropicError(r, r.status, 'overloaded_error');
  r = await messages({ model: 'claude-bad:claude-wrongkey', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
  anthropicError(r, 401, 'authentication_error');
  // The fake's own validation (real API rules) answers through the gateway unchanged.
  r = await messages({ model: 'claude:claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'assistant', content: 'first' }] });
  anthropicError(r, 400, 'invalid_request_error');
  assert.match(r.json.error.message, /first message must use the "user" role/);
});

test('messages -> anthropic: an error event mid-stream is relayed and the stream ends', T, async () => {
  const r = await streamAll(MSG(), { model: 'claude:fault-stream-error', max_tokens: 50, stream: true,
    messages: [{ role: 'user', content: 'a b c d' }] }, { headers: ANTHROPIC_HEADERS });
  assert.equal(r.status, 200);
  const a = assembleAnthropic(r.text);
  assert.equal(a.types.at(-1), 'error', a.types.join(','));
  assert.equal(a.errors[0].type, 'overloaded_error');
  assert.equal(r.complete, true);
});

// ============================ /v1/messages/count_tokens ============================

test('count_tokens -> openai-wire provider: a plausible estimate that grows with the input', T, async () => {
  const count = async (body) => {
    const r = await postJson(COUNT(), body, { headers: ANTHROPIC_HEADERS });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(Object.keys(r.json), ['input_tokens'], r.body);
    assert.ok(Number.isInteger(r.json.input_tokens) && r.json.input_tokens > 0, r.body);
    return r.json.input_tokens;
  };
  const small = await count({ model: 'oa:gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
  const long = 'The quick brown fox jumps over the lazy dog. '.repeat(40);
  const big = await count({ model: 'oa:gpt-4o', messages: [{ role: 'user', content: long }] });
  assert.ok(big > small * 10, `grows with the input: ${small} -> ${big}`);
  assert.ok(big >= 200 && big <= 1500, `about one token per word (~400 words): ${big}`);
  const withSystem = await count({ model: 'oa:gpt-4o', system: long, messages: [{ role: 'user', content: 'hello' }] });
  assert.ok(withSystem > small + 100, `system counts: ${withSystem}`);
  const withTools = await count({ model: 'oa:gpt-4o', tools: [WEATHER, TIME], messages: [{ role: 'user', content: 'hello' }] });
  assert.ok(withTools > small, `tools count: ${small} -> ${withTools}`);
  assert.equal(stack.openai.requests((q) => q.method === 'POST').filter((q) => q.path.includes('count')).length, 0);
});

test('count_tokens -> anthropic provider: the provider\'s count, or a plausible estimate', T, async () => {
  const before = stack.anthropic.requests((q) => q.path === '/v1/messages/count_tokens').length;
  const body = { model: 'claude:claude-sonnet-4-5', system: 'sys prompt here', messages: [{ role: 'user', content: 'count these four words' }] };
  const r = await postJson(COUNT(), body, { headers: ANTHROPIC_HEADERS });
  assert.equal(r.status, 200, r.body);
  assert.ok(Number.isInteger(r.json.input_tokens) && r.json.input_tokens > 0, r.body);
  const recs = stack.anthropic.requests((q) => q.path === '/v1/messages/count_tokens');
  if (recs.length > before) {
    // Asked upstream: then the body is passed through and the provider's answer returned.
    const rec = recs.at(-1);
    assert.deepEqual(rec.body, { ...body, model: 'claude-sonnet-4-5' });
    assert.equal(rec.headers['x-api-key'], ANTHROPIC_KEY);
    assert.equal(r.json.input_tokens, JSON.parse(rec.responseBody).input_tokens);
  } else {
    assert.ok(r.json.input_tokens >= 5 && r.json.input_tokens <= 40, `estimate for ~7 words: ${r.body}`);
  }
  const big = await postJson(COUNT(), { ...body, messages: [{ role: 'user', content: 'word '.repeat(500) }] },
    { headers: ANTHROPIC_HEADERS });
  assert.equal(big.status, 200, big.body);
  assert.ok(big.json.input_tokens > r.json.input_tokens * 10, big.body);
});

test('count_tokens -> gemini provider: positive and growing', T, async () => {
  const a = await postJson(COUNT(), { model: 'gem:gemini-2.0-flash', messages: [{ role: 'user', content: 'hi' }] }, { headers: ANTHROPIC_HEADERS });
  const b = await postJson(COUNT(), { model: 'gem:gemini-2.0-flash', messages: [{ role: 'user', content: 'hi '.repeat(300) }] }, { headers: ANTHROPIC_HEADERS });
  assert.equal(a.status, 200, a.body);
  assert.equal(b.status, 200, b.body);
  assert.ok(a.json.input_tokens > 0 && b.json.input_tokens > a.json.input_tokens * 10, `${a.body} ${b.body}`);
});

test('count_tokens: an unknown model is a 404 (SPEC §3), as on /v1/messages', T, async () => {
  const r = await postJson(COUNT(), { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }, { headers: ANTHROPIC_HEADERS });
  anthropicError(r, 404, 'not_found_error');
});

test('count_tokens errors: malformed 400, missing messages 400, in Anthropic shape', T, async () => {
  let r = await postJson(COUNT(), '{"model":', { headers: { 'content-type': 'application/json', ...ANTHROPIC_HEADERS } });
  anthropicError(r, 400, 'invalid_request_error');
  r = await postJson(COUNT(), { model: 'oa:gpt-4o' }, { headers: ANTHROPIC_HEADERS });
  anthropicError(r, 400, 'invalid_request_error');
});

test('scripted upstream saw only its own key', T, async () => {
  for (const q of stack.scripted.requests()) assert.equal(q.headers.authorization, `Bearer ${SCRIPTED_KEY}`);
});
