// The gateway's upstream client against real loopback servers: TLS verification and SNI,
// keep-alive pooling, and outbound HTTP(S) proxies with NO_PROXY (docs/configuration.md,
// "Outbound proxy and TLS").
//
// Everything listens on 127.0.0.1. Certificates come from a throwaway CA made with the openssl CLI
// (lib/certs.mjs); the proxy is lib/proxy.mjs, which never resolves names: it maps the made-up host
// `upstream.test` onto the fake upstreams, so no request can leave the machine.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeUpstream } from '../fake_upstream/server.mjs';
import { startGateway } from './lib/gateway.mjs';
import { postJson, sseData, sseJson, streamAll } from './lib/http.mjs';
import { openaiError } from './lib/stack.mjs';
import { makeTestPki, opensslAvailable } from './lib/certs.mjs';
import { startTestProxy } from './lib/proxy.mjs';

const T = { timeout: 15000 };

// Without the CLI the suites below fail in their set-up; this says why, once. scripts/test.sh
// installs it: a missing tool must turn the run red, not skip what TLS and proxies promise.
test('the openssl CLI is there to make test certificates', () => {
  assert.ok(opensslAvailable(), 'install the openssl package (scripts/test.sh does)');
});

// Loose on purpose: the wording is the gateway's, only the cause must show.
const TLS_FAILURE = /certific|tls|ssl|handshake/i;

const PROXY_USER = 'user:pass';
const PROXY_AUTH = `Basic ${Buffer.from(PROXY_USER).toString('base64')}`; // Basic dXNlcjpwYXNz

// Variables the upstream client reads; each gateway gets exactly the ones a test names.
const NO_TRANSPORT_ENV = {
  SSL_CERT_FILE: undefined,
  SSL_CERT_DIR: undefined,
  HTTP_PROXY: undefined,
  HTTPS_PROXY: undefined,
  NO_PROXY: undefined,
  http_proxy: undefined,
  https_proxy: undefined,
  no_proxy: undefined,
  ALL_PROXY: undefined,
  all_proxy: undefined,
};

const chatBody = (model, text, extra = {}) => ({
  model,
  messages: [{ role: 'user', content: text }],
  ...extra,
});

function provider(name, baseUrl, extra = {}) {
  return {
    name,
    type: 'openai-compatible',
    base_url: baseUrl,
    api_key: `sk-${name}-key`,
    models: ['gpt-4o'], // explicit: no model discovery at startup
    timeout_s: 10,
    ...extra,
  };
}

function gateway(providers, env = {}) {
  return startGateway({
    config: { providers },
    env: { ...NO_TRANSPORT_ENV, ...env },
    args: ['--threads', '1'],
  });
}

async function chatOk(gw, model, text) {
  const r = await postJson(`${gw.url}/v1/chat/completions`, chatBody(model, text));
  assert.equal(r.status, 200, `POST /v1/chat/completions model=${model}: ${r.body}`);
  assert.equal(r.json.object, 'chat.completion', r.body);
  assert.equal(r.json.choices[0].message.content, `echo: ${text}`, r.body);
  return r;
}

async function streamOk(gw, model, text) {
  const r = await streamAll(`${gw.url}/v1/chat/completions`, chatBody(model, text, { stream: true }));
  assert.equal(r.status, 200, `stream model=${model}: ${r.text}`);
  assert.match(String(r.headers['content-type']), /text\/event-stream/, r.text);
  assert.ok(r.complete, `stream completed: ${r.text}`);
  const data = sseData(r.text);
  assert.equal(data[data.length - 1], '[DONE]', r.text);
  const content = sseJson(r.text).map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
  assert.equal(content, `echo: ${text}`, r.text);
  return r;
}

/** Posts a chat that must fail with 502 bad_gateway in OpenAI's error shape. */
async function chatBadGateway(gw, model, what) {
  const t0 = Date.now();
  const r = await postJson(`${gw.url}/v1/chat/completions`, chatBody(model, what), { timeoutMs: 14000 });
  const err = openaiError(assert, r, 502, { code: 'bad_gateway' });
  return { res: r, err, ms: Date.now() - t0 };
}

const chatRequests = (up) => up.requests((q) => q.method === 'POST' && q.path === '/v1/chat/completions');
const newConnections = (up, since) => up.stats().connections.filter((c) => c.id > since && !c.control);
const lastConnId = (up) => up.stats().connections.reduce((m, c) => Math.max(m, c.id), 0);

// ---------------------------------------------------------------------------------------------
// TLS

