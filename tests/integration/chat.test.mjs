// POST /v1/chat/completions: pass-through relay, upstream request, usage, headers (SPEC §3, §4).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { postJson, request, sseData, sseJson, streamAll } from './lib/http.mjs';
import { startStack, FAKE_KEY } from './lib/stack.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

const T = { timeout: 20000 };
const chat = (model, text, extra = {}) => ({
  model,
  messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: text }],
  ...extra,
});

function lastUpstreamChat() {
  const rec = stack.up.lastRequest((q) => q.path === '/v1/chat/completions');
  assert.ok(rec, 'the fake upstream received a chat request');
  return rec;
}

test('non-stream: the client gets the upstream body byte for byte', T, async () => {
  const r = await postJson(`${stack.url}/v1/chat/completions`, chat('fake:gpt-4o', 'relay me'));
  assert.equal(r.status, 200, r.body);
  assert.match(r.headers['content-type'], /application\/json/);
  const rec = lastUpstreamChat();
  assert.equal(r.body, rec.responseBody);
  assert.equal(r.json.object, 'chat.completion');
  assert.equal(r.json.choices[0].message.content, 'echo: relay me');
  assert.equal(r.json.usage.total_tokens, r.json.usage.prompt_tokens + r.json.usage.completion_tokens);
});

test('non-stream: large bodies both ways (many reads each) are relayed byte for byte', T, async () => {
  // A 14 KB prompt arrives in several reads; a 300 KB answer comes in many.
  const text = 'lorem ipsum dolor sit amet, '.repeat(500);
  const r = await postJson(`${stack.url}/v1/chat/completions`, chat('fake:big-300000', text));
  assert.equal(r.status, 200, r.body.slice(0, 200));
  const rec = lastUpstreamChat();
  assert.equal(r.body, rec.responseBody);
  assert.equal(r.json.choices[0].message.content.length, 300000);
  assert.ok(r.json.usage.completion_tokens > 0);
  assert.equal(rec.body.messages[1].content, text);
});

test('non-stream: upstream got the rewritten model and an otherwise untouched body', T, async () => {
  const body = chat('fake:gpt-4o', 'untouched', {
    temperature: 0.25,
    max_tokens: 33,
    user: 'user-1',
    metadata: { trace: 'abc' },
    response_format: { type: 'json_object' },
    tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }],
    x_vendor_extension: { nested: [1, 2, { k: 'v' }] },
  });
  const r = await postJson(`${stack.url}/v1/chat/completions`, body);
  assert.equal(r.status, 200, r.body);
  const rec = lastUpstreamChat();
  assert.equal(rec.method, 'POST');
  assert.equal(rec.path, '/v1/chat/completions');
  assert.deepEqual(rec.body, { ...body, model: 'gpt-4o' });
  assert.equal(r.json.model, 'gpt-4o', 'response model is what the upstream says');
});

test('non-stream: request body is forwarded byte for byte except the spliced model name', T, async () => {
  const raw = '{"model":"fake:gpt-4o",  "messages":[{"role":"user","content":"bytes \\u00e9 \\ud83d\\ude00"}],"temperature":1.0}';
  const r = await postJson(`${stack.url}/v1/chat/completions`, raw, {
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(r.status, 200, r.body);
  const rec = lastUpstreamChat();
  assert.equal(rec.body.model, 'gpt-4o');
  assert.equal(rec.rawBody, raw.replace('"model":"fake:gpt-4o"', '"model":"gpt-4o"'));
});

test('upstream gets the provider key and headers, never the client key', T, async () => {
  const r = await postJson(`${stack.url}/v1/chat/completions`, chat('fake:gpt-4o', 'auth'), {
    headers: {
      authorization: 'Bearer client-secret-key-123',
      'x-api-key': 'client-secret-key-456',
    },
  });
  assert.equal(r.status, 200, r.body);
  const rec = lastUpstreamChat();
  assert.equal(rec.headers.authorization, `Bearer ${FAKE_KEY}`);
  assert.equal(rec.headers['x-title'], 'kakehashi-it', 'provider headers are sent upstream');
  const all = JSON.stringify(rec.headers);
  assert.ok(!all.includes('client-secret-key'), `client key leaked upstream: ${all}`);
  assert.match(String(rec.headers['content-type']), /application\/json/);
});

test('routed responses carry x-request-id and x-kakehashi-* headers', T, async () => {
  const r = await postJson(`${stack.url}/v1/chat/completions`, chat('fake:gpt-4o', 'headers'));
  assert.equal(r.status, 200, r.body);
  assert.ok(r.headers['x-request-id'] && r.headers['x-request-id'].length >= 8,
    `generated x-request-id: ${r.headers['x-request-id']}`);
  assert.equal(r.headers['x-kakehashi-provider'], 'fake');
  assert.equal(r.headers['x-kakehashi-model'], 'gpt-4o');
  assert.equal(r.headers['x-kakehashi-attempts'], '1');

  const r2 = await postJson(`${stack.url}/v1/chat/completions`, chat('fake:gpt-4o', 'headers 2'));
  assert.notEqual(r2.headers['x-request-id'], r.headers['x-request-id'], 'ids are unique');
});

test('x-request-id sent by the client is echoed', T, async () => {
  const id = 'client-req-id-0123456789';
  const r = await postJson(`${stack.url}/v1/chat/completions`, chat('fake:gpt-4o', 'echo id'), {
    headers: { 'x-request-id': id },
  });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-request-id'], id);
  const h = await request(`${stack.url}/health`, { headers: { 'x-request-id': 'health-id-1' } });
  assert.equal(h.headers['x-request-id'], 'health-id-1');
  const e = await postJson(`${stack.url}/v1/chat/completions`, chat('nope-model', 'x'), {
    headers: { 'x-request-id': 'err-id-1' },
  });
  assert.equal(e.status, 404);
  assert.equal(e.headers['x-request-id'], 'err-id-1');
});

test('stream with include_usage: SSE relayed byte for byte, usage chunk last', T, async () => {
  const body = chat('fake:gpt-4o', 'stream with usage', {
    stream: true, stream_options: { include_usage: true },
  });
  const r = await streamAll(`${stack.url}/v1/chat/completions`, body);
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^text\/event-stream/);
  assert.equal(r.complete, true, 'response ended cleanly');
  const rec = lastUpstreamChat();
  assert.equal(rec.body.model, 'gpt-4o');
  assert.equal(rec.body.stream, true);
  assert.deepEqual(rec.body.stream_options, { include_usage: true });
  assert.equal(r.text, rec.responseBody, 'SSE bytes relayed unchanged');

  const data = sseData(r.text);
  assert.equal(data.at(-1), '[DONE]');
  const chunks = sseJson(r.text);
  const usageChunk = chunks.at(-1);
  assert.deepEqual(usageChunk.choices, []);
  assert.equal(usageChunk.usage.total_tokens,
    usageChunk.usage.prompt_tokens + usageChunk.usage.completion_tokens);
  const content = chunks.filter((c) => c.choices.length)
    .map((c) => c.choices[0].delta.content ?? '').join('');
  assert.equal(content, 'echo: stream with usage');
  assert.equal(r.headers['x-kakehashi-provider'], 'fake');
  assert.ok(r.headers['x-request-id']);
});

test('stream without include_usage: gateway asks upstream for usage but does not pass it on', T, async () => {
  const body = chat('fake:gpt-4o', 'stream without usage', { stream: true });
  const r = await streamAll(`${stack.url}/v1/chat/completions`, body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.complete, true);
  const rec = lastUpstreamChat();
  assert.equal(rec.body.stream_options?.include_usage, true,
    `gateway should add stream_options.include_usage upstream; sent: ${rec.rawBody}`);
  assert.equal(rec.body.model, 'gpt-4o');

  const data = sseData(r.text);
  assert.equal(data.at(-1), '[DONE]');
  assert.equal(data.filter((d) => d === '[DONE]').length, 1);
  const chunks = sseJson(r.text);
  assert.ok(chunks.length >= 3);
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.ok(c.choices.length > 0, `no usage-only chunk expected: ${JSON.stringify(c)}`);
    assert.ok(c.usage === undefined || c.usage === null, `no usage expected: ${JSON.stringify(c)}`);
  }
  const content = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
  assert.equal(content, 'echo: stream without usage');
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
});

