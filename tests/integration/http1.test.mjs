// The gateway's HTTP/1.x server, driven over raw sockets: body framings, Expect, HTTP/1.0, and
// clear errors for requests that are not HTTP it will take (SPEC §1).

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

const T = { timeout: 30000 };

/**
 * Writes `parts` (strings, or numbers meaning a pause in ms) to a fresh connection and collects
 * what comes back until the gateway closes it or `until(text)` holds; bounded by 10 s.
 */
async function exchange(parts, until = () => false) {
  const sock = net.connect(stack.gw.port, '127.0.0.1');
  await new Promise((res, rej) => {
    sock.once('connect', res);
    sock.once('error', rej);
  });
  let got = '';
  let closed = false;
  sock.setEncoding('utf8');
  sock.on('data', (c) => {
    got += c;
  });
  sock.on('close', () => {
    closed = true;
  });
  sock.on('error', () => {});
  try {
    for (const p of parts) {
      if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
      else sock.write(p);
    }
    const deadline = Date.now() + 10000;
    while (!closed && !until(got) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    return { text: got, closed };
  } finally {
    sock.destroy();
  }
}

const chatBody = (text) => JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] });
const complete = (t) => /\r\n\r\n[\s\S]*\}$/.test(t) && /Content-Length: \d+/i.test(t)
  && t.length >= t.indexOf('\r\n\r\n') + 4 + Number(/Content-Length: (\d+)/i.exec(t)[1]);

