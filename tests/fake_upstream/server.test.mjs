// Self-test of the fake upstream (no gateway needed): node --test tests/fake_upstream/

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFakeUpstream, parseFault } from './server.mjs';
import { request, postJson, sseData, sseJson, streamAll, openStream } from '../integration/lib/http.mjs';

let up;
before(async () => {
  up = await startFakeUpstream();
});
after(async () => {
  await up.close();
});

const chatBody = (extra = {}) => ({
  model: 'gpt-4o',
  messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }],
  ...extra,
});

test('models list in OpenAI format', async () => {
  const r = await request(`${up.url}/models`);
  assert.equal(r.status, 200);
  assert.equal(r.json.object, 'list');
  assert.deepEqual(r.json.data.map((m) => m.id), ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small']);
  for (const m of r.json.data) {
    assert.equal(m.object, 'model');
    assert.equal(typeof m.created, 'number');
    assert.equal(typeof m.owned_by, 'string');
  }
});

test('chat completion non-stream echoes the last user message and records the request', async () => {
  up.reset();
  const r = await postJson(`${up.url}/chat/completions`, chatBody(), {
    headers: { authorization: 'Bearer sk-test' },
  });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /application\/json/);
  const c = r.json;
  assert.match(c.id, /^chatcmpl-/);
  assert.equal(c.object, 'chat.completion');
  assert.equal(c.model, 'gpt-4o');
  assert.equal(typeof c.created, 'number');
  assert.equal(c.system_fingerprint, 'fp_fake0001');
  assert.deepEqual(c.choices[0].message, {
    role: 'assistant', content: 'echo: hello there', refusal: null, annotations: [],
  });
  assert.equal(c.choices[0].finish_reason, 'stop');
  assert.equal(c.choices[0].logprobs, null);
  assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
  assert.equal(c.usage.prompt_tokens_details.cached_tokens, 0);
  assert.ok(c.usage.completion_tokens_details);

  const rec = up.lastRequest();
  assert.equal(rec.method, 'POST');
  assert.equal(rec.path, '/v1/chat/completions');
  assert.equal(rec.headers.authorization, 'Bearer sk-test');
  assert.deepEqual(rec.body, chatBody());
  assert.equal(rec.rawBody, JSON.stringify(chatBody()));
  assert.equal(rec.responseBody, r.body);
  assert.equal(rec.status, 200);
});

test('chat stream without include_usage has no usage fields', async () => {
  const r = await streamAll(`${up.url}/chat/completions`, chatBody({ stream: true }));
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/event-stream/);
  const data = sseData(r.text);
  assert.equal(data[data.length - 1], '[DONE]');
  assert.ok(r.text.endsWith('data: [DONE]\n\n'));
  const chunks = sseJson(r.text);
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  for (const ch of chunks) {
    assert.equal(ch.object, 'chat.completion.chunk');
    assert.ok(!('usage' in ch));
    assert.equal(ch.choices.length, 1);
  }
  const content = chunks.map((ch) => ch.choices[0].delta.content ?? '').join('');
  assert.equal(content, 'echo: hello there');
  assert.equal(chunks[chunks.length - 1].choices[0].finish_reason, 'stop');
});

test('chat stream with include_usage ends with a usage chunk with empty choices', async () => {
  const r = await streamAll(`${up.url}/chat/completions`,
    chatBody({ stream: true, stream_options: { include_usage: true } }));
  const chunks = sseJson(r.text);
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
  for (const ch of chunks.slice(0, -1)) assert.equal(ch.usage, null);
});

test('legacy completions, non-stream and stream', async () => {
  const r = await postJson(`${up.url}/completions`, { model: 'gpt-4o', prompt: 'say hi' });
  assert.equal(r.json.object, 'text_completion');
  assert.equal(r.json.choices[0].text, 'echo: say hi');
  assert.ok(r.json.usage.total_tokens > 0);
  const s = await streamAll(`${up.url}/completions`,
    { model: 'gpt-4o', prompt: 'say hi', stream: true, stream_options: { include_usage: true } });
  const chunks = sseJson(s.text);
  assert.equal(chunks.filter((c) => c.choices.length).map((c) => c.choices[0].text).join(''), 'echo: say hi');
  assert.deepEqual(chunks[chunks.length - 1].choices, []);
  assert.ok(chunks[chunks.length - 1].usage.total_tokens > 0);
});

test('embeddings, float and base64 encode the same vector', async () => {
  const f = await postJson(`${up.url}/embeddings`, { model: 'text-embedding-3-small', input: ['a', 'b'] });
  assert.equal(f.json.object, 'list');
  assert.equal(f.json.data.length, 2);
  assert.equal(f.json.data[1].index, 1);
  assert.equal(f.json.data[0].object, 'embedding');
  assert.equal(f.json.data[0].embedding.length, 8);
  const b = await postJson(`${up.url}/embeddings`,
    { model: 'text-embedding-3-small', input: ['a', 'b'], encoding_format: 'base64' });
  const buf = Buffer.from(b.json.data[0].embedding, 'base64');
  const decoded = Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
  assert.deepEqual(decoded, f.json.data[0].embedding);
  assert.equal(b.json.usage.prompt_tokens, 2);
});

test('fault by model name: status with OpenAI error body', async () => {
  const r = await postJson(`${up.url}/chat/completions`, chatBody({ model: 'fault-400' }));
  assert.equal(r.status, 400);
  assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(r.json.error.param, 'messages');
  assert.equal(r.json.error.code, 'invalid_value');
  const r5 = await postJson(`${up.url}/chat/completions`, chatBody({ model: 'prov/fault-503' }));
  assert.equal(r5.status, 503);
  assert.equal(r5.json.error.type, 'server_error');
});

