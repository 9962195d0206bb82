// GET /v1/models and /v1/models/{id} (SPEC §3, §4).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from './lib/http.mjs';
import { startStack, openaiError } from './lib/stack.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

const T = { timeout: 20000 };

test('GET /v1/models is an OpenAI list with prefixed and unambiguous bare ids', T, async () => {
  const r = await request(`${stack.url}/v1/models`);
  assert.equal(r.status, 200, r.body);
  assert.match(r.headers['content-type'], /application\/json/);
  assert.equal(r.json.object, 'list');
  assert.ok(Array.isArray(r.json.data));
  for (const m of r.json.data) {
    assert.equal(m.object, 'model', JSON.stringify(m));
    assert.equal(typeof m.id, 'string');
    assert.equal(typeof m.created, 'number', JSON.stringify(m));
    assert.equal(typeof m.owned_by, 'string', JSON.stringify(m));
  }
  const ids = new Set(r.json.data.map((m) => m.id));
  for (const id of [
    'fake:gpt-4o', 'gpt-4o', 'fake:gpt-4o-mini', 'gpt-4o-mini',
    'fake:gpt-oss:20b', 'gpt-oss:20b', 'fake:openai/gpt-4o', 'openai/gpt-4o',
    'other:other-only', 'other-only', 'fake:shared-model', 'other:shared-model',
    'gpt-4', 'my-oss',
  ]) {
    assert.ok(ids.has(id), `expected ${id} in /v1/models; got ${[...ids].join(', ')}`);
  }
  assert.ok(!ids.has('shared-model'), 'a bare name offered by two providers is ambiguous and not listed');
  assert.equal(ids.size, r.json.data.length, 'ids are unique');
});

test('GET /v1/models/{id} returns one model object', T, async () => {
  for (const id of ['fake:gpt-4o', 'gpt-4o', 'gpt-4', 'other-only']) {
    const r = await request(`${stack.url}/v1/models/${id}`);
    assert.equal(r.status, 200, `${id}: ${r.body}`);
    assert.equal(r.json.object, 'model');
    assert.equal(r.json.id, id);
  }
});

test('GET /v1/models/{id} with ":" and "/" in the id, raw and percent-encoded', T, async () => {
  for (const id of ['gpt-oss:20b', 'fake:gpt-oss:20b', 'openai/gpt-4o', 'fake:openai/gpt-4o']) {
    const raw = await request(`${stack.url}/v1/models/${id}`);
    assert.equal(raw.status, 200, `raw ${id}: ${raw.body}`);
    assert.equal(raw.json.id, id);
    assert.equal(raw.json.object, 'model');
    // SDKs percent-encode path parameters (the official openai SDK does).
    const enc = await request(`${stack.url}/v1/models/${encodeURIComponent(id)}`);
    assert.equal(enc.status, 200, `encoded ${id}: ${enc.body}`);
    assert.equal(enc.json.id, id);
  }
});

test('GET /v1/models/{unknown} is 404 model_not_found', T, async () => {
  const r = await request(`${stack.url}/v1/models/no-such-model`);
  openaiError(assert, r, 404, { type: 'invalid_request_error', code: 'model_not_found' });
  const r2 = await request(`${stack.url}/v1/models/fake:no-such-model`);
  openaiError(assert, r2, 404, { code: 'model_not_found' });
  assert.ok(r.headers['x-request-id'], 'x-request-id on errors too');
});

test('listing models makes no upstream inference call', T, async () => {
  const before = stack.up.requests((q) => q.method === 'POST').length;
  await request(`${stack.url}/v1/models`);
  assert.equal(stack.up.requests((q) => q.method === 'POST').length, before);
});
