// The official `@anthropic-ai/sdk` against kakehashi's /v1/messages, routed (a) to an OpenAI-wire
// provider (translation) and (b) to an Anthropic provider (pass-through), the way users point it at
// the gateway: new Anthropic({ baseURL: gatewayUrl, apiKey: 'dummy-key' }).
// Run: cd tests/clients && npm ci && npm test

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { startTranslationStack, ANTHROPIC_KEY } from '../integration/lib/stack.mjs';

let stack;
let client;
before(async () => {
  stack = await startTranslationStack();
  client = new Anthropic({ baseURL: stack.url, apiKey: 'dummy-key', maxRetries: 0, timeout: 15000 });
});
after(async () => {
  await stack?.stop();
});

const T = { timeout: 20000 };
const WEATHER = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

// (a) OpenAI-wire provider: plain answers from the OpenAI fake (`oa`), tool answers scripted on
// the `oas` upstream. (b) Anthropic provider: the Anthropic fake, whose `tool-<name>` models answer
// with a tool_use.
const BACKENDS = [
  {
    name: 'openai-wire',
    model: 'oa:gpt-4o',
    upstreamModel: 'gpt-4o',
    provider: 'oa',
    toolModel: 'oas:scripted',
    scriptTool: () => stack.scripted.nextReply({ content: 'Let me call get_weather.', tool_calls: [
      { name: 'get_weather', arguments: { city: 'sample city' } }] }),
    scriptEcho: () => {},
    lastToolRequest: () => stack.scripted.lastRequest((q) => q.path === '/v1/chat/completions'),
  },
  {
    name: 'anthropic',
    model: 'claude:claude-sonnet-4-5',
    upstreamModel: 'claude-sonnet-4-5',
    provider: 'claude',
    toolModel: 'claude:tool-get_weather',
    followModel: 'claude:claude-sonnet-4-5',
    scriptTool: () => {},
    lastToolRequest: () => stack.anthropic.lastRequest((q) => q.path === '/v1/messages'),
  },
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

for (const B of BACKENDS) {
  test(`${B.name}: messages.create text`, T, async () => {
    const { data: m, response } = await client.messages.create({
      model: B.model, max_tokens: 64, messages: [{ role: 'user', content: `hello ${B.name}` }],
    }).withResponse();
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.match(m.id, /^msg_/);
    assert.equal(m.model, B.upstreamModel);
    assert.deepEqual(m.content, [{ type: 'text', text: `echo: hello ${B.name}` }]);
    assert.equal(m.stop_reason, 'end_turn');
    assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
    assert.equal(response.headers.get('x-kakehashi-provider'), B.provider);
    assert.ok(response.headers.get('x-request-id'));
  });

  test(`${B.name}: messages.create with system and multi-turn`, T, async () => {
    const m = await client.messages.create({
      model: B.model,
      max_tokens: 64,
      system: 'Answer in one word.',
      messages: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'first answer' },
        { role: 'user', content: [{ type: 'text', text: 'second question' }] },
      ],
    });
    assert.equal(m.content[0].text, 'echo: second question');
    if (B.name === 'openai-wire') {
      const body = stack.openai.lastRequest((q) => q.path === '/v1/chat/completions').body;
      assert.deepEqual(body.messages.map((x) => x.role), ['system', 'user', 'assistant', 'user']);
    } else {
      const body = stack.anthropic.lastRequest((q) => q.path === '/v1/messages').body;
      assert.equal(body.system, 'Answer in one word.');
      assert.equal(body.messages.length, 3);
    }
  });

  test(`${B.name}: tool_use -> tool_result round trip`, T, async () => {
    B.scriptTool();
    const messages = [{ role: 'user', content: 'weather in Paris?' }];
    const first = await client.messages.create({ model: B.toolModel, max_tokens: 200, tools: [WEATHER], messages });
    assert.equal(first.stop_reason, 'tool_use');
    const tu = first.content.find((b) => b.type === 'tool_use');
    assert.ok(tu, JSON.stringify(first.content));
    assert.equal(tu.name, 'get_weather');
    assert.deepEqual(tu.input, { city: 'sample city' });
    assert.ok(tu.id);
    assert.equal(first.content[0].type, 'text');
    assert.equal(first.content[0].text, 'Let me call get_weather.');

    messages.push({ role: 'assistant', content: first.content });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: tu.id, content: 'sunny, 21C' }] });
    const second = await client.messages.create({ model: B.followModel ?? B.toolModel, max_tokens: 200, tools: [WEATHER], messages });
    assert.equal(second.stop_reason, 'end_turn');
    if (B.name === 'anthropic') {
      assert.equal(second.content[0].text, `echo: [tool_result ${tu.id}: sunny, 21C]`);
    } else {
      const msgs = B.lastToolRequest().body.messages;
      const tool = msgs.find((x) => x.role === 'tool');
      assert.equal(tool.tool_call_id, tu.id);
      assert.equal(typeof tool.content === 'string' ? tool.content : tool.content.map((p) => p.text).join(''), 'sunny, 21C');
      const asst = msgs.find((x) => x.role === 'assistant');
      assert.equal(asst.tool_calls[0].id, tu.id);
      assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments), { city: 'sample city' });
    }
  });

  test(`${B.name}: messages.stream() events and finalMessage()`, T, async () => {
    const stream = client.messages.stream({
      model: B.model, max_tokens: 64, messages: [{ role: 'user', content: 'stream to the sdk' }],
    });
    const types = [];
    let text = '';
    stream.on('streamEvent', (ev) => types.push(ev.type));
    stream.on('text', (delta) => {
      text += delta;
    });
    const final = await stream.finalMessage();
    assert.equal(text, 'echo: stream to the sdk');
    assert.deepEqual(final.content, [{ type: 'text', text: 'echo: stream to the sdk' }]);
    assert.equal(final.stop_reason, 'end_turn');
    assert.ok(final.usage.output_tokens > 0, JSON.stringify(final.usage));
    assert.equal(types[0], 'message_start');
    assert.equal(types.at(-1), 'message_stop');
    assert.ok(types.includes('content_block_start') && types.includes('content_block_delta')
      && types.includes('content_block_stop') && types.includes('message_delta'), types.join(','));
  });

  test(`${B.name}: streaming tool use is assembled into input by the SDK`, T, async () => {
    B.scriptTool();
    const stream = client.messages.stream({
      model: B.toolModel, max_tokens: 200, tools: [WEATHER], messages: [{ role: 'user', content: 'weather, streamed' }],
    });
    let jsonDeltas = 0;
    stream.on('inputJson', () => {
      jsonDeltas++;
    });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    const tu = final.content.find((b) => b.type === 'tool_use');
    assert.ok(tu, JSON.stringify(final.content));
    assert.equal(tu.name, 'get_weather');
    assert.deepEqual(tu.input, { city: 'sample city' });
    assert.ok(jsonDeltas > 0, 'input_json_delta events were seen');
  });

  test(`${B.name}: messages.countTokens`, T, async () => {
    const small = await client.messages.countTokens({ model: B.model, messages: [{ role: 'user', content: 'hi' }] });
    const big = await client.messages.countTokens({
      model: B.model, system: 'You are a helpful assistant.',
      messages: [{ role: 'user', content: 'tell me a long story about bridges '.repeat(30) }],
    });
    assert.ok(Number.isInteger(small.input_tokens) && small.input_tokens > 0, JSON.stringify(small));
    assert.ok(big.input_tokens > small.input_tokens * 10, `${small.input_tokens} -> ${big.input_tokens}`);
  });

  test(`${B.name}: typed errors`, T, async () => {
    await expectError(client.messages.create({ model: `${B.provider}:fault-429`, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      Anthropic.RateLimitError, (e) => {
        assert.equal(e.status, 429);
        assert.equal(e.error?.error?.type, 'rate_limit_error');
      });
    await expectError(client.messages.create({ model: `${B.provider}:fault-401`, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      Anthropic.AuthenticationError);
    await expectError(client.messages.create({ model: `${B.provider}:fault-500`, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      Anthropic.InternalServerError);
    // A request the Messages API rejects: max_tokens must be >= 1.
    await expectError(client.messages.create({ model: B.model, max_tokens: 0, messages: [{ role: 'user', content: 'x' }] }),
      Anthropic.BadRequestError, (e) => {
        assert.equal(e.status, 400);
        assert.equal(e.error?.error?.type, 'invalid_request_error');
      });
  });
}

test('unknown model -> Anthropic.NotFoundError (create, stream, countTokens)', T, async () => {
  await expectError(client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    Anthropic.NotFoundError, (e) => {
      assert.equal(e.status, 404);
      assert.equal(e.error?.type, 'error');
      assert.equal(e.error?.error?.type, 'not_found_error');
    });
  await expectError(client.messages.stream({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).finalMessage(),
    Anthropic.NotFoundError);
  await expectError(client.messages.countTokens({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    Anthropic.NotFoundError);
});

test('request ids are visible to the SDK (it reads the `request-id` header, as the Messages API sends it)', T, async () => {
  // The gateway's own errors and translated answers: the SDK exposes `request-id` as
  // err.requestID / message._request_id; x-request-id alone leaves them empty.
  const err = await expectError(client.messages.create({ model: 'no-such-model', max_tokens: 10,
    messages: [{ role: 'user', content: 'x' }] }), Anthropic.NotFoundError);
  assert.ok(err.requestID, `requestID on a gateway error; headers: ${JSON.stringify(Object.fromEntries(err.headers ?? []))}`);
  const m = await client.messages.create({ model: 'oa:gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'id' }] });
  assert.ok(m._request_id, '_request_id on a translated answer');
});

test('a malformed request -> Anthropic.BadRequestError', T, async () => {
  await expectError(client.messages.create({ model: 'oa:gpt-4o', max_tokens: 10, messages: 'not a list' }),
    Anthropic.BadRequestError, (e) => assert.equal(e.error?.error?.type, 'invalid_request_error'));
  await expectError(client.messages.create({ model: 'oa:gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'x' }],
    stream: 'yes' }), Anthropic.BadRequestError);
});

test('mid-stream upstream error: the SDK stream rejects with an APIError', T, async () => {
  for (const model of ['claude:fault-stream-error', 'oa:fault-drop-3']) {
    const stream = client.messages.stream({ model, max_tokens: 50, messages: [{ role: 'user', content: 'one two three four five' }] });
    stream.on('error', () => {});
    await expectError(stream.finalMessage(), Anthropic.APIError);
  }
});

test('anthropic pass-through: the SDK request body arrives unchanged except the model', T, async () => {
  const params = {
    model: 'claude-sonnet-4-5', max_tokens: 99, temperature: 0.1, stop_sequences: ['###'],
    system: [{ type: 'text', text: 'sys' }], metadata: { user_id: 'sdk-user' },
    messages: [{ role: 'user', content: 'exact body' }],
  };
  await client.messages.create(params);
  const rec = stack.anthropic.lastRequest((q) => q.path === '/v1/messages');
  assert.deepEqual(rec.body, params);
  assert.equal(rec.headers['x-api-key'], ANTHROPIC_KEY);
  assert.ok(!JSON.stringify(rec.headers).includes('dummy-key'), 'the SDK key is not forwarded');
});

// ---- how the SDK authenticates, and that the gateway accepts each form ----

test('SDK auth headers: apiKey and authToken are sent as Authorization: Bearer (recorded locally)', T, async () => {
  const seen = [];
  const srv = http.createServer((req, res) => {
    seen.push({ ...req.headers });
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'msg_01x', type: 'message', role: 'assistant', model: 'm', content: [],
        stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } }));
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${srv.address().port}`;
  try {
    const args = { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }] };
    await new Anthropic({ baseURL: url, apiKey: 'key-A', maxRetries: 0 }).messages.create(args);
    await new Anthropic({ baseURL: url, authToken: 'token-B', apiKey: null, maxRetries: 0 }).messages.create(args);
    const keyOf = (h) => h['x-api-key'] ?? h.authorization;
    assert.ok(['key-A', 'Bearer key-A'].includes(keyOf(seen[0])), JSON.stringify(seen[0]));
    assert.equal(seen[1].authorization, 'Bearer token-B');
    assert.ok(seen.every((h) => h['anthropic-version']), 'anthropic-version is sent');
  } finally {
    srv.closeAllConnections?.();
    await new Promise((r) => srv.close(() => r()));
  }
});

test('the gateway accepts apiKey, authToken and x-api-key clients alike', T, async () => {
  const clients = [
    new Anthropic({ baseURL: stack.url, apiKey: 'dummy-key', maxRetries: 0 }),
    new Anthropic({ baseURL: stack.url, authToken: 'dummy-token', apiKey: null, maxRetries: 0 }),
    new Anthropic({ baseURL: stack.url, apiKey: null, authToken: null, defaultHeaders: { 'x-api-key': 'dummy-x-api-key' },
      maxRetries: 0 }),
  ];
  for (const c of clients) {
    for (const model of ['oa:gpt-4o', 'claude:claude-sonnet-4-5']) {
      const m = await c.messages.create({ model, max_tokens: 10, messages: [{ role: 'user', content: 'auth form' }] });
      assert.equal(m.content[0].text, 'echo: auth form');
    }
  }
  const rec = stack.anthropic.lastRequest((q) => q.path === '/v1/messages');
  assert.equal(rec.headers['x-api-key'], ANTHROPIC_KEY);
  assert.ok(!JSON.stringify(rec.headers).includes('dummy-'), JSON.stringify(rec.headers));
});
