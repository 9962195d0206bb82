// OpenAI-format clients in front of `type: anthropic` and `type: gemini` providers: the request
// arrives upstream in the provider's own wire format, and the answer comes back in OpenAI's
// (SPEC §3, §4). The fakes validate requests the way the real APIs do, so an OpenAI-ism that leaks
// through shows up as a 400.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { postJson, sseData, sseJson, streamAll } from './lib/http.mjs';
import { startTranslationStack, openaiError, ANTHROPIC_KEY, GEMINI_KEY } from './lib/stack.mjs';
import { embedText } from '../fake_upstream/common.mjs';

let stack;
let imageServer;
let imageUrl;
// 1x1 transparent PNG.
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

before(async () => {
  stack = await startTranslationStack();
  // A local image for http(s) image URLs: a gateway may pass the URL on or fetch and inline it.
  imageServer = http.createServer((req, res) => {
    const body = Buffer.from(PNG_B64, 'base64');
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length });
    res.end(body);
  });
  await new Promise((r) => imageServer.listen(0, '127.0.0.1', r));
  imageUrl = `http://127.0.0.1:${imageServer.address().port}/cat.png`;
});
after(async () => {
  await stack?.stop();
  if (imageServer) {
    imageServer.closeAllConnections?.();
    await new Promise((r) => imageServer.close(() => r()));
  }
});

const T = { timeout: 20000 };
const CHAT = () => `${stack.url}/v1/chat/completions`;
const user = (content) => ({ role: 'user', content });
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', description: 'city name' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city'],
    },
  },
};
const TIME_TOOL = {
  type: 'function',
  function: { name: 'get_time', description: 'Current time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } },
};

const lastAnthropic = () => {
  const rec = stack.anthropic.lastRequest((q) => q.path === '/v1/messages');
  assert.ok(rec, 'the Anthropic fake received a /v1/messages request');
  return rec;
};
const lastGemini = (rpc) => {
  const rec = stack.gemini.lastRequest((q) => q.method === 'POST' && (!rpc || q.rpc === rpc));
  assert.ok(rec, `the Gemini fake received a ${rpc ?? 'POST'} request`);
  return rec;
};

async function chat(body, opts) {
  return postJson(CHAT(), body, opts);
}

async function chatOk(body, opts) {
  const r = await chat(body, opts);
  assert.equal(r.status, 200, r.body);
  assert.match(String(r.headers['content-type']), /application\/json/);
  assert.equal(r.json.object, 'chat.completion', r.body);
  assert.equal(r.json.choices.length, 1, r.body);
  assert.equal(r.json.choices[0].index, 0);
  assert.equal(r.json.choices[0].message.role, 'assistant');
  return r;
}

/** Assembles an OpenAI chat stream: content, tool calls by index, finish reason, usage, errors. */
function assemble(text) {
  const data = sseData(text);
  const out = { content: '', role: null, toolCalls: [], finish: null, usage: null, errors: [], chunks: [],
    done: data.includes('[DONE]'), data };
  for (const d of data) {
    if (d === '[DONE]') continue;
    const c = JSON.parse(d);
    if (c.error) {
      out.errors.push(c.error);
      continue;
    }
    out.chunks.push(c);
    assert.equal(c.object, 'chat.completion.chunk', d);
    if (c.usage) out.usage = c.usage;
    for (const ch of c.choices ?? []) {
      const delta = ch.delta ?? {};
      if (delta.role) out.role = delta.role;
      if (typeof delta.content === 'string') out.content += delta.content;
      for (const tc of delta.tool_calls ?? []) {
        assert.equal(typeof tc.index, 'number', `tool call delta needs an index: ${d}`);
        const slot = out.toolCalls[tc.index] ?? (out.toolCalls[tc.index] = { id: '', type: '', name: '', arguments: '' });
        if (tc.id) slot.id += tc.id;
        if (tc.type) slot.type = tc.type;
        if (tc.function?.name) slot.name += tc.function.name;
        if (tc.function?.arguments) slot.arguments += tc.function.arguments;
      }
      if (ch.finish_reason) out.finish = ch.finish_reason;
    }
  }
  return out;
}

async function streamOk(body) {
  const r = await streamAll(CHAT(), { ...body, stream: true });
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^text\/event-stream/);
  assert.equal(r.complete, true, 'stream ended cleanly');
  const a = assemble(r.text);
  assert.ok(a.done, `stream ends with [DONE]: ${r.text.slice(-300)}`);
  assert.equal(a.data.at(-1), '[DONE]');
  assert.equal(a.errors.length, 0, `no error events: ${JSON.stringify(a.errors)}`);
  return { r, a };
}

// ================================ OpenAI -> Anthropic ================================

test('anthropic: plain chat is translated both ways, with headers and usage', T, async () => {
  const r = await chatOk({ model: 'claude:claude-sonnet-4-5', messages: [user('hello claude')] });
  const rec = lastAnthropic();
  assert.equal(rec.method, 'POST');
  assert.equal(rec.path, '/v1/messages');
  assert.equal(rec.status, 200, rec.responseBody);
  assert.equal(rec.body.model, 'claude-sonnet-4-5');
  assert.ok(Number.isInteger(rec.body.max_tokens) && rec.body.max_tokens > 0, 'max_tokens always sent');
  assert.deepEqual(rec.body.messages.map((m) => m.role), ['user']);
  assert.ok(!('stream' in rec.body) || rec.body.stream === false);
  const upstream = JSON.parse(rec.responseBody);

  assert.equal(r.json.choices[0].message.content, 'echo: hello claude');
  assert.equal(r.json.choices[0].finish_reason, 'stop');
  assert.ok(typeof r.json.id === 'string' && r.json.id.length > 0);
  assert.ok(Number.isInteger(r.json.created) && r.json.created > 1600000000, `created: ${r.json.created}`);
  assert.equal(r.json.model, 'claude-sonnet-4-5');
  assert.equal(r.json.usage.prompt_tokens, upstream.usage.input_tokens);
  assert.equal(r.json.usage.completion_tokens, upstream.usage.output_tokens);
  assert.equal(r.json.usage.total_tokens, upstream.usage.input_tokens + upstream.usage.output_tokens);
  assert.equal(r.headers['x-kakehashi-provider'], 'claude');
  assert.equal(r.headers['x-kakehashi-model'], 'claude-sonnet-4-5');
  assert.equal(r.headers['x-kakehashi-attempts'], '1');
  assert.ok(r.headers['x-request-id']);
});