describe('TLS to the upstream', () => {
  let pki;
  let upTls; // cert for localhost / 127.0.0.1, signed by the test CA
  let upWrong; // cert for other.test only, signed by the test CA
  let gwTrusted; // SSL_CERT_FILE = the test CA
  let gwUntrusted; // system CA store only

  before(async () => {
    pki = makeTestPki();
    const good = pki.serverCert('localhost', ['localhost', '127.0.0.1']);
    const other = pki.serverCert('other', ['other.test']);
    upTls = await startFakeUpstream({ tls: good, urlHost: 'localhost', models: ['gpt-4o'] });
    upWrong = await startFakeUpstream({ tls: other, urlHost: 'localhost', models: ['gpt-4o'] });
    const providers = [
      provider('tls', upTls.url), // https://localhost:PORT/v1
      provider('tlsip', `https://127.0.0.1:${upTls.port}/v1`),
      provider('wrongname', upWrong.url), // https://localhost:PORT/v1, cert says other.test
    ];
    gwTrusted = await gateway(providers, { SSL_CERT_FILE: pki.caPath });
    gwUntrusted = await gateway(providers);
  });

  after(async () => {
    await gwTrusted?.stop();
    await gwUntrusted?.stop();
    await upTls?.close();
    await upWrong?.close();
    pki?.cleanup();
  });

  test('non-stream chat over HTTPS, certificate trusted through SSL_CERT_FILE', T, async () => {
    const before = chatRequests(upTls).length;
    await chatOk(gwTrusted, 'tls:gpt-4o', 'over tls');
    const recs = chatRequests(upTls);
    assert.equal(recs.length, before + 1, 'the HTTPS upstream received the chat');
    const rec = recs[recs.length - 1];
    assert.equal(rec.headers.host, `localhost:${upTls.port}`);
    assert.equal(rec.headers.authorization, 'Bearer sk-tls-key');
    const conn = upTls.connection(rec.connId);
    assert.ok(conn && conn.tls && conn.secure, `request arrived on a TLS connection: ${JSON.stringify(conn)}`);
  });

  test('streaming chat over HTTPS', T, async () => {
    await streamOk(gwTrusted, 'tls:gpt-4o', 'streamed over tls');
  });

  test('the TLS server saw SNI "localhost"', T, async () => {
    const names = upTls.sniNames();
    assert.ok(names.length >= 1, 'at least one ClientHello carried SNI');
    assert.ok(names.includes('localhost'), `SNI names: ${JSON.stringify(names)}`);
    const rec = chatRequests(upTls).find((q) => q.headers.host === `localhost:${upTls.port}`);
    assert.ok(rec, 'a request through the localhost provider');
    assert.equal(upTls.connection(rec.connId).servername, 'localhost');
  });

  test('IP-literal base_url: certificate verified against its IP SAN, no SNI sent', T, async () => {
    const sniBefore = upTls.sniNames().length;
    await chatOk(gwTrusted, 'tlsip:gpt-4o', 'tls to an ip');
    const rec = chatRequests(upTls).at(-1);
    assert.equal(rec.headers.host, `127.0.0.1:${upTls.port}`);
    const conn = upTls.connection(rec.connId);
    assert.ok(conn.secure);
    assert.equal(conn.servername, null, 'RFC 6066: no SNI for an IP address');
    assert.equal(upTls.sniNames().length, sniBefore, 'no ClientHello with SNI for the IP provider');
  });

  test('untrusted certificate (no SSL_CERT_FILE) -> 502 bad_gateway, nothing sent', T, async () => {
    const before = chatRequests(upTls).length;
    const sniBefore = upTls.sniNames().length;
    const { err } = await chatBadGateway(gwUntrusted, 'tls:gpt-4o', 'untrusted');
    assert.match(err.message, TLS_FAILURE, 'the failure is the certificate check');
    assert.equal(chatRequests(upTls).length, before, `no HTTP request got through (${err.message})`);
    assert.ok(upTls.sniNames().length > sniBefore, 'the handshake was attempted (a ClientHello arrived)');
    const r = await streamAll(`${gwUntrusted.url}/v1/chat/completions`,
      chatBody('tls:gpt-4o', 'untrusted stream', { stream: true }));
    assert.equal(r.status, 502, `stream request with an untrusted upstream: ${r.text}`);
    assert.equal(JSON.parse(r.text).error.code, 'bad_gateway', r.text);
  });

  test('certificate for another name (other.test while connecting to localhost) -> 502', T, async () => {
    const { err } = await chatBadGateway(gwTrusted, 'wrongname:gpt-4o', 'wrong name');
    assert.match(err.message, TLS_FAILURE, 'the failure is the certificate check');
    assert.equal(chatRequests(upWrong).length, 0, `no HTTP request got through (${err.message})`);
    assert.ok(upWrong.sniNames().includes('localhost'),
      `the gateway asked for localhost: ${JSON.stringify(upWrong.sniNames())}`);
    assert.ok(upWrong.stats().connections.every((c) => !c.secure), 'no handshake completed');
  });
});

