// Stream failures, client disconnects, keep-alive and graceful shutdown (SPEC §1, §5).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { openStream, postJson, request, sseData, sseJson, streamAll } from './lib/http.mjs';
import { startStack } from './lib/stack.mjs';
import { nowMs } from '../fake_upstream/server.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

const T = { timeout: 30000 };
const chat = (model, text, extra = {}) => ({
  model, messages: [{ role: 'user', content: text }], stream: true, ...extra,
});

// Waits for the upstream connection that carried `rec` to close, at most 1.5 s after `hungUpAt`.
async function expectUpstreamClosed(t, rec, hungUpAt) {
  const conn = await stack.up.waitFor(() => {
    const c = stack.up.connection(rec.connId);
    return c.closedAt !== null ? c : null;
  }, 5000, 'upstream connection close after client hang-up').catch(() => null);
  assert.ok(conn, 'the gateway never closed the upstream connection (5 s)');
  const delay = conn.closedAt - hungUpAt;
  t.diagnostic(`upstream connection closed ${delay.toFixed(1)} ms after the client hung up`);
  assert.ok(delay <= 1500, `upstream connection closed ${delay.toFixed(0)} ms after the client hung up`);
}

// A request to an upstream that never answers, left open; resolves once the upstream has it.
async function sendToHangingUpstream(marker, stream) {
  const body = JSON.stringify(chat('fault-hang', marker, { stream }));
  const u = new URL(`${stack.url}/v1/chat/completions`);
  const req = http.request({
    host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  req.on('error', () => {});
  req.end(body);
  const rec = await stack.up.waitFor(() => stack.up.lastRequest(
    (q) => q.body?.messages?.[0]?.content === marker) ?? null, 5000, 'upstream saw the request');
  return { req, rec };
}

test('upstream drops mid-stream -> relayed chunks, then an OpenAI error event, clean end', T, async () => {
  const r = await streamAll(`${stack.url}/v1/chat/completions`,
    chat('fault-drop-2', 'drop me', { stream_options: { include_usage: true } }));
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /^text\/event-stream/);
  assert.equal(r.complete, true, `the response must be terminated cleanly; got: ${r.text}`);
  const data = sseData(r.text);
  assert.ok(data.length >= 3, r.text);
  const events = data.map((d) => (d === '[DONE]' ? d : JSON.parse(d)));
  // The two chunks the upstream sent before dying come first, unchanged.
  const rec = stack.up.lastRequest((q) => q.body?.model === 'fault-drop-2');
  assert.ok(rec);
  const sent = sseData(rec.responseBody);
  assert.equal(sent.length, 2);
  assert.deepEqual(data.slice(0, 2), sent);
  const last = events.at(-1);
  assert.notEqual(last, '[DONE]', `the stream ends with the error event, not [DONE]: ${r.text}`);
  assert.ok(last.error, `last event is an error: ${r.text}`);
  assert.equal(last.error.type, 'api_error');
  assert.equal(last.error.code, 'upstream_error');
  assert.equal(typeof last.error.message, 'string');
  assert.ok(last.error.message.length > 0);
  assert.equal(events.filter((e) => e !== '[DONE]' && e.error).length, 1);
  assert.ok(r.text.endsWith('\n\n'), 'events are complete SSE events');
});

test('timeout_s covers the whole request: a stream longer than it ends with an error event', T, async () => {
  // Provider `slow` has timeout_s 1; this upstream stream takes about 3 s.
  const r = await streamAll(`${stack.url}/v1/chat/completions`,
    chat('fault-slow-stream-100-30', 'too long'), { timeoutMs: 10000 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.complete, true, `terminated cleanly: ${r.text.slice(-500)}`);
  const events = sseData(r.text);
  const last = JSON.parse(events.at(-1));
  assert.ok(last.error, `last event is an error: ${events.at(-1)}`);
  assert.equal(last.error.type, 'api_error');
  assert.ok(['timeout', 'upstream_error'].includes(last.error.code), last.error.code);
  assert.ok(!r.text.includes('tick29'), 'the stream was cut, not completed');
});

test('concurrent streams do not mix their contents', T, async () => {
  const n = 12;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => streamAll(
    `${stack.url}/v1/chat/completions`,
    chat(i % 2 ? 'gpt-4o' : 'fake:gpt-4o-mini', `parallel number ${i}`,
      i % 3 ? {} : { stream_options: { include_usage: true } }))));
  results.forEach((r, i) => {
    assert.equal(r.status, 200);
    assert.equal(r.complete, true);
    const content = sseJson(r.text).map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, `echo: parallel number ${i}`);
    assert.equal(sseData(r.text).at(-1), '[DONE]');
    const usage = sseJson(r.text).filter((c) => c.usage);
    assert.equal(usage.length, i % 3 ? 0 : 1, `usage chunk only when asked (request ${i})`);
  });
});

