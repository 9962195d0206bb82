// Groups: targets tried by priority, moving on only on retryable failures and only before the
// client got anything.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FAILOVER_GROUPS, openaiError, startStack } from './lib/stack.mjs';
import { postJson, request, streamAll } from './lib/http.mjs';

let stack;
before(async () => {
  stack = await startStack({
    overrides: { groups: FAILOVER_GROUPS, aliases: { 'pool-alias': 'dead-first' } },
  });
});
after(async () => {
  await stack?.stop();
});

const chat = (model, extra = {}) =>
  postJson(`${stack.url}/v1/chat/completions`, {
    model,
    messages: [{ role: 'user', content: 'hello group' }],
    ...extra,
  });

test('a dead first target fails over to the next priority', async () => {
  const r = await chat('dead-first');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-kakehashi-provider'], 'fake');
  assert.equal(r.headers['x-kakehashi-model'], 'gpt-4o');
  assert.equal(r.headers['x-kakehashi-attempts'], '2');
  assert.match(r.json.choices[0].message.content, /hello group/);
});

test('aliases to groups fail over too', async () => {
  const r = await chat('pool-alias');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-kakehashi-attempts'], '2');
});

test('an upstream 503 is retried on the next target', async () => {
  const r = await chat('busy-first');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-kakehashi-provider'], 'other');
  assert.equal(r.headers['x-kakehashi-attempts'], '2');
});

test('an upstream 400 is not retried: it is the answer', async () => {
  const before = stack.up2.stats().requests.length;
  const r = await chat('bad-first');
  openaiError(assert, r, 400);
  assert.equal(r.headers['x-kakehashi-attempts'], '1');
  assert.equal(stack.up2.stats().requests.length, before, 'the second target was not called');
});

test('streams fail over before the first byte', async () => {
  const r = await streamAll(`${stack.url}/v1/chat/completions`, {
    model: 'dead-first',
    stream: true,
    messages: [{ role: 'user', content: 'hello stream group' }],
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-kakehashi-attempts'], '2');
  assert.match(r.text, /"content":" hello"/);
  assert.match(r.text, /\[DONE\]/);
});

test('when every target fails the last error is returned', async () => {
  const r = await chat('all-dead');
  openaiError(assert, r, 502, { code: 'bad_gateway' });
  assert.equal(r.headers['x-kakehashi-attempts'], '2');
});

test('groups are listed as models', async () => {
  const r = await request(`${stack.url}/v1/models`);
  const ids = r.json.data.map((m) => m.id);
  for (const g of ['dead-first', 'busy-first', 'bad-first', 'all-dead']) assert.ok(ids.includes(g), g);
});
