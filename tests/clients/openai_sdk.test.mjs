// The official `openai` SDK against the real kakehashi binary in front of the fake upstream.
// Run: cd tests/clients && npm ci && npm test

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startStack } from '../integration/lib/stack.mjs';

let stack;
let client;
before(async () => {
  stack = await startStack();
  client = new OpenAI({
    baseURL: `${stack.url}/v1`,
    apiKey: 'dummy-key', // no key is required on loopback; an unknown one is ignored (SPEC §2)
    maxRetries: 0,
    timeout: 15000,
  });
});
after(async () => {
  await stack?.stop();
});

const T = { timeout: 20000 };
const msgs = (text) => [{ role: 'system', content: 'be brief' }, { role: 'user', content: text }];

test('models.list pages through every routable name', T, async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    ids.push(m.id);
  }
  for (const id of ['fake:gpt-4o', 'gpt-4o', 'gpt-oss:20b', 'fake:openai/gpt-4o', 'openai/gpt-4o', 'gpt-4']) {
    assert.ok(ids.includes(id), `${id} missing from ${ids.join(', ')}`);
  }
});

test('models.retrieve, including ids with ":" and "/"', T, async () => {
  for (const id of ['gpt-4o', 'fake:gpt-4o', 'gpt-oss:20b', 'fake:gpt-oss:20b', 'openai/gpt-4o', 'fake:openai/gpt-4o']) {
    const m = await client.models.retrieve(id);
    assert.equal(m.id, id);
    assert.equal(m.object, 'model');
  }
});

test('chat.completions.create non-stream', T, async () => {
  const c = await client.chat.completions.create({ model: 'fake:gpt-4o', messages: msgs('hello sdk') });
  assert.equal(c.object, 'chat.completion');
  assert.equal(c.model, 'gpt-4o');
  assert.equal(c.choices[0].message.role, 'assistant');
  assert.equal(c.choices[0].message.content, 'echo: hello sdk');
  assert.equal(c.choices[0].finish_reason, 'stop');
  assert.ok(c.usage.total_tokens > 0);
  const rec = stack.up.lastRequest((q) => q.path === '/v1/chat/completions');
  assert.equal(rec.body.model, 'gpt-4o');
  assert.notEqual(rec.headers.authorization, 'Bearer dummy-key', 'client key not forwarded');
  assert.equal(rec.headers.authorization, 'Bearer sk-fake-provider-key');
});

test('chat stream without include_usage has no usage chunk', T, async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o', messages: msgs('stream plain'), stream: true,
  });
  let text = '';
  let n = 0;
  let finish = null;
  for await (const chunk of stream) {
    n++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.ok(chunk.usage === undefined || chunk.usage === null, `unexpected usage: ${JSON.stringify(chunk)}`);
    assert.ok(chunk.choices.length > 0, `unexpected usage-only chunk: ${JSON.stringify(chunk)}`);
    text += chunk.choices[0].delta.content ?? '';
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  assert.ok(n >= 3);
  assert.equal(text, 'echo: stream plain');
  assert.equal(finish, 'stop');
});

test('chat stream with include_usage ends with the usage chunk', T, async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o', messages: msgs('stream usage'), stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.ok(last.usage.total_tokens > 0);
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
  assert.equal(chunks.filter((c) => c.usage).length, 1, 'exactly one chunk carries usage');
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'echo: stream usage');
});

test('chat.completions.stream helper assembles the final completion', T, async () => {
  const runner = client.chat.completions.stream({ model: 'gpt-4', messages: msgs('helper') });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content, 'echo: helper');
  assert.equal(stack.up.lastRequest((q) => q.path === '/v1/chat/completions').body.model, 'gpt-4o');
});

test('completions.create, non-stream and stream', T, async () => {
  const c = await client.completions.create({ model: 'gpt-4o', prompt: 'legacy prompt', max_tokens: 8 });
  assert.equal(c.object, 'text_completion');
  assert.equal(c.choices[0].text, 'echo: legacy prompt');
  assert.ok(c.usage.total_tokens > 0);

  const s = await client.completions.create({ model: 'fake:gpt-4o', prompt: 'legacy stream', stream: true });
  let text = '';
  for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, 'echo: legacy stream');
});

test('embeddings: float and the SDK default (base64, decoded) give the same vectors', T, async () => {
  const f = await client.embeddings.create({
    model: 'text-embedding-3-small', input: ['alpha', 'beta'], encoding_format: 'float',
  });
  assert.equal(f.object, 'list');
  assert.equal(f.data.length, 2);
  assert.equal(f.data[0].embedding.length, 8);
  assert.equal(stack.up.lastRequest((q) => q.path === '/v1/embeddings').body.encoding_format, 'float');

  const d = await client.embeddings.create({ model: 'fake:text-embedding-3-small', input: ['alpha', 'beta'] });
  assert.equal(stack.up.lastRequest((q) => q.path === '/v1/embeddings').body.encoding_format, 'base64');
  assert.equal(d.data.length, 2);
  assert.deepEqual(d.data.map((x) => x.embedding), f.data.map((x) => x.embedding));
  assert.equal(d.usage.prompt_tokens, 2);
});