test('client hangs up mid-stream -> the upstream connection is closed within 1 s', T, async (t) => {
  const s = await openStream(`${stack.url}/v1/chat/completions`,
    { body: chat('fault-slow-stream-100', 'hang up on me') });
  assert.equal(s.status, 200);
  await s.waitFor((t) => t.includes('tick1'), 5000);
  const rec = stack.up.lastRequest((q) => q.body?.model === 'fault-slow-stream-100');
  assert.ok(rec, 'upstream saw the request');
  assert.equal(stack.up.connection(rec.connId).closedAt, null, 'upstream connection open while streaming');

  const hungUpAt = nowMs();
  s.destroy();
  await expectUpstreamClosed(t, rec, hungUpAt);
  const ticks = (stack.up.stats().requests.find((q) => q.id === rec.id).responseBody.match(/tick/g) ?? []).length;
  assert.ok(ticks < 100, `upstream stopped streaming early (sent ${ticks} ticks)`);

  // The gateway keeps serving.
  const r = await postJson(`${stack.url}/v1/chat/completions`, chat('gpt-4o', 'still alive', { stream: false }));
  assert.equal(r.status, 200, r.body);
});

// A client that gives up while the upstream is still thinking (no byte of the answer yet) must
// free the upstream too: the gateway watches the client for a hang-up, not just its writes.
for (const stream of [false, true]) {
  test(`client hangs up before any byte (${stream ? 'stream' : 'non-stream'}) -> upstream closed within 1 s`, T, async (t) => {
    const marker = `give up ${stream ? 'streaming' : 'waiting'}`;
    const { req, rec } = await sendToHangingUpstream(marker, stream);
    // Long enough that the gateway is past its first look at the client.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(stack.up.connection(rec.connId).closedAt, null, 'upstream connection open while waiting');

    const hungUpAt = nowMs();
    req.destroy();
    await expectUpstreamClosed(t, rec, hungUpAt);
  });
}

// Hang-ups right at the start, before the gateway first looks at the client, count too.
test('client hangs up at once while the upstream thinks -> upstream closed within 1 s', T, async (t) => {
  const marker = 'give up at once';
  const { req, rec } = await sendToHangingUpstream(marker, false);
  const hungUpAt = nowMs();
  req.destroy();
  await expectUpstreamClosed(t, rec, hungUpAt);
});

test('keep-alive: several requests on one client connection', T, async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const results = [];
    results.push(await postJson(`${stack.url}/v1/chat/completions`,
      chat('gpt-4o', 'ka 1', { stream: false }), { agent }));
    results.push(await streamAll(`${stack.url}/v1/chat/completions`, chat('gpt-4o', 'ka 2'), { agent })
      .then((r) => ({ ...r, body: r.text })));
    results.push(await postJson(`${stack.url}/v1/chat/completions`,
      chat('no-such-model', 'ka 3', { stream: false }), { agent }));
    results.push(await request(`${stack.url}/v1/models`, { agent }));
    results.push(await postJson(`${stack.url}/v1/embeddings`,
      { model: 'text-embedding-3-small', input: 'ka 5' }, { agent }));
    results.push(await postJson(`${stack.url}/v1/chat/completions`,
      chat('gpt-4o', 'ka 6', { stream: false }), { agent }));
    assert.deepEqual(results.map((r) => r.status), [200, 200, 404, 200, 200, 200]);
    assert.equal(results[5].json.choices[0].message.content, 'echo: ka 6');
    assert.ok(sseData(results[1].body).includes('[DONE]'));
    const ports = new Set(results.map((r) => r.localPort));
    assert.equal(ports.size, 1, `expected one client connection, saw local ports ${[...ports].join(', ')}`);
    assert.deepEqual(results.map((r) => r.reusedSocket), [false, true, true, true, true, true]);
  } finally {
    agent.destroy();
  }
});

