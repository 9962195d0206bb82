// Requests near valid ones, edited at random (bytes changed, dropped, added, cut), sent raw to the
// real binary: every connection gets whole, well-framed answers or is closed, never a hang, never
// an internal error, and the gateway goes on serving. The edits are seeded, so a failure repeats.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startStack } from './lib/stack.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

const chat = JSON.stringify({
  model: 'gpt-4o',
  messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say "hi" \u00e9' }],
  temperature: 0.2,
});
const stream = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'hi' }],
  stream: true,
  stream_options: { include_usage: true },
});
const embed = JSON.stringify({ model: 'text-embedding-3-small', input: ['a', 'b'] });
const post = (path, body, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n${extra}` +
  `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const chunked = (path, body) => {
  const half = Math.floor(body.length / 2);
  const piece = (s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
  return `POST ${path} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n` +
    piece(body.slice(0, half)) + piece(body.slice(half)) + '0\r\n\r\n';
};

const SEEDS = [
  post('/v1/chat/completions', chat),
  post('/v1/chat/completions', stream, 'Accept: text/event-stream\r\n'),
  chunked('/v1/chat/completions', chat),
  post('/v1/chat/completions', chat) + post('/v1/chat/completions', stream),
  post('/v1/embeddings', embed),
  post('/v1/completions', JSON.stringify({ model: 'gpt-4o', prompt: 'x', max_tokens: 3 })),
  post('/api/chat', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], stream: false })),
  post('/v1/chat/completions', chat, 'Expect: 100-continue\r\nX-Request-Id: abc\r\n'),
  'GET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\nGET /health HTTP/1.1\r\nHost: gw\r\n\r\n',
  'GET /v1/models/gpt-4o HTTP/1.0\r\n\r\n',
];
const NOISE = Buffer.from('\r\n:; \t0189aAzZ-{}[]",\\/.\x00\x7f\x80\xc3\xff', 'latin1');

// A small seeded generator (mulberry32): the same edits on every run.
function generator(seed) {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

function edit(seed, pick) {
  let b = Buffer.from(seed, 'latin1');
  const edits = 1 + pick(3);
  for (let e = 0; e < edits && b.length > 0; e++) {
    const at = pick(b.length);
    const c = NOISE[pick(NOISE.length)];
    switch (pick(5)) {
      case 0: b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]); break;
      case 1: b = Buffer.concat([b.subarray(0, at), Buffer.from([c]), b.subarray(at)]); break;
      case 2: b[at] = c; break;
      case 3: b = b.subarray(0, at); break;
      default: {
        const len = 1 + pick(16);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
      }
    }
  }
  return b;
}

/**
 * Sends `bytes` on a fresh connection and reads until the gateway closes it. A request the edits
 * left unfinished waits for more, so after 1 s the client ends its side, and the gateway must close
 * within 5 s more.
 */
async function exchange(bytes) {
  const sock = net.connect(stack.gw.port, '127.0.0.1');
  await new Promise((res, rej) => {
    sock.once('connect', res);
    sock.once('error', rej);
  });
  const got = [];
  let closed = false;
  sock.on('data', (c) => got.push(c));
  sock.on('close', () => { closed = true; });
  sock.on('error', () => {});
  sock.write(bytes);
  const wait = async (ms) => {
    const deadline = Date.now() + ms;
    while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };
  try {
    await wait(1000);
    if (!closed) sock.end();
    await wait(5000);
    return { data: Buffer.concat(got), closed };
  } finally {
    sock.destroy();
  }
}

/** The answers in `data`, each checked for whole framing; throws on a malformed one. */
function answers(data) {
  const out = [];
  let at = 0;
  while (at < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', at, 'latin1');
    assert.ok(headEnd >= 0, `an answer's head is cut: ${data.subarray(at, at + 200).toString('latin1')}`);
    const head = data.subarray(at, headEnd).toString('latin1');
    const m = /^HTTP\/1\.[01] (\d{3}) [^\r\n]*/.exec(head);
    assert.ok(m, `not a status line: ${head.slice(0, 100)}`);
    const status = Number(m[1]);
    const field = (name) => new RegExp(`\r\n${name}: ([^\r\n]*)`, 'i').exec(head)?.[1];
    at = headEnd + 4;
    if (status === 100) continue;
    let body;
    const length = field('content-length');
    if (length !== undefined) {
      body = data.subarray(at, at + Number(length));
      assert.equal(body.length, Number(length), `a body is cut short (${status})`);
      at += body.length;
    } else if (/chunked/i.test(field('transfer-encoding') ?? '')) {
      const parts = [];
      for (;;) {
        const lineEnd = data.indexOf('\r\n', at, 'latin1');
        assert.ok(lineEnd >= 0, 'a chunk size line is cut');
        const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
        assert.ok(Number.isInteger(size), 'a chunk size is not hex');
        at = lineEnd + 2;
        if (size === 0) {
          assert.equal(data.subarray(at, at + 2).toString('latin1'), '\r\n', 'the last chunk lacks its end');
          at += 2;
          break;
        }
        parts.push(data.subarray(at, at + size));
        assert.equal(data.subarray(at + size, at + size + 2).toString('latin1'), '\r\n', 'a chunk is cut');
        at += size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      // HTTP/1.0: the body ends with the connection.
      body = data.subarray(at);
      at = data.length;
    }
    out.push({ status, head, body: body.toString('utf8'), requestId: field('x-request-id') });
  }
  return out;
}

test('randomly edited requests: whole answers or a close, never a hang or an internal error', { timeout: 240000 }, async () => {
  const pick = generator(20261202);
  const cases = [];
  for (let i = 0; i < 600; i++) cases.push(edit(SEEDS[i % SEEDS.length], pick));
  const statuses = new Map();
  let answered = 0;
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const bytes = cases[next++];
      const r = await exchange(bytes);
      const where = `request: ${JSON.stringify(bytes.toString('latin1'))}`;
      assert.ok(r.closed, `the connection was neither answered and closed nor closed: ${where}`);
      let list;
      try {
        list = answers(r.data);
      } catch (e) {
        assert.fail(`${e.message}\n${where}\nanswer: ${JSON.stringify(r.data.toString('latin1').slice(0, 400))}`);
      }
      for (const a of list) {
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        assert.ok(a.requestId, `an answer without x-request-id: ${a.head}\n${where}`);
        assert.notEqual(a.status, 500, `an internal error: ${a.body}\n${where}`);
        if (a.status >= 400) {
          const err = JSON.parse(a.body).error;
          assert.ok(err && typeof err.message === 'string' && err.message.length > 0, `${a.body}\n${where}`);
        }
      }
      if (list.length > 0) answered++;
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  // Most edits leave something the gateway answers (a 400 says what is wrong).
  assert.ok(answered > cases.length / 2, `only ${answered} of ${cases.length} were answered`);
  assert.ok(statuses.get(200) > 20 && statuses.get(400) > 20, JSON.stringify([...statuses]));
  // And it goes on serving.
  const health = await fetch(`${stack.gw.url}/health`);
  assert.equal(health.status, 200);
  const ok = await fetch(`${stack.gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: chat,
  });
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).object, 'chat.completion');
  console.log(`statuses: ${JSON.stringify([...statuses].sort((a, b) => a[0] - b[0]))}, answered ${answered}`);
});
