// failover.failure_keywords: an answer containing one is a failed attempt, so the next target
// answers instead; streams are judged on their first content, before the client gets a byte.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openaiError, startStack } from './lib/stack.mjs';
import { postJson, sseJson, streamAll } from './lib/http.mjs';

const KEYWORD = 'QUOTA-NOTICE';

let stack;
before(async () => {
  stack = await startStack({
    overrides: {
      failover: { failure_keywords: [KEYWORD] },
      groups: [
        { name: 'keyword-first', targets: [
          { provider: 'fake', model: 'gpt-4o', priority: 1 },
          { provider: 'other', model: 'big-64', priority: 2 }] },
        { name: 'keyword-only', targets: [{ provider: 'fake', model: 'gpt-4o', priority: 1 }] },
      ],
    },
  });
});
after(async () => {
  await stack?.stop();
});

const messages = (text) => [{ role: 'user', content: text }];

test('a whole answer with a failure keyword fails over to the next target', async () => {
  const r = await postJson(`${stack.url}/v1/chat/completions`, {
    model: 'keyword-first',
    messages: messages(`say ${KEYWORD}`),
  });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-kakehashi-provider'], 'other');
  assert.equal(r.headers['x-kakehashi-attempts'], '2');
  assert.ok(!r.json.choices[0].message.content.includes(KEYWORD));
});

test('an answer without the keyword is served by the first target', async () => {
  const r = await postJson(`${stack.url}/v1/chat/completions`, {
    model: 'keyword-first',
    messages: messages('say something harmless'),
  });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-kakehashi-provider'], 'fake');
  assert.equal(r.headers['x-kakehashi-attempts'], '1');
});

test('a stream whose first content has the keyword fails over before the first byte', async () => {
  const r = await streamAll(`${stack.url}/v1/chat/completions`, {
    model: 'keyword-first',
    stream: true,
    messages: messages(`${KEYWORD} first`),
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-kakehashi-provider'], 'other');
  assert.equal(r.headers['x-kakehashi-attempts'], '2');
  const text = sseJson(r.text)
    .map((c) => c.choices?.[0]?.delta?.content ?? '')
    .join('');
  assert.ok(text.length > 0);
  assert.ok(!text.includes(KEYWORD), text);
  assert.match(r.text, /data: \[DONE\]/);
});

test('a clean stream is relayed whole, held back only until its first content', async () => {
  const r = await streamAll(`${stack.url}/v1/chat/completions`, {
    model: 'keyword-first',
    stream: true,
    messages: messages('a clean stream'),
  });
  assert.equal(r.headers['x-kakehashi-provider'], 'fake');
  const text = sseJson(r.text)
    .map((c) => c.choices?.[0]?.delta?.content ?? '')
    .join('');
  assert.equal(text, 'echo: a clean stream');
});

test('when every target answers with the keyword, the client gets a 502', async () => {
  const r = await postJson(`${stack.url}/v1/chat/completions`, {
    model: 'keyword-only',
    messages: messages(`only ${KEYWORD}`),
  });
  openaiError(assert, r, 502);
  assert.match(r.json.error.message, /failure keyword/);
});