function jsonOf(text) {
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

test('a chunked request body, sent in pieces, is read whole', T, async () => {
  const body = chatBody('chunked hello');
  const a = body.slice(0, 10);
  const b = body.slice(10);
  const hex = (s) => Buffer.byteLength(s).toString(16);
  const r = await exchange([
    'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
      + 'Transfer-Encoding: chunked\r\n\r\n',
    20, `${hex(a)}\r\n${a}\r\n`, 20, `${hex(b)};ext=1\r\n${b}\r\n`, 20, '0\r\n\r\n',
  ], complete);
  assert.match(r.text, /^HTTP\/1\.1 200 /, r.text);
  assert.equal(jsonOf(r.text).choices[0].message.content, 'echo: chunked hello');
});

test('a body that follows its head in pieces is read whole, and the head stays intact', T, async () => {
  const body = chatBody('late body');
  const r = await exchange([
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`
      + `x-request-id: head-survives-the-body\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    30, body.slice(0, 7), 30, body.slice(7),
  ], complete);
  assert.match(r.text, /^HTTP\/1\.1 200 /, r.text);
  assert.match(r.text, /x-request-id: head-survives-the-body/i);
  assert.equal(jsonOf(r.text).choices[0].message.content, 'echo: late body');
});

test('pipelined requests in one write: each body is read where it lies, each answered in order', T, async () => {
  const req = (text) => {
    const body = chatBody(text);
    return `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  const r = await exchange([req('first') + req('second') + req('third')],
    (t) => (t.match(/echo: (first|second|third)/g) ?? []).length === 3);
  assert.deepEqual(r.text.match(/echo: (first|second|third)/g),
    ['echo: first', 'echo: second', 'echo: third'], r.text);
  assert.equal((r.text.match(/HTTP\/1\.1 200 /g) ?? []).length, 3, r.text);
});

// An answer the client's socket cannot take at once waits with its head in the connection's own
// buffer, while other connections' answers are put together meanwhile: with clients not reading,
// another keeps being served, and then every held answer arrives whole and in order. Where a held
// answer stops is up to the socket buffers; with four of them, at least one stops in its head.
test('answers held by clients that stop reading come out whole after other connections ran', { timeout: 60000 }, async () => {
  const n = 40000;  // more than the socket buffers hold, so the gateway's writes stall
  const held = [];
  for (let k = 0; k < 4; k++) {
    const sock = net.connect(stack.gw.port, '127.0.0.1');
    await new Promise((res, rej) => {
      sock.once('connect', res);
      sock.once('error', rej);
    });
    sock.on('error', () => {});
    sock.pause();
    let requests = '';
    for (let i = 0; i < n; i++) requests += `GET /health HTTP/1.1\r\nHost: x\r\nx-request-id: held${k}-${i}\r\n\r\n`;
    sock.write(requests);
    held.push(sock);
  }
  try {
    // Meanwhile another connection's requests are answered, one after another.
    for (let i = 0; i < 300; i++) {
      const r = await exchange([`GET /health HTTP/1.1\r\nHost: x\r\nx-request-id: other-${i}\r\n\r\n`], complete);
      assert.match(r.text, new RegExp(`x-request-id: other-${i}\r\n`, 'i'), r.text);
    }
    const received = await Promise.all(held.map(async (sock) => {
      let got = '';
      sock.setEncoding('utf8');
      sock.on('data', (c) => {
        got += c;
      });
      sock.resume();
      const deadline = Date.now() + 30000;
      const answers = () => (got.match(/HTTP\/1\.1 /g) ?? []).length;
      while ((answers() < n || !complete(got.slice(got.lastIndexOf('HTTP/1.1 ')))) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      return got;
    }));
    received.forEach((got, k) => {
      const answers = got.split(/(?=HTTP\/1\.1 )/);
      assert.equal(answers.length, n);
      answers.forEach((answer, i) => {
        if (!answer.startsWith('HTTP/1.1 200 OK\r\n') || !answer.includes(`\r\nx-request-id: held${k}-${i}\r\n`) || !complete(answer))
          assert.fail(`connection ${k}, answer ${i} is not whole: ${JSON.stringify(answer.slice(0, 400))}`);
      });
    });
  } finally {
    for (const sock of held) sock.destroy();
  }
});

test('Expect: 100-continue gets a 100 before the answer', T, async () => {
  const body = chatBody('expect me');
  const r = await exchange([
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
    50, body,
  ], (t) => complete(t.slice(t.indexOf('HTTP/1.1 200'))));
  assert.match(r.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, r.text);
});

test('HTTP/1.0: answered, then the connection is closed', T, async () => {
  const r = await exchange(['GET /health HTTP/1.0\r\n\r\n']);
  assert.match(r.text, /^HTTP\/1\.1 200 /, r.text);
  assert.match(r.text, /Connection: close/i);
  assert.ok(r.closed, 'closed after the answer');
});

test('HTTP/1.0 streams: no chunked framing, the body ends with the connection', T, async () => {
  const body = JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'ten stream' }] });
  const r = await exchange([
    `POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  ]);
  assert.match(r.text, /^HTTP\/1\.1 200 /, r.text);
  const head = r.text.slice(0, r.text.indexOf('\r\n\r\n'));
  assert.doesNotMatch(head, /Transfer-Encoding/i, head);
  assert.doesNotMatch(head, /Content-Length/i, head);
  assert.match(head, /Content-Type: text\/event-stream/i, head);
  const rest = r.text.slice(head.length + 4);
  assert.match(rest, /^data: \{/, 'the events follow the blank line as they are');
  assert.match(rest, /data: \[DONE\]\n\n$/, rest);
  assert.ok(r.closed, 'closed after the stream');
});

test('malformed requests: a 400 in the API error shape, saying what is wrong', T, async () => {
  const cases = [
    ['GET /health HTTP/9.9\r\n\r\n', /unsupported HTTP version/],
    ['GET /health\r\n\r\n', /malformed request line/],
    ['GET /health HTTP/1.1\r\nBad Header\r\n\r\n', /header line without a colon/],
    ['POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
      /both Content-Length and Transfer-Encoding/],
    ['POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      /malformed chunked body/],
  ];
  for (const [raw, why] of cases) {
    const r = await exchange([raw]);
    assert.match(r.text, /^HTTP\/1\.1 400 /, raw);
    const err = jsonOf(r.text).error;
    assert.equal(err.type, 'invalid_request_error', r.text);
    assert.match(err.message, /^Malformed HTTP request: /);
    assert.match(err.message, why, raw);
    assert.ok(r.closed, 'the connection is closed after a malformed request');
  }
});

test('headers over server.max_header_bytes -> 431, and the gateway goes on', T, async () => {
  const r = await exchange([`GET /health HTTP/1.1\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`]);
  assert.match(r.text, /^HTTP\/1\.1 431 /, r.text.slice(0, 200));
  const ok = await exchange(['GET /health HTTP/1.1\r\nConnection: close\r\n\r\n']);
  assert.match(ok.text, /^HTTP\/1\.1 200 /);
});

test('a head that trickles in, a few bytes at a time, is read once it is whole', T, async () => {
  const head = 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  const parts = [];
  for (let i = 0; i < head.length; i += 3) parts.push(head.slice(i, i + 3), 2);
  const r = await exchange(parts);
  assert.match(r.text, /^HTTP\/1\.1 200 /, r.text);
});
