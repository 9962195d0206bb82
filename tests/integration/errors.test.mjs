// Errors on /v1/* in OpenAI's shape, with SPEC §3 statuses; upstream failures mapped.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { postJson, request } from './lib/http.mjs';
import { startStack, openaiError } from './lib/stack.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

const T = { timeout: 20000 };
const url = () => `${stack.url}/v1/chat/completions`;
const chat = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

test('malformed JSON -> 400 invalid_json', T, async () => {
  const posts = () => stack.up.requests((q) => q.method === 'POST').length;
  const before = posts();
  for (const raw of ['{"model": "gpt-4o", "messages": [', 'not json at all', '']) {
    const r = await postJson(url(), raw, { headers: { 'content-type': 'application/json' } });
    openaiError(assert, r, 400, { type: 'invalid_request_error', code: 'invalid_json' });
    assert.ok(r.headers['x-request-id'], 'x-request-id on errors');
  }
  assert.equal(posts(), before, 'nothing sent upstream');
});

test('body that is JSON but not an object -> 400', T, async () => {
  const r = await postJson(url(), '[1,2,3]', { headers: { 'content-type': 'application/json' } });
  openaiError(assert, r, 400, { type: 'invalid_request_error' });
});

test('missing model -> 400 with param "model"', T, async () => {
  const r = await postJson(url(), { messages: [{ role: 'user', content: 'hi' }] });
  openaiError(assert, r, 400, { type: 'invalid_request_error', param: 'model' });
});

test('model of the wrong type -> 400 with param "model"', T, async () => {
  const r = await postJson(url(), { model: 42, messages: [{ role: 'user', content: 'hi' }] });
  openaiError(assert, r, 400, { type: 'invalid_request_error', param: 'model' });
});

test('stream that is not a boolean -> 400 with param "stream"', T, async () => {
  const r = await postJson(url(), chat('gpt-4o', { stream: 'yes' }));
  openaiError(assert, r, 400, { type: 'invalid_request_error', param: 'stream' });
  const r2 = await postJson(`${stack.url}/v1/completions`, { model: 'gpt-4o', prompt: 'x', stream: 1 });
  openaiError(assert, r2, 400, { param: 'stream' });
});

