// Provider max_concurrency: requests beyond it wait in a FIFO queue bounded by queue.max_waiting
// and queue.timeout_s (503 with Retry-After beyond either); waiting streams get SSE keep-alive
// comments; a client that hangs up leaves the queue at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { openaiError, startStack } from './lib/stack.mjs';
import { postJson, sleep, streamAll } from './lib/http.mjs';

let stack;
const limited = (url) => (name) => ({
  name,
  type: 'openai-compatible',
  base_url: url,
  api_key: 'sk-limited',
  models: ['gpt-4o', 'fault-slow-headers-1500', 'fault-slow-headers-2000', 'fault-slow-headers-4500'],
  max_concurrency: 1,
  timeout_s: 10,
});

before(async () => {
  stack = await startStack({
    overrides: { queue: { max_waiting: 1, timeout_s: 3, keepalive_s: 1 } },
    configure: (cfg, { up }) => {
      cfg.providers.push(...['qa', 'qb', 'qc', 'qd'].map(limited(up.url)));
      return cfg;
    },
  });
});
after(async () => {
  await stack?.stop();
});

const chat = (model, extra = {}) =>
  postJson(`${stack.url}/v1/chat/completions`, {
    model,
    messages: [{ role: 'user', content: 'queued' }],
    ...extra,
  }, { timeoutMs: 15000 });

test('beyond max_concurrency one request waits its turn and the next is shed with 503', async () => {
  const first = chat('qa:fault-slow-headers-1500');
  await sleep(150);
  const second = chat('qa:gpt-4o');
  await sleep(150);
  const third = await chat('qa:gpt-4o');
  openaiError(assert, third, 503);
  assert.match(third.json.error.message, /queue is full/);
  assert.equal(third.headers['retry-after'], '1');
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.status, 200, a.body);
  assert.equal(b.status, 200, b.body);
});

test('a request that waits longer than queue.timeout_s gets a 503', async () => {
  const first = chat('qb:fault-slow-headers-4500');
  await sleep(150);
  const started = Date.now();
  const second = await chat('qb:gpt-4o');
  openaiError(assert, second, 503);
  assert.match(second.json.error.message, /waited 3 s/);
  assert.ok(Date.now() - started >= 2800, 'it waited for the timeout');
  assert.equal((await first).status, 200);
});

test('a waiting stream gets keep-alive comments, then its answer', async () => {
  const first = chat('qc:fault-slow-headers-2000');
  await sleep(150);
  const r = await streamAll(`${stack.url}/v1/chat/completions`, {
    model: 'qc:gpt-4o',
    stream: true,
    messages: [{ role: 'user', content: 'kept alive' }],
  }, { timeoutMs: 15000 });
  assert.equal(r.status, 200);
  assert.match(r.text, /^: keep-alive\n\n/);
  assert.match(r.text, /"content":" alive"/);
  assert.match(r.text, /data: \[DONE\]/);
  assert.equal((await first).status, 200);
});

test('a client that hangs up while queued leaves the queue at once', async () => {
  const first = chat('qd:fault-slow-headers-1500');
  await sleep(150);
  // A raw request, cut while it waits for a slot (it has no response headers yet).
  const body = JSON.stringify({ model: 'qd:gpt-4o', messages: [{ role: 'user', content: 'bye' }] });
  const req = http.request(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  req.on('error', () => {});
  req.end(body);
  await sleep(200);
  req.destroy();
  await sleep(200);
  // The only queue place is free again: this request waits instead of being shed.
  const third = await chat('qd:gpt-4o');
  assert.equal(third.status, 200, 'the hung-up request no longer holds the only queue place');
  assert.equal((await first).status, 200);
});