test('fault by control call applies to the next POST only', async () => {
  up.nextFault({ type: 'status', status: 418, error: { message: 'teapot', code: 'tea' } });
  const models = await request(`${up.url}/models`);
  assert.equal(models.status, 200, 'GET is not consumed by a queued fault');
  const r = await postJson(`${up.url}/chat/completions`, chatBody());
  assert.equal(r.status, 418);
  assert.equal(r.json.error.code, 'tea');
  const ok = await postJson(`${up.url}/chat/completions`, chatBody());
  assert.equal(ok.status, 200);
});

test('garbage fault writes non-HTTP bytes', async () => {
  up.nextFault('garbage');
  await assert.rejects(postJson(`${up.url}/chat/completions`, chatBody()), /parse|HPE|Parse|socket hang up/i);
});

test('nonjson fault answers 200 with a body that is not JSON', async () => {
  const r = await postJson(`${up.url}/chat/completions`, chatBody({ model: 'fault-nonjson' }));
  assert.equal(r.status, 200);
  assert.equal(r.json, undefined);
});

test('hang fault never answers; slow-headers answers late', async () => {
  await assert.rejects(postJson(`${up.url}/chat/completions`, chatBody({ model: 'fault-hang' }), { timeoutMs: 300 }),
    /timed out/);
  const t0 = Date.now();
  const r = await postJson(`${up.url}/chat/completions`, chatBody({ model: 'fault-slow-headers-300' }));
  assert.equal(r.status, 200);
  assert.ok(Date.now() - t0 >= 280);
  assert.equal(r.json.model, 'fault-slow-headers-300');
});

test('drop fault cuts a stream after some chunks', async () => {
  const s = await openStream(`${up.url}/chat/completions`, { body: chatBody({ model: 'fault-drop-2', stream: true }) });
  const d = await s.done;
  assert.equal(d.complete, false);
  assert.equal(sseJson(d.text).length, 2);
});

test('connections record open and close times; slow stream stops when the client leaves', async () => {
  up.reset();
  const s = await openStream(`${up.url}/chat/completions`,
    { body: chatBody({ model: 'fault-slow-stream-50', stream: true }) });
  await s.waitFor((t) => t.includes('tick1'), 3000);
  const hangup = Date.now();
  s.destroy();
  const rec = up.lastRequest();
  const conn = await up.waitFor(() => {
    const c = up.connection(rec.connId);
    return c && c.closedAt !== null ? c : null;
  }, 2000, 'connection close');
  assert.ok(conn.closedAt >= conn.openedAt);
  assert.ok(conn.closedAt - hangup < 1000);
  assert.equal(up.stats().requests.at(-1).finished, false);
});

test('keep-alive connections serve several requests', async () => {
  up.reset();
  const sock = net.connect(up.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const body = JSON.stringify(chatBody());
  const one = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  let got = '';
  sock.on('data', (c) => { got += c; });
  sock.write(one + one);
  await up.waitFor(() => (got.match(/HTTP\/1\.1 200/g) ?? []).length === 2, 3000, 'two responses');
  sock.destroy();
  const st = up.stats();
  assert.equal(st.requests.length, 2);
  assert.equal(st.requests[0].connId, st.requests[1].connId);
});

test('parseFault grammar', () => {
  assert.deepEqual(parseFault('500'), { type: 'status', status: 500 });
  assert.deepEqual(parseFault('slow-headers-1500'), { type: 'slow_headers', ms: 1500 });
  assert.deepEqual(parseFault('slow-stream-20-5'), { type: 'slow_stream', intervalMs: 20, chunks: 5 });
  assert.deepEqual(parseFault('drop'), { type: 'drop', chunks: 2 });
  assert.equal(parseFault(null), null);
  assert.throws(() => parseFault('bogus'));
});

test('CLI mode prints its port and serves control endpoints', async () => {
  const file = fileURLToPath(new URL('./server.mjs', import.meta.url));
  const child = spawn(process.execPath, [file, '--port', '0', '--models', 'm1,m2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let buf = '';
      const t = setTimeout(() => reject(new Error('CLI did not print its port')), 5000);
      child.stdout.on('data', (c) => {
        buf += c;
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(t);
          resolve(buf.slice(0, nl));
        }
      });
    });
    const { port } = JSON.parse(line);
    assert.ok(port > 0);
    const base = `http://127.0.0.1:${port}`;
    const m = await request(`${base}/v1/models`);
    assert.deepEqual(m.json.data.map((x) => x.id), ['m1', 'm2']);
    const q = await postJson(`${base}/__control/next`, { fault: '503' });
    assert.equal(q.status, 200);
    const r = await postJson(`${base}/v1/chat/completions`, chatBody());
    assert.equal(r.status, 503);
    const st = await request(`${base}/__control/stats`);
    assert.equal(st.json.requests.length, 2);
    assert.ok(st.json.connections.length >= 3);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        r();
      }, 3000);
      child.once('exit', () => {
        clearTimeout(t);
        r();
      });
    });
  }
});

test('big-N models answer N characters', async () => {
  const r = await postJson(`${up.url}/chat/completions`, chatBody({ model: 'big-50000' }));
  assert.equal(r.json.choices[0].message.content.length, 50000);
  const s = await streamAll(`${up.url}/chat/completions`, chatBody({ model: 'x/big-5000', stream: true }));
  const text = sseJson(s.text).map((c) => c.choices[0].delta.content ?? '').join('');
  assert.equal(text.length, 5000);
  assert.ok(text.startsWith('echo: abc'));
});