test('unknown model -> 404 model_not_found on every inference path', T, async () => {
  for (const [path, body] of [
    ['/v1/chat/completions', chat('unknown-model-x')],
    ['/v1/completions', { model: 'unknown-model-x', prompt: 'p' }],
    ['/v1/embeddings', { model: 'unknown-model-x', input: 'p' }],
  ]) {
    const r = await postJson(`${stack.url}${path}`, body);
    openaiError(assert, r, 404, { type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
  }
});

test('body over server.max_body_bytes -> 413 request_too_large', T, async () => {
  // Its own gateway, so a failure here cannot take the shared one down for the other tests.
  const own = await startStack();
  try {
    const u = `${own.url}/v1/chat/completions`;
    const big = { ...chat('gpt-4o'), padding: 'x'.repeat(20000) };
    const r = await postJson(u, big);
    openaiError(assert, r, 413, { code: 'request_too_large' });
    assert.equal(own.up.requests((q) => q.method === 'POST').length, 0, 'nothing sent upstream');
    // Below the limit still works, and the gateway is still up.
    const ok = await postJson(u, { ...chat('gpt-4o'), padding: 'x'.repeat(8000) });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(own.gw.exitInfo(), null, `gateway died:\n${own.gw.logs()}`);
  } finally {
    await own.stop();
  }
});

test('chunked body over server.max_body_bytes -> 413 request_too_large', T, async () => {
  const own = await startStack();
  try {
    const http = await import('node:http');
    const r = await new Promise((resolve, reject) => {
      const req = http.request(`${own.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, agent: false,
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { text += c; });
        res.on('end', () => {
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, headers: res.headers, body: text, json });
        });
      });
      const t = setTimeout(() => req.destroy(new Error('timed out')), 10000);
      req.on('error', (e) => { clearTimeout(t); reject(e); });
      req.on('close', () => clearTimeout(t));
      // No Content-Length: chunked transfer encoding, several writes.
      req.write('{"model":"gpt-4o","messages":[{"role":"user","content":"');
      for (let i = 0; i < 5; i++) req.write('y'.repeat(5000));
      req.end('"}]}');
    }).catch((e) => ({ status: 0, error: e }));
    if (r.status !== 0) openaiError(assert, r, 413, { code: 'request_too_large' });
    // A gateway may also reset the connection mid-upload; either way it must survive.
    const h = await postJson(`${own.url}/v1/chat/completions`, chat('gpt-4o'));
    assert.equal(h.status, 200, `gateway still serves after an oversized chunked body: ${h.body}`);
    assert.equal(own.gw.exitInfo(), null, `gateway died:\n${own.gw.logs()}`);
  } finally {
    await own.stop();
  }
});

test('upstream 400 is passed through with its status, param and code', T, async () => {
  const r = await postJson(url(), chat('fake:fault-400'));
  const err = openaiError(assert, r, 400, { type: 'invalid_request_error', param: 'messages', code: 'invalid_value' });
  assert.match(err.message, /fake upstream rejected/);
  assert.equal(r.headers['x-kakehashi-provider'], 'fake');
});

test('upstream 401 and 404 are passed through', T, async () => {
  const r401 = await postJson(url(), chat('fault-401'));
  openaiError(assert, r401, 401, { code: 'invalid_api_key' });
  const r404 = await postJson(url(), chat('fault-404'));
  openaiError(assert, r404, 404, { code: 'model_not_found' });
});

test('upstream 500 -> 500 in OpenAI shape', T, async () => {
  const r = await postJson(url(), chat('fault-500'));
  openaiError(assert, r, 500);
  assert.ok(r.headers['x-request-id']);
});

test('upstream 503 -> 503 in OpenAI shape', T, async () => {
  const r = await postJson(url(), chat('fault-503'));
  openaiError(assert, r, 503);
});

test('upstream answers bytes that are not HTTP -> 502 bad_gateway', T, async () => {
  const r = await postJson(url(), chat('fault-garbage'));
  openaiError(assert, r, 502, { type: 'api_error', code: 'bad_gateway' });
});

test('upstream 200 with a body that is not JSON -> 502 bad_gateway', T, async () => {
  const r = await postJson(url(), chat('fault-nonjson'));
  openaiError(assert, r, 502, { type: 'api_error', code: 'bad_gateway' });
});

test('upstream that never answers, provider timeout_s 1 -> 504 timeout', T, async () => {
  const r = await postJson(url(), chat('fault-hang'));
  openaiError(assert, r, 504, { type: 'api_error', code: 'timeout' });
  assert.equal(r.headers['x-kakehashi-provider'], 'slow');
});

test('upstream headers slower than timeout_s -> 504 timeout', T, async () => {
  const r = await postJson(url(), chat('slow:fault-slow-headers-3000'));
  openaiError(assert, r, 504, { type: 'api_error', code: 'timeout' });
});

test('upstream hang while streaming -> 504 before any byte was sent', T, async () => {
  const r = await postJson(url(), chat('fault-hang', { stream: true }));
  openaiError(assert, r, 504, { code: 'timeout' });
});

test('dead upstream (connection refused) -> 502 bad_gateway', T, async () => {
  const r = await postJson(url(), chat('dead-model'));
  openaiError(assert, r, 502, { type: 'api_error', code: 'bad_gateway' });
  const s = await postJson(url(), chat('dead:dead-model', { stream: true }));
  openaiError(assert, s, 502, { code: 'bad_gateway' });
});

test('stream requests that fail before the first byte get a plain JSON error', T, async () => {
  const r400 = await postJson(url(), chat('fault-400', { stream: true }));
  openaiError(assert, r400, 400, { param: 'messages', code: 'invalid_value' });
  const r500 = await postJson(url(), chat('fault-500', { stream: true }));
  openaiError(assert, r500, 500);
  const g = await postJson(url(), chat('fault-garbage', { stream: true }));
  openaiError(assert, g, 502, { type: 'api_error', code: 'bad_gateway' });
  const nf = await postJson(url(), chat('no-such-model', { stream: true }));
  openaiError(assert, nf, 404, { code: 'model_not_found' });
});

test('the gateway is healthy after all of the above', T, async () => {
  const h = await request(`${stack.url}/health`);
  assert.equal(h.status, 200);
  const r = await postJson(url(), chat('gpt-4o'));
  assert.equal(r.status, 200, r.body);
});

test('unknown path and wrong method -> OpenAI-shaped 404/405, and the gateway survives', T, async () => {
  const own = await startStack();
  try {
    const r = await request(`${own.url}/v1/does-not-exist`);
    openaiError(assert, r, 404);
    const m = await request(`${own.url}/v1/chat/completions`, { method: 'GET' });
    assert.ok([404, 405].includes(m.status), `GET on a POST route: ${m.status}`);
    const h = await request(`${own.url}/health`);
    assert.equal(h.status, 200);
    assert.equal(own.gw.exitInfo(), null, `gateway died:\n${own.gw.logs()}`);
  } finally {
    await own.stop();
  }
});