test('anthropic: a bare model name offered by one provider routes there', T, async () => {
  const r = await chatOk({ model: 'claude-haiku-4-5', messages: [user('bare name')] });
  assert.equal(r.headers['x-kakehashi-provider'], 'claude');
  assert.equal(r.headers['x-kakehashi-model'], 'claude-haiku-4-5');
  assert.equal(lastAnthropic().body.model, 'claude-haiku-4-5');
  assert.equal(r.json.choices[0].message.content, 'echo: bare name');
});

test('anthropic: upstream gets x-api-key and anthropic-version; no key in the URL, client key never forwarded', T, async () => {
  const r = await chatOk({ model: 'claude:claude-sonnet-4-5', messages: [user('auth')] }, {
    headers: { authorization: 'Bearer client-secret-key-123', 'x-api-key': 'client-secret-key-456' },
  });
  assert.equal(r.json.choices[0].message.content, 'echo: auth');
  const rec = lastAnthropic();
  assert.equal(rec.headers['x-api-key'], ANTHROPIC_KEY);
  assert.equal(rec.headers['anthropic-version'], '2023-06-01');
  assert.match(String(rec.headers['content-type']), /application\/json/);
  assert.ok(!JSON.stringify(rec.headers).includes('client-secret-key'), `client key leaked: ${JSON.stringify(rec.headers)}`);
  assert.ok(!rec.url.includes(ANTHROPIC_KEY), `key in URL: ${rec.url}`);
  assert.equal(rec.url, '/v1/messages');
});

test('anthropic: system and developer messages become the top-level system prompt', T, async () => {
  await chatOk({
    model: 'claude:claude-sonnet-4-5',
    messages: [{ role: 'system', content: 'You are terse.' }, user('with system')],
  });
  let body = lastAnthropic().body;
  const sysText = (s) => (typeof s === 'string' ? s : s.map((b) => b.text).join('\n'));
  assert.equal(sysText(body.system), 'You are terse.');
  assert.ok(body.messages.every((m) => m.role === 'user' || m.role === 'assistant'));
  assert.equal(body.messages.length, 1);

  await chatOk({
    model: 'claude:claude-sonnet-4-5',
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'Rule one.' }] },
      { role: 'developer', content: 'Rule two.' },
      user('two system parts'),
    ],
  });
  body = lastAnthropic().body;
  const s = sysText(body.system);
  assert.ok(s.includes('Rule one.') && s.includes('Rule two.') && s.indexOf('Rule one.') < s.indexOf('Rule two.'),
    `system: ${JSON.stringify(body.system)}`);
  assert.equal(body.messages.length, 1);
});

test('anthropic: multi-turn conversation and sampling parameters', T, async () => {
  const r = await chatOk({
    model: 'claude:claude-sonnet-4-5',
    messages: [
      { role: 'system', content: 'sys' },
      user('first question'),
      { role: 'assistant', content: 'first answer' },
      user([{ type: 'text', text: 'second ' }, { type: 'text', text: 'question' }]),
    ],
    max_tokens: 77,
    temperature: 0.5,
    top_p: 0.9,
    stop: ['END', 'STOP'],
    user: 'user-123',
    seed: 7,
    n: 1,
    presence_penalty: 0,
    frequency_penalty: 0,
    logprobs: false,
  });
  assert.equal(r.json.choices[0].message.content, 'echo: second question');
  const body = lastAnthropic().body;
  assert.deepEqual(body.messages.map((m) => m.role), ['user', 'assistant', 'user']);
  const text = (c) => (typeof c === 'string' ? c : c.map((b) => b.text).join(''));
  assert.equal(text(body.messages[0].content), 'first question');
  assert.equal(text(body.messages[1].content), 'first answer');
  assert.equal(text(body.messages[2].content), 'second question');
  assert.equal(body.max_tokens, 77);
  assert.equal(body.temperature, 0.5);
  assert.equal(body.top_p, 0.9);
  assert.deepEqual(body.stop_sequences, ['END', 'STOP']);
});

test('anthropic: max_completion_tokens and a string stop are translated', T, async () => {
  await chatOk({ model: 'claude:claude-sonnet-4-5', messages: [user('mct')], max_completion_tokens: 55, stop: 'HALT' });
  const body = lastAnthropic().body;
  assert.equal(body.max_tokens, 55);
  assert.deepEqual(body.stop_sequences, ['HALT']);
});