// ---------------------------------------------------------------------------------------------
// Keep-alive pooling

describe('keep-alive pooling to the upstream (--threads 1)', () => {
  let pki;
  let upPlain;
  let upTls;
  let gw;
  const N = 10;

  before(async () => {
    pki = makeTestPki();
    upPlain = await startFakeUpstream({ models: ['gpt-4o'] });
    upTls = await startFakeUpstream({
      tls: pki.serverCert('localhost', ['localhost']), urlHost: 'localhost', models: ['gpt-4o'],
    });
    gw = await gateway([provider('plain', upPlain.url), provider('tls', upTls.url)],
      { SSL_CERT_FILE: pki.caPath });
  });

  after(async () => {
    await gw?.stop();
    await upPlain?.close();
    await upTls?.close();
    pki?.cleanup();
  });

  async function assertPooled(up, model, send, label) {
    const since = lastConnId(up);
    const before = chatRequests(up).length;
    for (let i = 0; i < N; i++) await send(gw, model, `${label} ${i}`);
    const recs = chatRequests(up).slice(before);
    assert.equal(recs.length, N, `${N} chats reached the upstream`);
    const conns = newConnections(up, since);
    assert.ok(conns.length <= 2,
      `${N} sequential ${label} requests used ${conns.length} upstream connections (want <= 2): `
      + JSON.stringify(conns.map((c) => ({ id: c.id, requests: c.requestIds.length }))));
    const used = new Set(recs.map((q) => q.connId));
    assert.ok(used.size <= 2, `requests spread over connections ${[...used].join(',')}`);
  }

  test(`${N} sequential non-stream requests over HTTP share <= 2 connections`, T, async () => {
    await assertPooled(upPlain, 'plain:gpt-4o', chatOk, 'plain');
  });

  test(`${N} sequential streaming requests over HTTP share <= 2 connections`, T, async () => {
    await assertPooled(upPlain, 'plain:gpt-4o', streamOk, 'plain-stream');
  });

  test(`${N} sequential requests over HTTPS share <= 2 TLS connections (handshakes)`, T, async () => {
    const sniBefore = upTls.sniNames().length;
    await assertPooled(upTls, 'tls:gpt-4o', chatOk, 'tls');
    assert.ok(upTls.sniNames().length - sniBefore <= 2, 'at most 2 TLS handshakes');
  });
});

// A request body bigger than the upstream socket takes at once is written in parts, while other
// requests on the same thread go out in between.
describe('request bodies larger than a socket buffer (--threads 1)', () => {
  let up;
  let gw;

  before(async () => {
    up = await startFakeUpstream({ models: ['gpt-4o'] });
    gw = await startGateway({
      config: { server: { max_body_bytes: 33554432 }, providers: [provider('plain', up.url)] },
      env: NO_TRANSPORT_ENV,
      args: ['--threads', '1'],
    });
  });

  after(async () => {
    await gw?.stop();
    await up?.close();
  });

  test('an 8 MB request reaches the upstream whole while small requests go out beside it', { timeout: 30000 }, async () => {
    const big = chatOk(gw, 'plain:gpt-4o', `big ${'0123456789abcdef'.repeat(1 << 19)}`);
    const small = Array.from({ length: 20 }, (_, i) => chatOk(gw, 'plain:gpt-4o', `small ${i}`));
    await Promise.all([big, ...small]);
  });
});

// ---------------------------------------------------------------------------------------------
// Outbound proxy