test('keep-alive: pipelined raw requests on one socket are answered in order', T, async () => {
  const net = await import('node:net');
  const sock = net.connect(stack.gw.port, '127.0.0.1');
  try {
    await new Promise((res, rej) => {
      sock.once('connect', res);
      sock.once('error', rej);
    });
    const mk = (text) => {
      const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] });
      return `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    };
    let got = '';
    sock.setEncoding('utf8');
    sock.on('data', (c) => {
      got += c;
    });
    sock.write(mk('pipe one') + mk('pipe two') + mk('pipe three'));
    const deadline = Date.now() + 10000;
    while ((got.match(/HTTP\/1\.1 200/g) ?? []).length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal((got.match(/HTTP\/1\.1 200/g) ?? []).length, 3, got.slice(0, 3000));
    const i1 = got.indexOf('echo: pipe one');
    const i2 = got.indexOf('echo: pipe two');
    const i3 = got.indexOf('echo: pipe three');
    assert.ok(i1 >= 0 && i1 < i2 && i2 < i3, 'responses in request order');
  } finally {
    sock.destroy();
  }
});

test('SIGTERM while a stream is in flight: the stream completes and the process exits 0', T, async () => {
  // A dedicated stack: this test ends its gateway.
  const own = await startStack();
  try {
    const s = await openStream(`${own.url}/v1/chat/completions`,
      { body: chat('fault-slow-stream-100-15', 'drain me') });
    assert.equal(s.status, 200);
    await s.waitFor((t) => t.includes('tick1'), 5000);
    own.gw.proc.kill('SIGTERM');
    let timer;
    const done = await Promise.race([
      s.done,
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`stream not finished 10 s after SIGTERM: ${s.text().slice(-500)}`)), 10000);
      }),
    ]);
    clearTimeout(timer);
    assert.equal(done.complete, true, 'stream ended cleanly');
    assert.ok(done.text.includes('tick14'), 'every chunk arrived');
    assert.equal(sseData(done.text).at(-1), '[DONE]');
    const content = sseJson(done.text).map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.ok(content.endsWith('echo: drain me'), content);

    const exit = await Promise.race([
      own.gw.exited,
      new Promise((r) => {
        timer = setTimeout(() => r(null), 10000);
      }),
    ]);
    clearTimeout(timer);
    assert.ok(exit, `gateway did not exit within 10 s of finishing the stream\n${own.gw.logs()}`);
    assert.deepEqual(exit, { code: 0, signal: null }, own.gw.logs());
  } finally {
    await own.stop();
  }
});

test('SIGTERM with nothing in flight exits 0 promptly', T, async () => {
  const own = await startStack();
  try {
    const r = await postJson(`${own.url}/v1/chat/completions`, chat('gpt-4o', 'before stop', { stream: false }));
    assert.equal(r.status, 200);
    const info = await own.gw.stop({ timeoutMs: 5000, keepDir: true });
    assert.deepEqual(info, { code: 0, signal: null }, own.gw.logs());
  } finally {
    await own.stop();
  }
});

test('SIGTERM right after the "listening" line still shuts down cleanly (10 starts)', T, async () => {
  // Once "listening" is logged the process must already handle SIGTERM (exit 0, not killed).
  const { startGateway } = await import('./lib/gateway.mjs');
  const outcomes = [];
  for (let i = 0; i < 10; i++) {
    const gw = await startGateway({ config: {} });
    outcomes.push(await gw.stop({ timeoutMs: 5000 }));
  }
  const bad = outcomes.filter((o) => !o || o.code !== 0 || o.signal !== null);
  assert.equal(bad.length, 0, `exits: ${JSON.stringify(outcomes)}`);
});

// Pass-through streams are forwarded byte for byte; the usage the gateway asked for on the
// client's behalf must still reach the access log, whether the events come in one read or many.
test('pass-through streams: usage reaches the access log, the usage chunk only when asked', T, async () => {
  const cases = [
    { model: 'gpt-4o', asked: false },
    { model: 'gpt-4o', asked: true },
    { model: 'fault-slow-stream-20-3', asked: false },
    { model: 'fault-slow-stream-20-3', asked: true },
  ];
  for (const [i, c] of cases.entries()) {
    const r = await streamAll(`${stack.url}/v1/chat/completions`,
      chat(c.model, `usage please ${i}`, c.asked ? { stream_options: { include_usage: true } } : {}));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.complete, true);
    assert.equal(sseData(r.text).at(-1), '[DONE]');
    const usageChunks = sseJson(r.text).filter((ch) => ch.usage);
    assert.equal(usageChunks.length, c.asked ? 1 : 0, `${c.model} asked=${c.asked}: ${r.text}`);
    const id = r.headers['x-request-id'];
    const { json: line } = await stack.gw.waitForLog(
      (j) => j?.msg === 'access' && j.request_id === id, 5000);
    assert.ok(line.prompt_tokens > 0 && line.completion_tokens > 0, JSON.stringify(line));
    if (c.asked) {
      assert.equal(line.prompt_tokens, usageChunks[0].usage.prompt_tokens);
      assert.equal(line.completion_tokens, usageChunks[0].usage.completion_tokens);
    }
  }
});