test('anthropic: images (data URL and http URL) arrive as image blocks', T, async () => {
  const r = await chatOk({
    model: 'claude:claude-sonnet-4-5',
    messages: [user([
      { type: 'text', text: 'what is this' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_B64}`, detail: 'high' } },
      { type: 'image_url', image_url: { url: imageUrl } },
    ])],
  });
  assert.equal(r.json.choices[0].message.content, 'echo: what is this [images: 2]');
  const blocks = lastAnthropic().body.messages[0].content;
  assert.ok(Array.isArray(blocks), JSON.stringify(blocks));
  const images = blocks.filter((b) => b.type === 'image');
  assert.equal(images.length, 2, JSON.stringify(blocks));
  assert.deepEqual(images[0].source, { type: 'base64', media_type: 'image/png', data: PNG_B64 });
  const s = images[1].source;
  assert.ok((s.type === 'url' && s.url === imageUrl)
    || (s.type === 'base64' && s.media_type === 'image/png' && s.data === PNG_B64), `http image source: ${JSON.stringify(s)}`);
  assert.deepEqual(blocks.filter((b) => b.type === 'text').map((b) => b.text), ['what is this']);
});

test('anthropic: tools are translated and a tool_use answer becomes tool_calls', T, async () => {
  const r = await chatOk({
    model: 'claude:tool-get_weather',
    messages: [user('weather in Paris?')],
    tools: [WEATHER_TOOL, TIME_TOOL],
    tool_choice: 'auto',
  });
  const body = lastAnthropic().body;
  assert.deepEqual(body.tools, [
    { name: 'get_weather', description: 'Current weather for a city', input_schema: WEATHER_TOOL.function.parameters },
    { name: 'get_time', description: 'Current time', input_schema: TIME_TOOL.function.parameters },
  ]);
  assert.equal(body.tool_choice?.type ?? 'auto', 'auto');
  const upstream = JSON.parse(lastAnthropic().responseBody);
  const toolUse = upstream.content.find((b) => b.type === 'tool_use');

  const choice = r.json.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, 'Let me call get_weather.');
  assert.equal(choice.message.tool_calls.length, 1);
  const tc = choice.message.tool_calls[0];
  assert.equal(tc.type, 'function');
  assert.equal(tc.id, toolUse.id);
  assert.equal(tc.function.name, 'get_weather');
  assert.equal(typeof tc.function.arguments, 'string');
  assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'sample city', unit: 'celsius' });
});

test('anthropic: tool_choice required / named / none', T, async () => {
  const base = { model: 'claude:claude-sonnet-4-5', messages: [user('choose')], tools: [WEATHER_TOOL, TIME_TOOL] };
  await chatOk({ ...base, tool_choice: 'required' });
  assert.equal(lastAnthropic().body.tool_choice?.type, 'any');
  await chatOk({ ...base, tool_choice: { type: 'function', function: { name: 'get_time' } } });
  assert.deepEqual(lastAnthropic().body.tool_choice && { type: lastAnthropic().body.tool_choice.type, name: lastAnthropic().body.tool_choice.name },
    { type: 'tool', name: 'get_time' });
  await chatOk({ ...base, tool_choice: 'none' });
  const b = lastAnthropic().body;
  assert.ok(b.tool_choice?.type === 'none' || !b.tools?.length, `tool_choice none: ${JSON.stringify(b.tool_choice)} tools ${JSON.stringify(b.tools)}`);
});

test('anthropic: several scripted tool_use blocks become indexed tool_calls', T, async () => {
  stack.anthropic.nextReply({ content: [
    { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
    { type: 'tool_use', id: 'toolu_01B', name: 'get_time', input: { tz: 'Europe/Paris', nested: { a: [1, 2] } } },
  ] });
  const r = await chatOk({ model: 'claude:claude-sonnet-4-5', messages: [user('both')], tools: [WEATHER_TOOL, TIME_TOOL] });
  const m = r.json.choices[0].message;
  assert.equal(r.json.choices[0].finish_reason, 'tool_calls');
  assert.ok(m.content === null || m.content === '', `no text: ${JSON.stringify(m.content)}`);
  assert.deepEqual(m.tool_calls.map((t) => [t.id, t.type, t.function.name, JSON.parse(t.function.arguments)]), [
    ['toolu_01A', 'function', 'get_weather', { city: 'Paris' }],
    ['toolu_01B', 'function', 'get_time', { tz: 'Europe/Paris', nested: { a: [1, 2] } }],
  ]);
});

test('anthropic: tool results round trip (assistant tool_calls + tool messages)', T, async () => {
  const r = await chatOk({
    model: 'claude:claude-sonnet-4-5',
    tools: [WEATHER_TOOL, TIME_TOOL],
    messages: [
      user('weather and time in Paris?'),
      { role: 'assistant', content: null, tool_calls: [
        { id: 'toolu_01A', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'toolu_01B', type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } },
      ] },
      { role: 'tool', tool_call_id: 'toolu_01A', content: '21 degrees' },
      { role: 'tool', tool_call_id: 'toolu_01B', content: [{ type: 'text', text: '14:00' }] },
    ],
  });
  const rec = lastAnthropic();
  assert.equal(rec.status, 200, `the fake accepted the translated history: ${rec.responseBody}`);
  const msgs = rec.body.messages;
  assert.deepEqual(msgs.map((m) => m.role), ['user', 'assistant', 'user']);
  const uses = msgs[1].content.filter((b) => b.type === 'tool_use');
  assert.deepEqual(uses.map((b) => [b.id, b.name, b.input]),
    [['toolu_01A', 'get_weather', { city: 'Paris' }], ['toolu_01B', 'get_time', { tz: 'CET' }]]);
  assert.ok(!msgs[1].content.some((b) => b.type === 'text' && !b.text), 'no empty text block');
  const results = msgs[2].content.filter((b) => b.type === 'tool_result');
  assert.deepEqual(results.map((b) => b.tool_use_id), ['toolu_01A', 'toolu_01B']);
  const resultText = (b) => (typeof b.content === 'string' ? b.content : b.content.map((x) => x.text).join(''));
  assert.deepEqual(results.map(resultText), ['21 degrees', '14:00']);
  assert.equal(r.json.choices[0].message.content, 'echo: [tool_result toolu_01A: 21 degrees] [tool_result toolu_01B: 14:00]');
  assert.equal(r.json.choices[0].finish_reason, 'stop');
});

test('anthropic: assistant text with tool_calls keeps both, in order', T, async () => {
  await chatOk({
    model: 'claude:claude-sonnet-4-5',
    tools: [WEATHER_TOOL],
    messages: [
      user('weather?'),
      { role: 'assistant', content: 'Checking.', tool_calls: [
        { id: 'call_x1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] },
      { role: 'tool', tool_call_id: 'call_x1', content: 'sunny' },
      { role: 'assistant', content: 'It is sunny.' },
      user('thanks'),
    ],
  });
  const rec = lastAnthropic();
  assert.equal(rec.status, 200, rec.responseBody);
  const msgs = rec.body.messages;
  assert.deepEqual(msgs.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user']);
  assert.deepEqual(msgs[1].content.map((b) => b.type), ['text', 'tool_use']);
  assert.equal(msgs[1].content[0].text, 'Checking.');
});

test('anthropic: stop reasons max_tokens -> length, stop_sequence -> stop', T, async () => {
  const r1 = await chatOk({ model: 'claude:max-tokens', messages: [user('long story')], max_tokens: 3 });
  assert.equal(r1.json.choices[0].finish_reason, 'length');
  assert.equal(r1.json.usage.completion_tokens, 3);
  assert.equal(lastAnthropic().body.max_tokens, 3);

  const r2 = await chatOk({ model: 'claude:stop-seq', messages: [user('stop here')], stop: ['###'] });
  assert.equal(r2.json.choices[0].finish_reason, 'stop');
  assert.deepEqual(lastAnthropic().body.stop_sequences, ['###']);
});

test('anthropic: usage with cache reads counts them as cached prompt tokens', T, async () => {
  stack.anthropic.nextReply({ content: 'cached answer', usage: { input_tokens: 11, output_tokens: 4,
    cache_read_input_tokens: 100, cache_creation_input_tokens: 0 } });
  const r = await chatOk({ model: 'claude:claude-sonnet-4-5', messages: [user('cache')] });
  const u = r.json.usage;
  assert.equal(u.completion_tokens, 4);
  assert.equal(u.prompt_tokens, 111, `OpenAI prompt_tokens include cached tokens: ${JSON.stringify(u)}`);
  assert.equal(u.prompt_tokens_details?.cached_tokens, 100, JSON.stringify(u));
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
});

test('anthropic: streaming text becomes OpenAI chunks', T, async () => {
  const { a } = await streamOk({ model: 'claude:claude-sonnet-4-5', messages: [user('stream me please')] });
  const rec = lastAnthropic();
  assert.equal(rec.body.stream, true);
  assert.ok(!('stream_options' in rec.body));
  assert.equal(a.role, 'assistant');
  assert.equal(a.chunks[0].choices[0].delta.role, 'assistant');
  assert.equal(a.content, 'echo: stream me please');
  assert.equal(a.finish, 'stop');
  assert.equal(a.usage, null, 'no usage chunk unless asked');
  assert.ok(a.chunks.every((c) => c.choices.length === 1), 'no usage-only chunk');
  const ids = new Set(a.chunks.map((c) => c.id));
  assert.equal(ids.size, 1, 'one id for the whole stream');
  assert.ok(a.chunks.every((c) => c.model === 'claude-sonnet-4-5'));
  assert.equal(a.chunks.filter((c) => c.choices[0].finish_reason).length, 1, 'exactly one finish_reason');
});

test('anthropic: streaming with include_usage ends with a usage chunk', T, async () => {
  const { r, a } = await streamOk({ model: 'claude:claude-sonnet-4-5', messages: [user('count my tokens')],
    stream_options: { include_usage: true } });
  assert.equal(r.headers['x-kakehashi-provider'], 'claude');
  assert.equal(r.headers['x-kakehashi-model'], 'claude-sonnet-4-5');
  const last = a.chunks.at(-1);
  assert.deepEqual(last.choices, []);
  const events = sseJson(lastAnthropic().responseBody.replace(/^event: .*$/gm, ''));
  const start = events.find((e) => e.type === 'message_start');
  const delta = events.find((e) => e.type === 'message_delta');
  assert.equal(last.usage.prompt_tokens, start.message.usage.input_tokens);
  assert.equal(last.usage.completion_tokens, delta.usage.output_tokens);
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
  assert.equal(a.chunks.filter((c) => c.usage).length, 1);
  assert.equal(a.content, 'echo: count my tokens');
});

test('anthropic: streaming tool calls assemble into complete tool_calls', T, async () => {
  const { a } = await streamOk({
    model: 'claude:tool-get_weather',
    messages: [user('weather, streamed')],
    tools: [WEATHER_TOOL],
  });
  const events = sseJson(lastAnthropic().responseBody.replace(/^event: .*$/gm, ''));
  const startBlock = events.find((e) => e.type === 'content_block_start' && e.content_block.type === 'tool_use');
  assert.equal(a.content, 'Let me call get_weather.');
  assert.equal(a.finish, 'tool_calls');
  assert.equal(a.toolCalls.length, 1);
  const tc = a.toolCalls[0];
  assert.equal(tc.id, startBlock.content_block.id);
  assert.equal(tc.type, 'function');
  assert.equal(tc.name, 'get_weather');
  assert.deepEqual(JSON.parse(tc.arguments), { city: 'sample city', unit: 'celsius' });
});

test('anthropic: two streamed tool_use blocks keep separate indexes', T, async () => {
  stack.anthropic.nextReply({ content: [
    { type: 'text', text: 'Two calls.' },
    { type: 'tool_use', id: 'toolu_01S1', name: 'get_weather', input: { city: 'Oslo', unit: 'celsius' } },
    { type: 'tool_use', id: 'toolu_01S2', name: 'get_time', input: { tz: 'Asia/Tokyo' } },
  ] });
  const { a } = await streamOk({ model: 'claude:claude-sonnet-4-5', messages: [user('two')], tools: [WEATHER_TOOL, TIME_TOOL] });
  assert.equal(a.content, 'Two calls.');
  assert.equal(a.finish, 'tool_calls');
  assert.deepEqual(a.toolCalls.map((t) => [t.id, t.name, JSON.parse(t.arguments)]), [
    ['toolu_01S1', 'get_weather', { city: 'Oslo', unit: 'celsius' }],
    ['toolu_01S2', 'get_time', { tz: 'Asia/Tokyo' }],
  ]);
});

test('anthropic: streamed stop reasons (max_tokens -> length)', T, async () => {
  const { a } = await streamOk({ model: 'claude:max-tokens', messages: [user('long')], max_tokens: 2 });
  assert.equal(a.finish, 'length');
});

test('anthropic: upstream errors become OpenAI errors with the right status', T, async () => {
  const cases = [
    ['claude:fault-400', 400], ['claude:fault-401', 401], ['claude:fault-404', 404],
    ['claude:fault-429', 429], ['claude:fault-500', 500], ['claude:fault-529', 503],
  ];
  for (const [model, status] of cases) {
    const r = await chat({ model, messages: [user('x')] });
    const err = openaiError(assert, r, status);
    assert.ok(!/^\s*\{/.test(err.message), `message is text, not a JSON dump: ${err.message}`);
    assert.equal(r.headers['x-kakehashi-provider'], 'claude', `${model}: provider header on errors`);
  }
  const r = await chat({ model: 'claude:fault-529', messages: [user('x')] });
  assert.match(r.json.error.message, /Overloaded/);
  const r400 = await chat({ model: 'claude:fault-400', messages: [user('x')] });
  assert.match(r400.json.error.message, /Invalid request \(fake anthropic\)/);
});

test('upstream 429: Retry-After reaches the client (Anthropic retry-after header, Gemini RetryInfo)', T, async () => {
  // SPEC §3: a 429 carries Retry-After. The Anthropic fake sends `retry-after: 1`; Gemini says the
  // same in the body (RetryInfo retryDelay "1s") and sends no header.
  for (const model of ['claude:fault-429', 'gem:fault-429', 'oa:fault-429']) {
    const r = await chat({ model, messages: [user('x')] });
    openaiError(assert, r, 429);
    assert.equal(r.headers['retry-after'], '1', `${model}: 429 carries Retry-After; headers ${JSON.stringify(r.headers)}`);
  }
});

test('anthropic: a wrong provider key gives 401 with the upstream message', T, async () => {
  const r = await chat({ model: 'claude-bad:claude-wrongkey', messages: [user('x')] });
  const err = openaiError(assert, r, 401);
  assert.match(err.message, /invalid x-api-key/);
  assert.ok(!err.message.includes('sk-ant-wrong-key'), 'the provider key is not echoed');
});

test('anthropic: errors while streaming (before the first byte) keep their status', T, async () => {
  const r = await streamAll(CHAT(), { model: 'claude:fault-429', messages: [user('x')], stream: true });
  assert.equal(r.status, 429, r.text);
  assert.ok(JSON.parse(r.text).error, r.text);
});

test('anthropic: an error event mid-stream becomes an error event, then the stream ends', T, async () => {
  const r = await streamAll(CHAT(), { model: 'claude:fault-stream-error', messages: [user('boom soon now')], stream: true });
  assert.equal(r.status, 200);
  const a = assemble(r.text);
  assert.ok(a.content.length > 0, `content before the error: ${r.text}`);
  assert.equal(a.errors.length, 1, `one error event: ${r.text}`);
  assert.match(a.errors[0].message, /Overloaded/);
  assert.equal(typeof a.errors[0].type, 'string');
  assert.notEqual(a.finish, 'stop', 'a failed stream does not claim a normal finish');
  const idx = a.data.findIndex((d) => d.includes('"error"'));
  assert.ok(a.data.slice(idx + 1).every((d) => d === '[DONE]'), `nothing but [DONE] after the error: ${r.text}`);
  assert.equal(r.complete, true, 'the response is terminated properly');
});

test('anthropic: an upstream drop mid-stream ends the stream with an error event', T, async () => {
  const r = await streamAll(CHAT(), { model: 'claude:fault-drop-5', messages: [user('drop it like it is hot')], stream: true });
  assert.equal(r.status, 200);
  const a = assemble(r.text);
  assert.ok(a.content.length > 0, r.text);
  assert.equal(a.errors.length, 1, `one error event: ${r.text}`);
  assert.notEqual(a.finish, 'stop');
});

test('anthropic: /v1/completions is served through the Messages API', T, async () => {
  const r = await postJson(`${stack.url}/v1/completions`, { model: 'claude:claude-sonnet-4-5', prompt: 'legacy prompt', max_tokens: 20 });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.object, 'text_completion');
  assert.equal(r.json.choices[0].text, 'echo: legacy prompt');
  assert.equal(r.json.choices[0].finish_reason, 'stop');
  assert.ok(r.json.usage.total_tokens > 0);
  assert.equal(r.headers['x-kakehashi-provider'], 'claude');
  const body = lastAnthropic().body;
  assert.equal(body.max_tokens, 20);
  assert.equal(body.messages.length, 1);
  const c = body.messages[0].content;
  assert.equal(typeof c === 'string' ? c : c.map((b) => b.text).join(''), 'legacy prompt');

  const s = await streamAll(`${stack.url}/v1/completions`, { model: 'claude:claude-sonnet-4-5', prompt: 'legacy stream', stream: true });
  assert.equal(s.status, 200, s.text);
  const chunks = sseJson(s.text);
  assert.ok(chunks.every((x) => x.object === 'text_completion'), s.text);
  assert.equal(chunks.map((x) => x.choices[0]?.text ?? '').join(''), 'echo: legacy stream');
  assert.equal(chunks.filter((x) => x.choices[0]?.finish_reason).at(-1).choices[0].finish_reason, 'stop');
  assert.equal(sseData(s.text).at(-1), '[DONE]');
});

test('anthropic: /v1/completions with echo or suffix is refused with a 400', T, async () => {
  for (const extra of [{ echo: true }, { suffix: 'tail' }]) {
    const r = await postJson(`${stack.url}/v1/completions`, { model: 'claude:claude-sonnet-4-5', prompt: 'p', ...extra });
    openaiError(assert, r, 400);
  }
});

// ================================ OpenAI -> Gemini ================================

test('gemini: plain chat uses generateContent with the key in x-goog-api-key', T, async () => {
  const r = await chatOk({ model: 'gem:gemini-2.0-flash', messages: [user('hello gemini')] }, {
    headers: { authorization: 'Bearer client-secret-key-789' },
  });
  const rec = lastGemini('generateContent');
  assert.equal(rec.path, '/v1beta/models/gemini-2.0-flash:generateContent');
  assert.equal(rec.status, 200, rec.responseBody);
  assert.equal(rec.headers['x-goog-api-key'], GEMINI_KEY);
  assert.equal(rec.keySource, 'header');
  assert.ok(!('key' in rec.query), `no key in the URL: ${rec.url}`);
  assert.ok(!rec.url.includes(GEMINI_KEY));
  assert.ok(!JSON.stringify(rec.headers).includes('client-secret-key'));
  assert.deepEqual(rec.body.contents, [{ role: 'user', parts: [{ text: 'hello gemini' }] }]);
  const upstream = JSON.parse(rec.responseBody);

  assert.equal(r.json.choices[0].message.content, 'echo: hello gemini');
  assert.equal(r.json.choices[0].finish_reason, 'stop');
  assert.equal(r.json.model, 'gemini-2.0-flash');
  assert.equal(r.json.usage.prompt_tokens, upstream.usageMetadata.promptTokenCount);
  assert.equal(r.json.usage.completion_tokens, upstream.usageMetadata.candidatesTokenCount);
  assert.equal(r.json.usage.total_tokens, upstream.usageMetadata.totalTokenCount);
  assert.equal(r.headers['x-kakehashi-provider'], 'gem');
  assert.equal(r.headers['x-kakehashi-model'], 'gemini-2.0-flash');
});

test('gemini: system prompt becomes systemInstruction; assistant turns become role model', T, async () => {
  const r = await chatOk({
    model: 'gem:gemini-2.5-pro',
    messages: [
      { role: 'system', content: 'You are terse.' },
      user('first'),
      { role: 'assistant', content: 'reply one' },
      user([{ type: 'text', text: 'second' }]),
    ],
    max_tokens: 64,
    temperature: 0.3,
    top_p: 0.8,
    stop: ['END'],
    user: 'user-1',
    seed: 3,
  });
  assert.equal(r.json.choices[0].message.content, 'echo: second');
  const body = lastGemini('generateContent').body;
  assert.deepEqual(body.systemInstruction?.parts?.map((p) => p.text), ['You are terse.']);
  assert.deepEqual(body.contents.map((c) => c.role), ['user', 'model', 'user']);
  assert.deepEqual(body.contents.map((c) => c.parts.map((p) => p.text).join('')), ['first', 'reply one', 'second']);
  const gc = body.generationConfig;
  assert.equal(gc.maxOutputTokens, 64);
  assert.equal(gc.temperature, 0.3);
  assert.equal(gc.topP, 0.8);
  assert.deepEqual(gc.stopSequences, ['END']);
});

test('gemini: images arrive as inlineData (data URL) and as inline or file data (http URL)', T, async () => {
  const r = await chatOk({
    model: 'gem:gemini-2.0-flash',
    messages: [user([
      { type: 'text', text: 'describe' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_B64}` } },
      { type: 'image_url', image_url: { url: imageUrl } },
    ])],
  });
  assert.equal(r.json.choices[0].message.content, 'echo: describe [images: 2]');
  const parts = lastGemini('generateContent').body.contents[0].parts;
  assert.deepEqual(parts[0], { text: 'describe' });
  assert.deepEqual(parts[1], { inlineData: { mimeType: 'image/png', data: PNG_B64 } });
  const p = parts[2];
  assert.ok((p.fileData && p.fileData.fileUri === imageUrl)
    || (p.inlineData && p.inlineData.data === PNG_B64 && p.inlineData.mimeType === 'image/png'), JSON.stringify(p));
});

