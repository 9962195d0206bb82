// /v1/completions, /v1/embeddings, /api/chat, /api/generate, /health (SPEC §3).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { postJson, request, sseData, sseJson, streamAll } from './lib/http.mjs';
import { startStack, openaiError, FAKE_KEY } from './lib/stack.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

const T = { timeout: 20000 };

function lastUpstream(path) {
  const rec = stack.up.lastRequest((q) => q.path === path);
  assert.ok(rec, `the fake upstream received a request on ${path}`);
  return rec;
}

test('GET /health answers ok with a timestamp and calls no upstream', T, async () => {
  const posts = () => stack.up.requests((q) => q.method === 'POST').length;
  const before = posts();
  const r = await request(`${stack.url}/health`);
  assert.equal(r.status, 200, r.body);
  assert.match(r.headers['content-type'], /application\/json/);
  assert.equal(r.json.status, 'ok');
  assert.ok(r.json.timestamp !== undefined && r.json.timestamp !== null, r.body);
  assert.ok(r.headers['x-request-id']);
  assert.equal(posts(), before);
});

test('POST /v1/completions non-stream is relayed with the model rewritten', T, async () => {
  const body = { model: 'fake:gpt-4o', prompt: 'complete this', max_tokens: 5, temperature: 0 };
  const r = await postJson(`${stack.url}/v1/completions`, body);
  assert.equal(r.status, 200, r.body);
  const rec = lastUpstream('/v1/completions');
  assert.deepEqual(rec.body, { ...body, model: 'gpt-4o' });
  assert.equal(rec.headers.authorization, `Bearer ${FAKE_KEY}`);
  assert.equal(r.body, rec.responseBody);
  assert.equal(r.json.object, 'text_completion');
  assert.equal(r.json.choices[0].text, 'echo: complete this');
  assert.ok(r.json.usage.total_tokens > 0);
  assert.equal(r.headers['x-kakehashi-provider'], 'fake');
  assert.equal(r.headers['x-kakehashi-model'], 'gpt-4o');
});

test('POST /v1/completions stream, with and without include_usage', T, async () => {
  const withUsage = await streamAll(`${stack.url}/v1/completions`, {
    model: 'gpt-4o', prompt: 'stream it', stream: true, stream_options: { include_usage: true },
  });
  assert.equal(withUsage.status, 200, withUsage.text);
  assert.match(withUsage.headers['content-type'], /^text\/event-stream/);
  assert.equal(withUsage.text, lastUpstream('/v1/completions').responseBody);
  let chunks = sseJson(withUsage.text);
  assert.deepEqual(chunks.at(-1).choices, []);
  assert.ok(chunks.at(-1).usage.total_tokens > 0);
  assert.equal(sseData(withUsage.text).at(-1), '[DONE]');

  const without = await streamAll(`${stack.url}/v1/completions`, {
    model: 'gpt-4o', prompt: 'stream it', stream: true,
  });
  assert.equal(without.status, 200, without.text);
  chunks = sseJson(without.text);
  for (const c of chunks) {
    assert.equal(c.object, 'text_completion');
    assert.ok(c.choices.length > 0, `no usage-only chunk expected: ${JSON.stringify(c)}`);
    assert.ok(c.usage === undefined || c.usage === null);
  }
  assert.equal(chunks.map((c) => c.choices[0].text).join(''), 'echo: stream it');
  assert.equal(sseData(without.text).at(-1), '[DONE]');
});

test('POST /v1/embeddings with float vectors', T, async () => {
  const body = { model: 'fake:text-embedding-3-small', input: ['first', 'second'] };
  const r = await postJson(`${stack.url}/v1/embeddings`, body);
  assert.equal(r.status, 200, r.body);
  const rec = lastUpstream('/v1/embeddings');
  assert.deepEqual(rec.body, { ...body, model: 'text-embedding-3-small' });
  assert.equal(rec.headers.authorization, `Bearer ${FAKE_KEY}`);
  assert.equal(r.json.object, 'list');
  assert.equal(r.json.model, 'text-embedding-3-small');
  assert.equal(r.json.data.length, 2);
  assert.deepEqual(r.json.data.map((d) => d.index), [0, 1]);
  for (const d of r.json.data) {
    assert.equal(d.object, 'embedding');
    assert.ok(Array.isArray(d.embedding) && d.embedding.length === 8);
    assert.ok(d.embedding.every((x) => typeof x === 'number'));
  }
  assert.equal(r.json.usage.prompt_tokens, 2);
  assert.equal(r.body, rec.responseBody);
  assert.equal(r.headers['x-kakehashi-provider'], 'fake');
});

test('POST /v1/embeddings with encoding_format base64 is passed through', T, async () => {
  const body = { model: 'text-embedding-3-small', input: 'one input', encoding_format: 'base64' };
  const r = await postJson(`${stack.url}/v1/embeddings`, body);
  assert.equal(r.status, 200, r.body);
  const rec = lastUpstream('/v1/embeddings');
  assert.equal(rec.body.encoding_format, 'base64');
  assert.equal(typeof r.json.data[0].embedding, 'string');
  assert.equal(Buffer.from(r.json.data[0].embedding, 'base64').length, 8 * 4);
  assert.equal(r.body, rec.responseBody);
});

test('POST /api/chat behaves as /v1/chat/completions', T, async () => {
  const body = { model: 'gpt-4', messages: [{ role: 'user', content: 'api chat' }] };
  const r = await postJson(`${stack.url}/api/chat`, body);
  assert.equal(r.status, 200, r.body);
  const rec = lastUpstream('/v1/chat/completions');
  assert.equal(rec.body.model, 'gpt-4o');
  assert.equal(r.json.object, 'chat.completion');
  assert.equal(r.json.choices[0].message.content, 'echo: api chat');

  const s = await streamAll(`${stack.url}/api/chat`, { ...body, stream: true });
  assert.equal(s.status, 200, s.text);
  assert.equal(sseData(s.text).at(-1), '[DONE]');
  assert.equal(sseJson(s.text).map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'echo: api chat');
});

test('POST /api/generate behaves as /v1/completions', T, async () => {
  const r = await postJson(`${stack.url}/api/generate`, { model: 'gpt-4o', prompt: 'api generate' });
  assert.equal(r.status, 200, r.body);
  const rec = lastUpstream('/v1/completions');
  assert.equal(rec.body.model, 'gpt-4o');
  assert.equal(r.json.object, 'text_completion');
  assert.equal(r.json.choices[0].text, 'echo: api generate');
});

test('/api/chat errors use the OpenAI shape', T, async () => {
  const r = await postJson(`${stack.url}/api/chat`, { model: 'missing-model', messages: [] });
  openaiError(assert, r, 404, { code: 'model_not_found' });
});
