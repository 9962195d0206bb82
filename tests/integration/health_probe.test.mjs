// health_check.interval_s: the gateway asks every provider for its model list now and then, so
// /health/services knows about providers that no request used.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from './lib/stack.mjs';
import { request, sleep } from './lib/http.mjs';

let stack;
before(async () => {
  stack = await startStack({ overrides: { health_check: { interval_s: 1, timeout_s: 2 } } });
});
after(async () => {
  await stack?.stop();
});

test('active checks fill in providers no request has used', async () => {
  // Bounded: at most ~6 s for two probe rounds to have happened.
  let services = [];
  for (let i = 0; i < 30; i++) {
    const r = await request(`${stack.url}/health/services`);
    services = r.json.services;
    const other = services.find((s) => s.name === 'other');
    const dead = services.find((s) => s.name === 'dead');
    if (other.last_check && dead.consecutive_failures >= 2) break;
    await sleep(200);
  }
  const other = services.find((s) => s.name === 'other');
  assert.equal(other.status, 'healthy');
  assert.ok(other.last_check, 'checked without any request');
  assert.ok(other.response_time_ms >= 0);
  const dead = services.find((s) => s.name === 'dead');
  assert.ok(dead.consecutive_failures >= 2, JSON.stringify(dead));
  assert.ok(['degraded', 'down'].includes(dead.status), JSON.stringify(dead));
  assert.ok(stack.up2.stats().requests.some((r) => r.path.endsWith('/models')), 'the list was asked for');
});