describe('HTTP_PROXY / HTTPS_PROXY', () => {
  let pki;
  let upPlain; // plain HTTP, reached as http://upstream.test/v1 through the proxy
  let upTls; // HTTPS with a cert for upstream.test, reached through a CONNECT tunnel
  let upLoop; // plain HTTP on 127.0.0.1: loopback, must be reached directly
  let proxy;
  let gw;

  before(async () => {
    pki = makeTestPki();
    upPlain = await startFakeUpstream({ models: ['gpt-4o'] });
    upTls = await startFakeUpstream({
      tls: pki.serverCert('upstream', ['upstream.test']), urlHost: 'upstream.test', models: ['gpt-4o'],
    });
    upLoop = await startFakeUpstream({ models: ['gpt-4o'] });
    proxy = await startTestProxy({
      auth: PROXY_USER,
      routes: {
        'upstream.test:80': { host: '127.0.0.1', port: upPlain.port },
        'upstream.test:443': { host: '127.0.0.1', port: upTls.port },
      },
    });
    gw = await gateway([
      provider('viahttp', 'http://upstream.test/v1'),
      provider('viahttps', 'https://upstream.test/v1'),
      provider('loop', upLoop.url),
    ], {
      HTTP_PROXY: proxy.urlWithAuth(PROXY_USER),
      HTTPS_PROXY: proxy.urlWithAuth(PROXY_USER),
      SSL_CERT_FILE: pki.caPath,
    });
  });

  after(async () => {
    await gw?.stop();
    await proxy?.close();
    await upPlain?.close();
    await upTls?.close();
    await upLoop?.close();
    pki?.cleanup();
  });

  test('http:// upstream: absolute-form request through the proxy, with Proxy-Authorization', T, async () => {
    proxy.clear();
    await chatOk(gw, 'viahttp:gpt-4o', 'via http proxy');
    const seen = proxy.seen();
    assert.equal(seen.length, 1, `proxy saw: ${JSON.stringify(seen)}`);
    assert.equal(seen[0].method, 'POST');
    assert.equal(seen[0].target, 'http://upstream.test/v1/chat/completions');
    assert.equal(seen[0].host, 'upstream.test');
    assert.equal(seen[0].proxyAuthorization, PROXY_AUTH);
    const rec = chatRequests(upPlain).at(-1);
    assert.ok(rec, 'the upstream behind the proxy got the chat');
    assert.equal(rec.headers.authorization, 'Bearer sk-viahttp-key');
    assert.equal(rec.body.model, 'gpt-4o');
  });

  test('http:// upstream through the proxy: streaming works', T, async () => {
    proxy.clear();
    await streamOk(gw, 'viahttp:gpt-4o', 'streamed via http proxy');
    assert.deepEqual(proxy.seen().map((s) => `${s.method} ${s.target}`),
      ['POST http://upstream.test/v1/chat/completions']);
  });

  test('https:// upstream: CONNECT upstream.test:443 tunnel, TLS verified inside it', T, async () => {
    proxy.clear();
    const sniBefore = upTls.sniNames().length;
    await chatOk(gw, 'viahttps:gpt-4o', 'via connect tunnel');
    await streamOk(gw, 'viahttps:gpt-4o', 'streamed via connect tunnel');
    const seen = proxy.seen();
    assert.ok(seen.length >= 1 && seen.length <= 2, `proxy saw: ${JSON.stringify(seen)}`);
    for (const s of seen) {
      assert.equal(s.method, 'CONNECT', 'https goes through CONNECT, never in absolute form');
      assert.equal(s.target, 'upstream.test:443');
      assert.equal(s.proxyAuthorization, PROXY_AUTH);
      assert.equal(s.status, 200);
    }
    const recs = chatRequests(upTls);
    assert.equal(recs.length, 2, 'both chats reached the HTTPS upstream');
    assert.equal(recs[0].headers.host, 'upstream.test');
    assert.equal(recs[0].headers['proxy-authorization'], undefined, 'credentials stay with the proxy');
    assert.equal(upTls.connection(recs[0].connId).servername, 'upstream.test', 'SNI inside the tunnel');
    assert.ok(upTls.sniNames().length > sniBefore);
  });

  test('pooled through the proxy: 6 sequential requests open <= 2 tunnels / proxy connections', T, async () => {
    proxy.clear();
    for (let i = 0; i < 3; i++) await chatOk(gw, 'viahttps:gpt-4o', `pooled tunnel ${i}`);
    for (let i = 0; i < 3; i++) await chatOk(gw, 'viahttp:gpt-4o', `pooled http ${i}`);
    const seen = proxy.seen();
    const connects = seen.filter((s) => s.method === 'CONNECT');
    // The tunnel from the previous test may still be pooled, so 0 new tunnels is fine too.
    assert.ok(connects.length <= 1, `CONNECT tunnels for 3 requests: ${connects.length}`);
    assert.equal(seen.filter((s) => s.method === 'POST').length, 3);
    const proxyConns = new Set(seen.filter((s) => s.method === 'POST').map((s) => s.clientPort));
    assert.ok(proxyConns.size <= 2, `gateway->proxy connections for 3 plain requests: ${proxyConns.size}`);
    const tlsConns = new Set(chatRequests(upTls).slice(-3).map((q) => q.connId));
    assert.equal(tlsConns.size, 1, 'the 3 tunnelled requests used one TLS connection');
  });

  test('loopback upstream is reached directly even with HTTP_PROXY set', T, async () => {
    proxy.clear();
    await chatOk(gw, 'loop:gpt-4o', 'straight to loopback');
    assert.deepEqual(proxy.seen(), [], 'the proxy saw nothing');
    assert.equal(chatRequests(upLoop).length, 1);
  });

  test('proxy refuses the CONNECT (407, wrong credentials) -> 502 bad_gateway', T, async () => {
    const gwBad = await gateway([provider('viahttps', 'https://upstream.test/v1')], {
      HTTPS_PROXY: proxy.urlWithAuth('user:wrong'),
      SSL_CERT_FILE: pki.caPath,
    });
    try {
      proxy.clear();
      const before = chatRequests(upTls).length;
      await chatBadGateway(gwBad, 'viahttps:gpt-4o', 'wrong proxy password');
      const seen = proxy.seen();
      assert.ok(seen.length >= 1, 'the proxy was asked');
      assert.equal(seen[0].method, 'CONNECT');
      assert.equal(seen[0].proxyAuthorization, `Basic ${Buffer.from('user:wrong').toString('base64')}`);
      assert.equal(seen[0].status, 407);
      assert.equal(chatRequests(upTls).length, before, 'nothing reached the upstream');
    } finally {
      await gwBad.stop();
    }
  });
});

