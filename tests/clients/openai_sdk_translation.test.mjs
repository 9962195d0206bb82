// The official `openai` SDK through kakehashi to `type: anthropic` and `type: gemini` providers
// (the Anthropic and Gemini fakes): what an OpenAI-SDK user sees must not depend on the provider.
// Run: cd tests/clients && npm ci && npm test

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTranslationStack } from '../integration/lib/stack.mjs';
import { embedText } from '../fake_upstream/common.mjs';

let stack;
let client;
before(async () => {
  stack = await startTranslationStack();
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'dummy-key', maxRetries: 0, timeout: 15000 });
});
after(async () => {
  await stack?.stop();
});

const T = { timeout: 20000 };
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

const PROVIDERS = [
  { name: 'anthropic', provider: 'claude', model: 'claude:claude-sonnet-4-5', upstreamModel: 'claude-sonnet-4-5',
    tool: 'claude:tool-get_weather', maxTok: 'claude:max-tokens', fake: () => stack.anthropic,
    last: () => stack.anthropic.lastRequest((q) => q.path === '/v1/messages') },
  { name: 'gemini', provider: 'gem', model: 'gem:gemini-2.0-flash', upstreamModel: 'gemini-2.0-flash',
    tool: 'gem:tool-get_weather', maxTok: 'gem:max-tokens', fake: () => stack.gemini,
    last: () => stack.gemini.lastRequest((q) => q.method === 'POST') },
];

async function expectError(promise, Klass, check) {
  let caught;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught, 'expected an error');
  assert.ok(caught instanceof Klass, `expected ${Klass.name}, got ${caught?.constructor?.name}: ${caught?.message}`);
  check?.(caught);
  return caught;
}

