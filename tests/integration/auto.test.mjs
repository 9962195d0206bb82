// model "auto": the prompt's language and task pick the target by the auto rules; the response
// headers say which rule chose and why; user_preferences never reach an upstream.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openaiError, startStack } from './lib/stack.mjs';
import { postJson, request, sseJson, streamAll } from './lib/http.mjs';

let stack;
before(async () => {
  stack = await startStack({
    overrides: {
      auto: {
        default: 'fake:gpt-4o',
        rules: [
          { name: 'japanese', when: { language: 'ja' }, target: 'other:other-only' },
          { name: 'code', when: { task: 'code' }, target: 'fake:gpt-4o-mini' },
        ],
      },
    },
  });
});
after(async () => {
  await stack?.stop();
});

const auto = (content, extra = {}) =>
  postJson(`${stack.url}/v1/chat/completions`, {
    model: 'auto',
    messages: [{ role: 'user', content }],
    ...extra,
  });

test('a Japanese prompt goes where the japanese rule says', async () => {
  const r = await auto('東京でおすすめのラーメン屋さんを教えてください。');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-kakehashi-provider'], 'other');
  assert.equal(r.headers['x-kakehashi-model'], 'other-only');
  assert.equal(r.headers['x-kakehashi-auto-rule'], 'japanese');
  assert.equal(r.headers['x-kakehashi-auto-reason'], 'rule:japanese');
});

test('a coding prompt goes to the code rule', async () => {
  const r = await auto('Fix this function:\n```python\ndef add(a, b):\n    return a - b\n```');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-kakehashi-model'], 'gpt-4o-mini');
  assert.equal(r.headers['x-kakehashi-auto-rule'], 'code');
});

test('anything else gets the default, streams included', async () => {
  const r = await streamAll(`${stack.url}/v1/chat/completions`, {
    model: 'auto',
    stream: true,
    messages: [{ role: 'user', content: 'What is a good name for a cat?' }],
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-kakehashi-model'], 'gpt-4o');
  assert.equal(r.headers['x-kakehashi-auto-reason'], 'default');
  assert.ok(sseJson(r.text).length > 0);
});

test('user_preferences are read by the gateway and never sent upstream', async () => {
  const r = await auto('Tell me about tea.', { user_preferences: { prefer_quality: true } });
  assert.equal(r.status, 200, r.body);
  const sent = stack.up.stats().requests.at(-1).body;
  assert.equal(sent.model, r.headers['x-kakehashi-model']);
  assert.equal(sent.user_preferences, undefined, JSON.stringify(sent));
});

test('wrongly typed user_preferences are a 400 naming the field', async () => {
  const r = await auto('hello', { user_preferences: { max_cost: 'cheap' } });
  openaiError(assert, r, 400, { param: 'user_preferences.max_cost' });
});

test('auto is listed as a model', async () => {
  const r = await request(`${stack.url}/v1/models`);
  assert.ok(r.json.data.some((m) => m.id === 'auto'));
});
