// Under load, one of two upstreams of a group dies: no client sees an error (non-stream), the
// survivor answers everything, and the dead one stops being tried once its breaker opens.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from './lib/stack.mjs';
import { postJson, request, sleep } from './lib/http.mjs';

let stack;
before(async () => {
  stack = await startStack({
    overrides: {
      failover: { circuit_breaker: { failures: 3, window_s: 30, cooldown_s: 30 } },
      groups: [
        { name: 'pair', strategy: 'round_robin', targets: [
          { provider: 'fake', model: 'gpt-4o', priority: 1 },
          { provider: 'other', model: 'shared-model', priority: 1 }] },
      ],
    },
  });
});
after(async () => {
  await stack?.stop();
});

test('killing one of two upstreams mid-run costs no client-visible error', { timeout: 30000 }, async () => {
  const WORKERS = 8;
  const RUN_MS = 2500;
  const KILL_AT_MS = 800;
  const results = { ok: 0, failed: [], byProvider: { fake: 0, other: 0 } };
  const start = Date.now();
  let killed = false;
  const killer = (async () => {
    await sleep(KILL_AT_MS);
    await stack.up.close();
    killed = true;
  })();
  const worker = async () => {
    // Bounded: each worker stops after RUN_MS or 2000 requests, whichever comes first.
    for (let i = 0; i < 2000 && Date.now() - start < RUN_MS; i++) {
      const r = await postJson(`${stack.url}/v1/chat/completions`, {
        model: 'pair',
        messages: [{ role: 'user', content: `load ${i}` }],
      });
      if (r.status === 200) {
        results.ok++;
        results.byProvider[r.headers['x-kakehashi-provider']]++;
      } else {
        results.failed.push(`${r.status} ${r.body.slice(0, 200)}`);
      }
    }
  };
  await Promise.all([...Array(WORKERS)].map(worker));
  await killer;
  assert.ok(killed);
  assert.deepEqual(results.failed, [], `client-visible errors: ${results.failed.slice(0, 5).join(' | ')}`);
  assert.ok(results.ok > 100, `enough load: ${results.ok} requests`);
  assert.ok(results.byProvider.fake > 0 && results.byProvider.other > results.byProvider.fake,
    JSON.stringify(results.byProvider));

  // The dead upstream's breaker is open: it is reported down/degraded and no longer tried.
  const health = await request(`${stack.url}/health/services`);
  const fake = health.json.services.find((s) => s.name === 'fake');
  assert.equal(fake.breaker, 'open', JSON.stringify(fake));
  const r = await postJson(`${stack.url}/v1/chat/completions`, {
    model: 'pair',
    messages: [{ role: 'user', content: 'after' }],
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-kakehashi-attempts'], '1');
});