test('gemini: tools become functionDeclarations; a functionCall becomes tool_calls', T, async () => {
  const r = await chatOk({
    model: 'gem:tool-get_weather',
    messages: [user('weather in Kyoto?')],
    tools: [WEATHER_TOOL, TIME_TOOL],
    tool_choice: 'auto',
  });
  const body = lastGemini('generateContent').body;
  const decls = body.tools.flatMap((t) => t.functionDeclarations ?? []);
  assert.deepEqual(decls.map((d) => d.name), ['get_weather', 'get_time']);
  assert.equal(decls[0].description, 'Current weather for a city');
  const params = decls[0].parameters ?? decls[0].parametersJsonSchema;
  assert.deepEqual(params.properties.city.type.toLowerCase(), 'string');
  assert.deepEqual(params.required, ['city']);
  const mode = body.toolConfig?.functionCallingConfig?.mode;
  assert.ok(mode === undefined || mode === 'AUTO', `mode: ${mode}`);

  const choice = r.json.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.tool_calls.length, 1);
  const tc = choice.message.tool_calls[0];
  assert.equal(tc.type, 'function');
  assert.ok(typeof tc.id === 'string' && tc.id.length > 0, 'a tool call id is made up');
  assert.equal(tc.function.name, 'get_weather');
  assert.equal(typeof tc.function.arguments, 'string');
  assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'sample city', unit: 'celsius' });
});

