// failover.circuit_breaker.wait_s: when every target is cooling down and the first comes back
// within wait_s, the request waits for it instead of getting a 503 at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openaiError, startStack } from './lib/stack.mjs';
import { postJson } from './lib/http.mjs';

let stack;
before(async () => {
  stack = await startStack({
    overrides: { failover: { circuit_breaker: { failures: 2, window_s: 60, cooldown_s: 1, wait_s: 3 } } },
  });
});
after(async () => {
  await stack?.stop();
});

const chat = (model) =>
  postJson(`${stack.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content: 'w' }] });

test('a request waits out a short cooldown, then the probe decides', async () => {
  for (let i = 0; i < 2; i++) openaiError(assert, await chat('fake:fault-500'), 500);
  const calls = () => stack.up.stats().requests.filter((r) => r.body?.model === 'fault-500').length;
  const before = calls();
  const started = Date.now();
  const r = await chat('fake:fault-500');
  // Not the breaker's 503: the request waited for the cooldown and its probe reached the upstream.
  openaiError(assert, r, 500);
  assert.ok(Date.now() - started >= 700, `waited ${Date.now() - started} ms`);
  assert.equal(calls(), before + 1);
});