for (const P of PROVIDERS) {
  test(`${P.name}: chat.completions.create with a system prompt`, T, async () => {
    const { data: c, response } = await client.chat.completions.create({
      model: P.model,
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: `hello ${P.name}` }],
    }).withResponse();
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.model, P.upstreamModel);
    assert.equal(c.choices[0].message.role, 'assistant');
    assert.equal(c.choices[0].message.content, `echo: hello ${P.name}`);
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.ok(c.usage.prompt_tokens > 0 && c.usage.completion_tokens > 0);
    assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
    assert.equal(response.headers.get('x-kakehashi-provider'), P.provider);
    assert.equal(response.headers.get('x-kakehashi-model'), P.upstreamModel);
    assert.ok(c._request_id, 'x-request-id exposed as _request_id');
    const body = P.last().body;
    if (P.name === 'anthropic') assert.equal(body.system, 'be brief');
    else assert.deepEqual(body.systemInstruction.parts.map((p) => p.text), ['be brief']);
  });

  test(`${P.name}: multi-turn conversation`, T, async () => {
    const c = await client.chat.completions.create({
      model: P.model,
      messages: [
        { role: 'user', content: 'my name is Kei' },
        { role: 'assistant', content: 'Hello Kei.' },
        { role: 'user', content: 'what is my name?' },
      ],
    });
    assert.equal(c.choices[0].message.content, 'echo: what is my name?');
    const body = P.last().body;
    const roles = P.name === 'anthropic' ? body.messages.map((m) => m.role) : body.contents.map((m) => m.role);
    assert.deepEqual(roles, P.name === 'anthropic' ? ['user', 'assistant', 'user'] : ['user', 'model', 'user']);
  });

  test(`${P.name}: image content parts`, T, async () => {
    const c = await client.chat.completions.create({
      model: P.model,
      messages: [{ role: 'user', content: [
        { type: 'text', text: 'what is in the picture' },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_B64}` } },
      ] }],
    });
    assert.equal(c.choices[0].message.content, 'echo: what is in the picture [images: 1]');
  });

  test(`${P.name}: tools, tool_calls and tool results round trip`, T, async () => {
    const messages = [{ role: 'user', content: 'weather in Paris?' }];
    const first = await client.chat.completions.create({ model: P.tool, messages, tools: [WEATHER_TOOL] });
    const choice = first.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'sample city' });
    assert.ok(call.id);

    // The SDK user appends the assistant message as received and a tool message per call.
    messages.push(choice.message);
    messages.push({ role: 'tool', tool_call_id: call.id, content: 'sunny, 21C' });
    const second = await client.chat.completions.create({ model: P.model, messages, tools: [WEATHER_TOOL] });
    assert.equal(second.choices[0].finish_reason, 'stop');
    const text = second.choices[0].message.content;
    if (P.name === 'anthropic') assert.equal(text, `echo: [tool_result ${call.id}: sunny, 21C]`);
    else assert.match(text, /^echo: \[functionResponse get_weather: .*sunny, 21C.*\]$/);
  });

  test(`${P.name}: streaming text with the stream helper`, T, async () => {
    const runner = client.chat.completions.stream({
      model: P.model, messages: [{ role: 'user', content: 'stream with the helper' }],
    });
    let deltas = '';
    runner.on('content.delta', (e) => {
      deltas += e.delta;
    });
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].message.content, 'echo: stream with the helper');
    assert.equal(final.choices[0].finish_reason, 'stop');
    assert.equal(deltas, 'echo: stream with the helper');
  });

  test(`${P.name}: streaming with include_usage ends with the usage chunk`, T, async () => {
    const stream = await client.chat.completions.create({
      model: P.model, messages: [{ role: 'user', content: 'usage please' }], stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.ok(last.usage.prompt_tokens > 0 && last.usage.completion_tokens > 0, JSON.stringify(last.usage));
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    assert.equal(chunks.filter((c) => c.usage).length, 1);
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'echo: usage please');
  });

  test(`${P.name}: streaming tool calls are assembled by the SDK`, T, async () => {
    const runner = client.chat.completions.stream({
      model: P.tool, messages: [{ role: 'user', content: 'weather, streamed' }], tools: [WEATHER_TOOL],
    });
    const done = [];
    runner.on('tool_calls.function.arguments.done', (e) => done.push(e));
    const final = await runner.finalChatCompletion();
    const msg = final.choices[0].message;
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.tool_calls.length, 1);
    assert.ok(msg.tool_calls[0].id);
    assert.equal(msg.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), { city: 'sample city' });
    assert.equal(done.length, 1);
    assert.equal(done[0].name, 'get_weather');
    assert.deepEqual(JSON.parse(done[0].arguments), { city: 'sample city' });
  });

  test(`${P.name}: finish_reason length`, T, async () => {
    const c = await client.chat.completions.create({
      model: P.maxTok, messages: [{ role: 'user', content: 'long answer' }], max_tokens: 2,
    });
    assert.equal(c.choices[0].finish_reason, 'length');
  });

  test(`${P.name}: typed errors`, T, async () => {
    const prefix = P.provider;
    await expectError(client.chat.completions.create({ model: `${prefix}:fault-429`, messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.RateLimitError, (e) => assert.equal(e.status, 429));
    await expectError(client.chat.completions.create({ model: `${prefix}:fault-401`, messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.AuthenticationError);
    await expectError(client.chat.completions.create({ model: `${prefix}:fault-400`, messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.BadRequestError);
    await expectError(client.chat.completions.create({ model: `${prefix}:fault-500`, messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.InternalServerError, (e) => assert.equal(e.status, 500));
    const overloaded = P.name === 'anthropic' ? 'fault-529' : 'fault-503';
    await expectError(client.chat.completions.create({ model: `${prefix}:${overloaded}`, messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.InternalServerError, (e) => assert.equal(e.status, 503));
  });

  test(`${P.name}: an error event mid-stream makes the iteration throw`, T, async () => {
    const stream = await client.chat.completions.create({
      model: `${P.provider}:fault-stream-error`, messages: [{ role: 'user', content: 'one two three four' }], stream: true,
    });
    let text = '';
    await expectError((async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    })(), OpenAI.APIError, (e) => assert.match(e.message, /overloaded/i));
    assert.ok(text.length > 0, 'text before the error is delivered');
  });

  test(`${P.name}: legacy completions`, T, async () => {
    const c = await client.completions.create({ model: P.model, prompt: 'legacy prompt', max_tokens: 16 });
    assert.equal(c.object, 'text_completion');
    assert.equal(c.choices[0].text, 'echo: legacy prompt');
    assert.ok(c.usage.total_tokens > 0);
    const s = await client.completions.create({ model: P.model, prompt: 'legacy stream', stream: true });
    let text = '';
    for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
    assert.equal(text, 'echo: legacy stream');
  });
}

test('anthropic: a wrong provider key surfaces as AuthenticationError', T, async () => {
  await expectError(client.chat.completions.create({ model: 'claude-bad:claude-wrongkey', messages: [{ role: 'user', content: 'x' }] }),
    OpenAI.AuthenticationError, (e) => assert.match(e.message, /invalid x-api-key/));
});

test('gemini: content_filter when Gemini stops for SAFETY', T, async () => {
  const c = await client.chat.completions.create({ model: 'gem:safety', messages: [{ role: 'user', content: 'bad' }] });
  assert.equal(c.choices[0].finish_reason, 'content_filter');
  const runner = client.chat.completions.stream({ model: 'gem:safety', messages: [{ role: 'user', content: 'bad' }] });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].finish_reason, 'content_filter');
});

test('anthropic: parallel tool calls through the stream helper', T, async () => {
  stack.anthropic.nextReply({ content: [
    { type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } },
    { type: 'tool_use', name: 'get_weather', input: { city: 'Tokyo' } },
  ] });
  const runner = client.chat.completions.stream({
    model: 'claude:claude-sonnet-4-5', messages: [{ role: 'user', content: 'two cities' }], tools: [WEATHER_TOOL],
  });
  const final = await runner.finalChatCompletion();
  const calls = final.choices[0].message.tool_calls;
  assert.deepEqual(calls.map((c) => JSON.parse(c.function.arguments).city), ['Paris', 'Tokyo']);
  assert.notEqual(calls[0].id, calls[1].id);
});

test('gemini: embeddings, float and the SDK default (base64, decoded)', T, async () => {
  const f = await client.embeddings.create({ model: 'gem:text-embedding-004', input: ['alpha', 'beta'], encoding_format: 'float' });
  assert.equal(f.data.length, 2);
  assert.deepEqual(f.data[0].embedding, embedText('alpha', 8));
  const d = await client.embeddings.create({ model: 'gem:text-embedding-004', input: ['alpha', 'beta'] });
  assert.deepEqual(d.data.map((x) => x.embedding), f.data.map((x) => x.embedding));
});