test('gemini: tool_choice required / named / none map to functionCallingConfig', T, async () => {
  const base = { model: 'gem:gemini-2.0-flash', messages: [user('choose')], tools: [WEATHER_TOOL, TIME_TOOL] };
  await chatOk({ ...base, tool_choice: 'required' });
  assert.equal(lastGemini('generateContent').body.toolConfig?.functionCallingConfig?.mode, 'ANY');
  await chatOk({ ...base, tool_choice: { type: 'function', function: { name: 'get_time' } } });
  const fcc = lastGemini('generateContent').body.toolConfig?.functionCallingConfig;
  assert.equal(fcc?.mode, 'ANY');
  assert.deepEqual(fcc?.allowedFunctionNames, ['get_time']);
  await chatOk({ ...base, tool_choice: 'none' });
  const b = lastGemini('generateContent').body;
  assert.ok(b.toolConfig?.functionCallingConfig?.mode === 'NONE' || !b.tools?.length, JSON.stringify(b.toolConfig));
});

test('gemini: tool results round trip as functionCall / functionResponse', T, async () => {
  const r = await chatOk({
    model: 'gem:gemini-2.0-flash',
    tools: [WEATHER_TOOL, TIME_TOOL],
    messages: [
      user('weather and time?'),
      { role: 'assistant', content: null, tool_calls: [
        { id: 'call_g1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Kyoto"}' } },
        { id: 'call_g2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
      ] },
      { role: 'tool', tool_call_id: 'call_g1', content: '{"temp":21}' },
      { role: 'tool', tool_call_id: 'call_g2', content: 'noon' },
    ],
  });
  const rec = lastGemini('generateContent');
  assert.equal(rec.status, 200, rec.responseBody);
  const contents = rec.body.contents;
  assert.deepEqual(contents.map((c) => c.role), ['user', 'model', 'user']);
  const calls = contents[1].parts.map((p) => p.functionCall).filter(Boolean);
  assert.deepEqual(calls.map((c) => [c.name, c.args ?? {}]), [['get_weather', { city: 'Kyoto' }], ['get_time', {}]]);
  const responses = contents[2].parts.map((p) => p.functionResponse).filter(Boolean);
  assert.deepEqual(responses.map((x) => x.name), ['get_weather', 'get_time'], 'names looked up from tool_call_id');
  for (const x of responses) assert.ok(x.response && typeof x.response === 'object' && !Array.isArray(x.response));
  assert.ok(JSON.stringify(responses[0].response).includes('21'), JSON.stringify(responses[0]));
  assert.ok(JSON.stringify(responses[1].response).includes('noon'), JSON.stringify(responses[1]));
  assert.match(r.json.choices[0].message.content, /^echo: \[functionResponse get_weather: .*21.*\] \[functionResponse get_time: .*noon.*\]$/);
});

