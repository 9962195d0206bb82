// Model resolution: prefixes, aliases, names with ":" and "/", env-defined providers (SPEC §1, §4).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { postJson, request } from './lib/http.mjs';
import { startStack, openaiError, OTHER_KEY } from './lib/stack.mjs';
import { startGateway } from './lib/gateway.mjs';
import { startFakeUpstream } from '../fake_upstream/server.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

const T = { timeout: 20000 };
const chat = (model, text) => ({ model, messages: [{ role: 'user', content: text }] });

/** Sends a chat request and returns [response, the upstream record it produced]. */
async function route(model, upstream = stack.up) {
  const marker = `route ${model} ${Math.random().toString(36).slice(2)}`;
  const r = await postJson(`${stack.url}/v1/chat/completions`, chat(model, marker));
  const rec = upstream.lastRequest((q) => q.body?.messages?.[0]?.content === marker);
  return [r, rec];
}

const cases = [
  // requested model, upstream that must receive it, model name it must see, provider header
  ['fake:gpt-4o', 'up', 'gpt-4o', 'fake'],
  ['gpt-4o', 'up', 'gpt-4o', 'fake'],
  ['gpt-4o-mini', 'up', 'gpt-4o-mini', 'fake'],
  ['gpt-oss:20b', 'up', 'gpt-oss:20b', 'fake'],
  ['fake:gpt-oss:20b', 'up', 'gpt-oss:20b', 'fake'],
  ['openai/gpt-4o', 'up', 'openai/gpt-4o', 'fake'],
  ['fake:openai/gpt-4o', 'up', 'openai/gpt-4o', 'fake'],
  ['other-only', 'up2', 'other-only', 'other'],
  ['other:other-only', 'up2', 'other-only', 'other'],
  ['other:shared-model', 'up2', 'shared-model', 'other'],
  ['fake:shared-model', 'up', 'shared-model', 'fake'],
  ['gpt-4', 'up', 'gpt-4o', 'fake'],
  ['my-oss', 'up', 'gpt-oss:20b', 'fake'],
];

for (const [model, which, upstreamModel, provider] of cases) {
  test(`model "${model}" routes to ${provider} as "${upstreamModel}"`, T, async () => {
    const up = which === 'up' ? stack.up : stack.up2;
    const [r, rec] = await route(model, up);
    assert.equal(r.status, 200, `${model}: ${r.body}`);
    assert.ok(rec, `${model}: the ${provider} upstream did not receive the request`);
    assert.equal(rec.body.model, upstreamModel);
    assert.equal(rec.path, '/v1/chat/completions', 'upstream path = base_url + /chat/completions');
    assert.equal(r.json.model, upstreamModel);
    assert.equal(r.headers['x-kakehashi-provider'], provider);
    assert.equal(r.headers['x-kakehashi-model'], upstreamModel);
    if (provider === 'other') assert.equal(rec.headers.authorization, `Bearer ${OTHER_KEY}`);
  });
}

test('unknown models are 404 model_not_found with param "model"', T, async () => {
  for (const model of ['no-such-model', 'fake:no-such-model', 'nosuchprovider:gpt-4o']) {
    // Only POSTs count: a gateway may probe its providers with GETs in the background.
    const posts = () => stack.up.requests((q) => q.method === 'POST').length
      + stack.up2.requests((q) => q.method === 'POST').length;
    const before = posts();
    const r = await postJson(`${stack.url}/v1/chat/completions`, chat(model, 'x'));
    openaiError(assert, r, 404, { type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
    assert.equal(posts(), before,
      `${model}: no upstream call for an unknown model`);
  }
});

test('providers from OPENAI_API_KEY + OPENAI_BASE_URL (provider "openai", models discovered)', T, async () => {
  const up = await startFakeUpstream({ models: ['gpt-4o', 'gpt-4o-mini'] });
  let gw;
  try {
    gw = await startGateway({
      config: {},
      env: { OPENAI_API_KEY: 'sk-env-key-xyz', OPENAI_BASE_URL: up.url },
    });
    const r = await postJson(`${gw.url}/v1/chat/completions`, chat('openai:gpt-4o', 'from env'), {
      headers: { authorization: 'Bearer client-key-should-not-pass' },
    });
    assert.equal(r.status, 200, `${r.body}\n${gw.logs()}`);
    assert.equal(r.headers['x-kakehashi-provider'], 'openai');
    const rec = up.lastRequest((q) => q.path === '/v1/chat/completions');
    assert.equal(rec.body.model, 'gpt-4o');
    assert.equal(rec.headers.authorization, 'Bearer sk-env-key-xyz');

    // Models are discovered from the provider's /models (bounded poll: discovery may be async).
    let ids = [];
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline) {
      const m = await request(`${gw.url}/v1/models`);
      ids = (m.json?.data ?? []).map((x) => x.id);
      if (ids.includes('openai:gpt-4o-mini')) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.ok(ids.includes('openai:gpt-4o') && ids.includes('openai:gpt-4o-mini'),
      `discovered models expected in /v1/models; got ${ids.join(', ')}`);
    assert.ok(up.requests((q) => q.method === 'GET' && q.path === '/v1/models').length >= 1,
      'the gateway asked the provider for its models');
    const bare = await postJson(`${gw.url}/v1/chat/completions`, chat('gpt-4o-mini', 'bare from env'));
    assert.equal(bare.status, 200, bare.body);
    assert.equal(up.lastRequest((q) => q.path === '/v1/chat/completions').body.model, 'gpt-4o-mini');
  } finally {
    await gw?.stop();
    await up.close();
  }
});

test('runs with no config file at all', T, async () => {
  const up = await startFakeUpstream({ models: ['gpt-4o'] });
  let gw;
  try {
    gw = await startGateway({
      noConfig: true,
      env: { OPENAI_API_KEY: 'sk-env-noconfig', OPENAI_BASE_URL: up.url },
    });
    const h = await request(`${gw.url}/health`);
    assert.equal(h.status, 200);
    const r = await postJson(`${gw.url}/v1/chat/completions`, chat('openai:gpt-4o', 'no config'));
    assert.equal(r.status, 200, `${r.body}\n${gw.logs()}`);
    assert.equal(r.json.choices[0].message.content, 'echo: no config');
  } finally {
    await gw?.stop();
    await up.close();
  }
});