test('withResponse() exposes x-request-id and kakehashi headers', T, async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'fake:gpt-4o', messages: msgs('with response') })
    .withResponse();
  assert.equal(response.status, 200);
  const rid = response.headers.get('x-request-id');
  assert.ok(rid && rid.length >= 8, `x-request-id: ${rid}`);
  assert.equal(data._request_id, rid);
  assert.equal(response.headers.get('x-kakehashi-provider'), 'fake');
  assert.equal(response.headers.get('x-kakehashi-model'), 'gpt-4o');
  assert.equal(data.choices[0].message.content, 'echo: with response');
});

test('a client-chosen x-request-id is echoed (asResponse)', T, async () => {
  const raw = await client.chat.completions
    .create({ model: 'gpt-4o', messages: msgs('raw') }, { headers: { 'x-request-id': 'sdk-chosen-id-42' } })
    .asResponse();
  assert.equal(raw.status, 200);
  assert.equal(raw.headers.get('x-request-id'), 'sdk-chosen-id-42');
  const body = await raw.json();
  assert.equal(body.choices[0].message.content, 'echo: raw');
});

// ---- errors surface as the SDK's typed errors ----

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

test('unknown model -> NotFoundError with code model_not_found', T, async () => {
  await expectError(client.chat.completions.create({ model: 'no-such-model', messages: msgs('x') }),
    OpenAI.NotFoundError, (e) => {
      assert.equal(e.status, 404);
      assert.equal(e.code, 'model_not_found');
      assert.equal(e.param, 'model');
      assert.equal(e.type, 'invalid_request_error');
      assert.ok(e.requestID, 'x-request-id on the error');
    });
  await expectError(client.models.retrieve('no-such-model'), OpenAI.NotFoundError,
    (e) => assert.equal(e.code, 'model_not_found'));
});

test('invalid stream type -> BadRequestError with param "stream"', T, async () => {
  await expectError(client.chat.completions.create({ model: 'gpt-4o', messages: msgs('x'), stream: 'yes' }),
    OpenAI.BadRequestError, (e) => assert.equal(e.param, 'stream'));
});

test('upstream 400 -> BadRequestError with the upstream param and code', T, async () => {
  await expectError(client.chat.completions.create({ model: 'fault-400', messages: msgs('x') }),
    OpenAI.BadRequestError, (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.param, 'messages');
      assert.equal(e.code, 'invalid_value');
      assert.match(e.message, /fake upstream rejected/);
    });
});

test('upstream 401 -> AuthenticationError', T, async () => {
  await expectError(client.chat.completions.create({ model: 'fault-401', messages: msgs('x') }),
    OpenAI.AuthenticationError, (e) => assert.equal(e.code, 'invalid_api_key'));
});

test('upstream 500 -> InternalServerError', T, async () => {
  await expectError(client.chat.completions.create({ model: 'fault-500', messages: msgs('x') }),
    OpenAI.InternalServerError, (e) => assert.equal(e.status, 500));
});

test('upstream garbage -> InternalServerError 502 bad_gateway', T, async () => {
  await expectError(client.chat.completions.create({ model: 'fault-garbage', messages: msgs('x') }),
    OpenAI.InternalServerError, (e) => {
      assert.equal(e.status, 502);
      assert.equal(e.code, 'bad_gateway');
    });
});

test('upstream timeout -> InternalServerError 504 timeout', T, async () => {
  await expectError(client.chat.completions.create({ model: 'fault-hang', messages: msgs('x') }),
    OpenAI.InternalServerError, (e) => {
      assert.equal(e.status, 504);
      assert.equal(e.code, 'timeout');
    });
});

test('client-side timeout -> APIConnectionTimeoutError', T, async () => {
  await expectError(client.chat.completions.create(
    { model: 'fault-slow-headers-2000', messages: msgs('x') }, { timeout: 300 }),
  OpenAI.APIConnectionTimeoutError);
});

test('upstream drop mid-stream -> the stream iteration throws an APIError', T, async () => {
  const stream = await client.chat.completions.create({
    model: 'fault-drop-2', messages: msgs('drop'), stream: true,
  });
  let received = 0;
  const err = await expectError((async () => {
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      received++;
    }
  })(), OpenAI.APIError);
  assert.equal(received, 2, 'chunks before the drop are delivered');
  assert.equal(err.code, 'upstream_error');
  assert.equal(err.type, 'api_error');
});

test('aborting a stream from the SDK closes the upstream connection', T, async () => {
  const controller = new AbortController();
  const stream = await client.chat.completions.create(
    { model: 'fault-slow-stream-100', messages: msgs('abort'), stream: true },
    { signal: controller.signal });
  let seen = 0;
  try {
    for await (const chunk of stream) {
      if ((chunk.choices[0]?.delta?.content ?? '').includes('tick')) seen++;
      if (seen >= 2) controller.abort();
    }
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', `${e?.constructor?.name}: ${e?.message}`);
  }
  const rec = stack.up.lastRequest((q) => q.body?.model === 'fault-slow-stream-100');
  await stack.up.waitFor(() => stack.up.connection(rec.connId)?.closedAt !== null, 5000,
    'upstream connection close after SDK abort');
});
