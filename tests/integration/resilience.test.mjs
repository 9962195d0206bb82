// Balancing inside a priority tier, circuit breakers that stop calling a failing target, and
// /health/services reporting what the gateway saw.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openaiError, startStack } from './lib/stack.mjs';
import { postJson, request, sleep } from './lib/http.mjs';

const COOLDOWN_S = 2;

let stack;
before(async () => {
  stack = await startStack({
    overrides: {
      failover: { circuit_breaker: { failures: 2, window_s: 60, cooldown_s: COOLDOWN_S } },
      groups: [
        { name: 'flaky-first', targets: [
          { provider: 'fake', model: 'fault-500', priority: 1 },
          { provider: 'other', model: 'other-only', priority: 2 }] },
        { name: 'limited-first', targets: [
          { provider: 'fake', model: 'fault-429', priority: 1 },
          { provider: 'other', model: 'other-only', priority: 2 }] },
        { name: 'pair-rr', strategy: 'round_robin', targets: [
          { provider: 'fake', model: 'gpt-4o', priority: 1 },
          { provider: 'other', model: 'other-only', priority: 1 }] },
        { name: 'pair-weighted', strategy: 'weighted', targets: [
          { provider: 'fake', model: 'gpt-4o-mini', priority: 1, weight: 3 },
          { provider: 'other', model: 'shared-model', priority: 1, weight: 1 }] },
      ],
    },
  });
});
after(async () => {
  await stack?.stop();
});

const chat = (model) =>
  postJson(`${stack.url}/v1/chat/completions`, {
    model,
    messages: [{ role: 'user', content: 'hello resilience' }],
  });
const callsTo = (up, model) => up.stats().requests.filter((r) => r.body?.model === model).length;

test('round_robin spreads equal-priority targets evenly', async () => {
  const seen = { fake: 0, other: 0 };
  for (let i = 0; i < 10; i++) {
    const r = await chat('pair-rr');
    assert.equal(r.status, 200, r.body);
    seen[r.headers['x-kakehashi-provider']]++;
  }
  assert.deepEqual(seen, { fake: 5, other: 5 });
});

test('weighted follows the weights exactly over a cycle', async () => {
  const seen = { fake: 0, other: 0 };
  for (let i = 0; i < 8; i++) {
    const r = await chat('pair-weighted');
    assert.equal(r.status, 200, r.body);
    seen[r.headers['x-kakehashi-provider']]++;
  }
  assert.deepEqual(seen, { fake: 6, other: 2 });
});

test('a failing target opens its breaker: it is skipped until the cooldown ends', async () => {
  const before = callsTo(stack.up, 'fault-500');
  for (let i = 0; i < 2; i++) {
    const r = await chat('flaky-first');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['x-kakehashi-attempts'], '2');
  }
  assert.equal(callsTo(stack.up, 'fault-500'), before + 2);

  // Open: the failing target is not called at all and the answer needs one attempt.
  for (let i = 0; i < 3; i++) {
    const r = await chat('flaky-first');
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['x-kakehashi-provider'], 'other');
    assert.equal(r.headers['x-kakehashi-attempts'], '1');
  }
  assert.equal(callsTo(stack.up, 'fault-500'), before + 2, 'no call while the breaker is open');

  const health = await request(`${stack.url}/health/services`);
  assert.equal(health.status, 200);
  assert.equal(health.json.status, 'degraded');
  const fake = health.json.services.find((s) => s.name === 'fake');
  assert.equal(fake.breaker, 'open');
  const flaky = fake.models.find((m) => m.model === 'fault-500');
  assert.equal(flaky.breaker, 'open');
  assert.ok(flaky.retry_in_s >= 1 && flaky.retry_in_s <= COOLDOWN_S, JSON.stringify(flaky));

  // After the cooldown one probe is let through; it fails again and the breaker re-opens.
  await sleep(COOLDOWN_S * 1000 + 200);
  const probe = await chat('flaky-first');
  assert.equal(probe.status, 200, probe.body);
  assert.equal(probe.headers['x-kakehashi-attempts'], '2');
  assert.equal(callsTo(stack.up, 'fault-500'), before + 3);
  const after = await chat('flaky-first');
  assert.equal(after.headers['x-kakehashi-attempts'], '1');
  assert.equal(callsTo(stack.up, 'fault-500'), before + 3);
});

test('a single target with an open breaker gets a 503 at once, with Retry-After', async () => {
  for (let i = 0; i < 2; i++) openaiError(assert, await chat('fake:fault-503'), 503);
  const before = callsTo(stack.up, 'fault-503');
  const r = await chat('fake:fault-503');
  openaiError(assert, r, 503);
  assert.match(r.json.error.message, /cooling down/);
  assert.ok(Number(r.headers['retry-after']) >= 1, JSON.stringify(r.headers));
  assert.equal(callsTo(stack.up, 'fault-503'), before, 'the upstream was not called');
});

test('/health/services lists every provider with its passive health', async () => {
  const r = await request(`${stack.url}/health/services`);
  assert.equal(r.status, 200);
  assert.ok(Number.isInteger(r.json.timestamp));
  const names = r.json.services.map((s) => s.name);
  for (const n of ['fake', 'other', 'slow', 'dead']) assert.ok(names.includes(n), n);
  const other = r.json.services.find((s) => s.name === 'other');
  assert.equal(other.status, 'healthy');
  assert.equal(other.breaker, 'closed');
  assert.ok(other.successes > 0);
  assert.ok(typeof other.response_time_ms === 'number' && other.response_time_ms >= 0);
  assert.match(other.last_check, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const slow = r.json.services.find((s) => s.name === 'slow');
  assert.equal(slow.last_check, null, 'never used: no check yet');
});

test("in a group, an upstream's Retry-After keeps the next requests away from it until then", async () => {
  const before = callsTo(stack.up, 'fault-429');
  const first = await chat('limited-first');
  assert.equal(first.status, 200, first.body);
  assert.equal(first.headers['x-kakehashi-attempts'], '2');
  assert.equal(callsTo(stack.up, 'fault-429'), before + 1);
  const second = await chat('limited-first');
  assert.equal(second.headers['x-kakehashi-attempts'], '1', 'the limited target was skipped');
  assert.equal(callsTo(stack.up, 'fault-429'), before + 1);
  await sleep(1200);  // the fake says Retry-After: 1
  const later = await chat('limited-first');
  assert.equal(later.status, 200, later.body);
  assert.equal(callsTo(stack.up, 'fault-429'), before + 2, 'asked again once the wait was over');
});