test('stream: include_usage false is treated as not asked', T, async () => {
  const body = chat('fake:gpt-4o', 'usage false', { stream: true, stream_options: { include_usage: false } });
  const r = await streamAll(`${stack.url}/v1/chat/completions`, body);
  assert.equal(r.status, 200, r.text);
  for (const c of sseJson(r.text)) {
    assert.ok(c.choices.length > 0, `no usage-only chunk expected: ${JSON.stringify(c)}`);
    assert.ok(c.usage === undefined || c.usage === null);
  }
});

test('non-stream responses always include usage', T, async () => {
  const r = await postJson(`${stack.url}/v1/chat/completions`, chat('gpt-4o-mini', 'usage'));
  assert.equal(r.status, 200, r.body);
  assert.ok(r.json.usage && r.json.usage.total_tokens > 0);
  const rec = lastUpstreamChat();
  assert.ok(!('stream_options' in rec.body), 'no stream_options added to a non-stream request');
});

test('content parts (vision-style arrays) are forwarded unchanged', T, async () => {
  const body = {
    model: 'fake:gpt-4o',
    messages: [{
      role: 'user',
      content: [
        { type: 'text', text: 'look at this' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      ],
    }],
  };
  const r = await postJson(`${stack.url}/v1/chat/completions`, body);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.choices[0].message.content, 'echo: look at this');
  assert.deepEqual(lastUpstreamChat().body, { ...body, model: 'gpt-4o' });
});

test('large non-stream response (300 kB) is relayed intact', T, async () => {
  const r = await postJson(`${stack.url}/v1/chat/completions`, chat('fake:big-300000', 'big'));
  assert.equal(r.status, 200, r.body.slice(0, 500));
  assert.equal(r.json.choices[0].message.content.length, 300000);
  assert.equal(r.body, lastUpstreamChat().responseBody);
});

test('large stream (300 kB in ~300 chunks) is relayed byte for byte', T, async () => {
  const r = await streamAll(`${stack.url}/v1/chat/completions`,
    chat('big-300000', 'big stream', { stream: true, stream_options: { include_usage: true } }));
  assert.equal(r.status, 200);
  assert.equal(r.complete, true);
  const rec = lastUpstreamChat();
  assert.equal(r.text.length, rec.responseBody.length);
  assert.ok(r.text === rec.responseBody, 'SSE bytes relayed unchanged');
  const content = sseJson(r.text).map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(content.length, 300000);
});

test('large stream without include_usage keeps every content byte', T, async () => {
  const r = await streamAll(`${stack.url}/v1/chat/completions`,
    chat('big-300000', 'big stream 2', { stream: true }));
  assert.equal(r.status, 200);
  const chunks = sseJson(r.text);
  assert.ok(chunks.every((c) => c.choices.length > 0 && (c.usage === undefined || c.usage === null)));
  assert.equal(chunks.map((c) => c.choices[0].delta.content ?? '').join('').length, 300000);
  assert.equal(sseData(r.text).at(-1), '[DONE]');
});