test('gemini: scripted parallel functionCalls become indexed tool_calls with distinct ids', T, async () => {
  stack.gemini.nextReply({ parts: [
    { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
    { functionCall: { name: 'get_time', args: { tz: 'CET' } } },
  ] });
  const r = await chatOk({ model: 'gem:gemini-2.0-flash', messages: [user('both')], tools: [WEATHER_TOOL, TIME_TOOL] });
  const tcs = r.json.choices[0].message.tool_calls;
  assert.equal(r.json.choices[0].finish_reason, 'tool_calls');
  assert.deepEqual(tcs.map((t) => [t.function.name, JSON.parse(t.function.arguments)]),
    [['get_weather', { city: 'Paris' }], ['get_time', { tz: 'CET' }]]);
  assert.notEqual(tcs[0].id, tcs[1].id);
});

test('gemini: stop reasons MAX_TOKENS -> length, SAFETY -> content_filter', T, async () => {
  const r1 = await chatOk({ model: 'gem:max-tokens', messages: [user('long')], max_tokens: 2 });
  assert.equal(r1.json.choices[0].finish_reason, 'length');
  assert.equal(lastGemini('generateContent').body.generationConfig.maxOutputTokens, 2);

  const r2 = await chatOk({ model: 'gem:safety', messages: [user('something bad')] });
  assert.equal(r2.json.choices[0].finish_reason, 'content_filter');
  assert.ok(!r2.json.choices[0].message.content, JSON.stringify(r2.json.choices[0].message));
});

test('gemini: a blocked prompt answers content_filter (or a 400), never a 5xx', T, async () => {
  const r = await chat({ model: 'gem:blocked', messages: [user('blocked prompt')] });
  if (r.status === 200) {
    assert.equal(r.json.choices[0].finish_reason, 'content_filter', r.body);
  } else {
    openaiError(assert, r, 400);
  }
});

test('gemini: streaming text uses streamGenerateContent?alt=sse and becomes OpenAI chunks', T, async () => {
  const { a } = await streamOk({ model: 'gem:gemini-2.0-flash', messages: [user('stream from gemini')],
    stream_options: { include_usage: true } });
  const rec = lastGemini('streamGenerateContent');
  assert.equal(rec.path, '/v1beta/models/gemini-2.0-flash:streamGenerateContent');
  assert.equal(rec.alt, 'sse');
  assert.equal(rec.keySource, 'header');
  assert.ok(!('key' in rec.query));
  assert.equal(a.role, 'assistant');
  assert.equal(a.content, 'echo: stream from gemini');
  assert.equal(a.finish, 'stop');
  const frames = rec.responseBody.split('\r\n\r\n').filter(Boolean).map((f) => JSON.parse(f.replace(/^data: /, '')));
  const um = frames.at(-1).usageMetadata;
  assert.deepEqual(a.chunks.at(-1).choices, []);
  assert.equal(a.usage.prompt_tokens, um.promptTokenCount);
  assert.equal(a.usage.completion_tokens, um.candidatesTokenCount);
  assert.equal(a.usage.total_tokens, um.totalTokenCount);
});

test('gemini: streaming without include_usage has no usage chunk', T, async () => {
  const { a } = await streamOk({ model: 'gem:gemini-2.0-flash', messages: [user('no usage here')] });
  assert.equal(a.content, 'echo: no usage here');
  assert.equal(a.usage, null);
  assert.ok(a.chunks.every((c) => c.choices.length === 1));
});

test('gemini: streaming tool calls assemble into complete tool_calls', T, async () => {
  const { a } = await streamOk({ model: 'gem:tool-get_weather', messages: [user('stream a tool')], tools: [WEATHER_TOOL] });
  assert.equal(a.finish, 'tool_calls');
  assert.equal(a.toolCalls.length, 1);
  assert.ok(a.toolCalls[0].id.length > 0);
  assert.equal(a.toolCalls[0].type, 'function');
  assert.equal(a.toolCalls[0].name, 'get_weather');
  assert.deepEqual(JSON.parse(a.toolCalls[0].arguments), { city: 'sample city', unit: 'celsius' });
});

test('gemini: streamed SAFETY stop -> content_filter', T, async () => {
  const { a } = await streamOk({ model: 'gem:safety', messages: [user('bad')] });
  assert.equal(a.finish, 'content_filter');
});

test('gemini: upstream errors become OpenAI errors with the right status', T, async () => {
  const cases = [['gem:fault-400', 400], ['gem:fault-401', 401], ['gem:fault-403', 403], ['gem:fault-429', 429],
    ['gem:fault-500', 500], ['gem:fault-503', 503]];
  for (const [model, status] of cases) {
    const r = await chat({ model, messages: [user('x')] });
    const err = openaiError(assert, r, status);
    assert.ok(!/^\s*\{/.test(err.message), `message is text: ${err.message}`);
    assert.equal(r.headers['x-kakehashi-provider'], 'gem');
  }
  const r = await chat({ model: 'gem:fault-503', messages: [user('x')] });
  assert.match(r.json.error.message, /overloaded/);
});

test('gemini: a wrong provider key is reported with the upstream message', T, async () => {
  const r = await chat({ model: 'gem-bad:gemini-wrongkey', messages: [user('x')] });
  assert.ok(r.status === 400 || r.status === 401, `status ${r.status}: ${r.body}`);
  const err = openaiError(assert, r, r.status);
  assert.match(err.message, /API key not valid/);
  assert.ok(!err.message.includes('AIza-wrong-key'));
});

test('gemini: an error event mid-stream becomes an error event, then the stream ends', T, async () => {
  const r = await streamAll(CHAT(), { model: 'gem:fault-stream-error', messages: [user('one two three four')], stream: true });
  assert.equal(r.status, 200);
  const a = assemble(r.text);
  assert.ok(a.content.length > 0, r.text);
  assert.equal(a.errors.length, 1, `one error event: ${r.text}`);
  assert.match(a.errors[0].message, /overloaded/);
  assert.notEqual(a.finish, 'stop');
  const idx = a.data.findIndex((d) => d.includes('"error"'));
  assert.ok(a.data.slice(idx + 1).every((d) => d === '[DONE]'), r.text);
  assert.equal(r.complete, true);
});

test('gemini: /v1/completions is served through generateContent, plain and streamed', T, async () => {
  const r = await postJson(`${stack.url}/v1/completions`, { model: 'gem:gemini-2.0-flash', prompt: 'legacy gemini', max_tokens: 9 });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.object, 'text_completion');
  assert.equal(r.json.choices[0].text, 'echo: legacy gemini');
  assert.equal(r.json.choices[0].finish_reason, 'stop');
  assert.ok(r.json.usage.total_tokens > 0);
  const body = lastGemini('generateContent').body;
  assert.deepEqual(body.contents, [{ role: 'user', parts: [{ text: 'legacy gemini' }] }]);
  assert.equal(body.generationConfig.maxOutputTokens, 9);

  const s = await streamAll(`${stack.url}/v1/completions`, { model: 'gem:gemini-2.0-flash', prompt: 'legacy gemini stream', stream: true });
  assert.equal(s.status, 200, s.text);
  const chunks = sseJson(s.text);
  assert.ok(chunks.every((x) => x.object === 'text_completion'), s.text);
  assert.equal(chunks.map((x) => x.choices[0]?.text ?? '').join(''), 'echo: legacy gemini stream');
  assert.equal(sseData(s.text).at(-1), '[DONE]');
});

test('gemini: /v1/embeddings (float) match embedContent vectors', T, async () => {
  const r = await postJson(`${stack.url}/v1/embeddings`, { model: 'gem:text-embedding-004', input: ['alpha', 'beta'],
    encoding_format: 'float' });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.object, 'list');
  assert.equal(r.json.data.length, 2);
  r.json.data.forEach((d, i) => {
    assert.equal(d.object, 'embedding');
    assert.equal(d.index, i);
  });
  assert.deepEqual(r.json.data[0].embedding, embedText('alpha', 8));
  assert.deepEqual(r.json.data[1].embedding, embedText('beta', 8));
  assert.equal(r.json.model, 'text-embedding-004');
  assert.ok(r.json.usage && Number.isInteger(r.json.usage.prompt_tokens), JSON.stringify(r.json.usage));
  assert.equal(r.headers['x-kakehashi-provider'], 'gem');
  const rec = stack.gemini.lastRequest((q) => q.rpc === 'batchEmbedContents' || q.rpc === 'embedContent');
  assert.ok(rec, 'an embed request reached Gemini');
  assert.equal(rec.status, 200, rec.responseBody);
  assert.equal(rec.keySource, 'header');
  assert.ok(!('key' in rec.query));

  const one = await postJson(`${stack.url}/v1/embeddings`, { model: 'gem:text-embedding-004', input: 'single' });
  assert.equal(one.status, 200, one.body);
  assert.equal(one.json.data.length, 1);
  assert.deepEqual(one.json.data[0].embedding, embedText('single', 8));
});