describe('NO_PROXY', () => {
  let pki;
  let upPlain;
  let upDirect;
  let proxy;
  let gw;

  before(async () => {
    pki = makeTestPki();
    upPlain = await startFakeUpstream({ models: ['gpt-4o'] });
    upDirect = await startFakeUpstream({ models: ['gpt-4o'] });
    proxy = await startTestProxy({
      auth: PROXY_USER,
      routes: { 'upstream.test:80': { host: '127.0.0.1', port: upPlain.port } },
    });
    gw = await gateway([
      provider('bypass', 'http://upstream.invalid/v1'),
      provider('bypasstls', 'https://upstream.invalid/v1'),
      provider('bypasssub', 'http://api.upstream.invalid/v1'), // domain-suffix match
      provider('via', 'http://upstream.test/v1'), // not listed: still proxied
      // 0.0.0.0 is not a loopback name to the gateway, so only NO_PROXY keeps it off the proxy;
      // on Linux a connect to 0.0.0.0 lands on the local host, where upDirect listens.
      provider('zero', `http://0.0.0.0:${upDirect.port}/v1`),
    ], {
      HTTP_PROXY: proxy.urlWithAuth(PROXY_USER),
      HTTPS_PROXY: proxy.urlWithAuth(PROXY_USER),
      NO_PROXY: 'upstream.invalid, 0.0.0.0',
      SSL_CERT_FILE: pki.caPath,
    });
  });

  after(async () => {
    await gw?.stop();
    await proxy?.close();
    await upPlain?.close();
    await upDirect?.close();
    pki?.cleanup();
  });

  test('a host listed in NO_PROXY bypasses the proxy (and then fails to resolve: 502)', T, async () => {
    for (const model of ['bypass:gpt-4o', 'bypasstls:gpt-4o', 'bypasssub:gpt-4o']) {
      proxy.clear();
      const { err, ms } = await chatBadGateway(gw, model, 'no proxy for me');
      assert.deepEqual(proxy.seen(), [], `${model}: the proxy saw nothing (${err.message}, ${ms} ms)`);
    }
  });

  test('a host not in NO_PROXY still goes through the proxy', T, async () => {
    proxy.clear();
    await chatOk(gw, 'via:gpt-4o', 'still proxied');
    assert.deepEqual(proxy.seen().map((s) => `${s.method} ${s.target} ${s.proxyAuthorization}`),
      [`POST http://upstream.test/v1/chat/completions ${PROXY_AUTH}`]);
  });

  test('NO_PROXY bypass connects directly (0.0.0.0 reaches the local upstream)',
    { ...T, skip: process.platform !== 'linux' && 'connecting to 0.0.0.0 reaches loopback on Linux only' },
    async () => {
      proxy.clear();
      await chatOk(gw, 'zero:gpt-4o', 'direct despite HTTP_PROXY');
      assert.deepEqual(proxy.seen(), [], 'the proxy saw nothing');
      assert.equal(chatRequests(upDirect).length, 1);
      assert.equal(chatRequests(upDirect)[0].headers.host, `0.0.0.0:${upDirect.port}`);
    });
});