test('gemini: /v1/embeddings base64 and dimensions', T, async () => {
  const r = await postJson(`${stack.url}/v1/embeddings`, { model: 'gem:text-embedding-004', input: ['alpha', 'gamma'],
    encoding_format: 'base64' });
  assert.equal(r.status, 200, r.body);
  const decode = (b64) => {
    const buf = Buffer.from(b64, 'base64');
    return Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
  };
  assert.equal(typeof r.json.data[0].embedding, 'string');
  assert.deepEqual(decode(r.json.data[0].embedding), embedText('alpha', 8));
  assert.deepEqual(decode(r.json.data[1].embedding), embedText('gamma', 8));

  const d = await postJson(`${stack.url}/v1/embeddings`, { model: 'gem:text-embedding-004', input: ['alpha'], dimensions: 4 });
  assert.equal(d.status, 200, d.body);
  assert.equal(d.json.data[0].embedding.length, 4);
  assert.deepEqual(d.json.data[0].embedding, embedText('alpha', 4));
});

test('no request ever carried a provider key in its URL', T, async () => {
  for (const rec of stack.gemini.requests()) {
    assert.ok(!rec.url.includes(GEMINI_KEY) && !rec.url.includes('AIza-wrong-key') && !('key' in rec.query), rec.url);
    if (rec.method === 'POST') assert.equal(rec.keySource, 'header', rec.url);
  }
  for (const rec of stack.anthropic.requests()) {
    assert.ok(!rec.url.includes(ANTHROPIC_KEY), rec.url);
    assert.ok(rec.headers['x-api-key'], `x-api-key on ${rec.method} ${rec.url}`);
  }
});

// The gateway learns the route from the model a body names first, before reading the body; a
// body that names its model again is routed on the last, as JSON readers take it.
test('a body naming its model twice is routed on the last, whichever wire format each is', T, async () => {
  const marker = `twice ${Math.random().toString(36).slice(2)}`;
  const headers = { 'content-type': 'application/json' };
  const toOpenAI = `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"${marker} a"}],"model":"gpt-4o"}`;
  let r = await postJson(CHAT(), toOpenAI, { headers });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-kakehashi-provider'], 'oa');
  assert.ok(stack.openai.lastRequest((q) => JSON.stringify(q.body ?? {}).includes(`${marker} a`)),
    'the OpenAI-wire upstream received the request');

  const toClaude = `{"model":"gpt-4o","messages":[{"role":"user","content":"${marker} b"}],"model":"claude-sonnet-4-5"}`;
  r = await postJson(CHAT(), toClaude, { headers });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-kakehashi-provider'], 'claude');
  const rec = lastAnthropic();
  assert.ok(JSON.stringify(rec.body).includes(`${marker} b`), 'the Anthropic upstream received it');
  assert.equal(rec.body.model, 'claude-sonnet-4-5');
});
