// A tiny forward proxy for the integration tests, listening on 127.0.0.1 only.
//
//   const px = await startTestProxy({ routes: { 'upstream.test:80': { host: '127.0.0.1', port: N } },
//                                     auth: 'user:pass' });
//   px.url        -> 'http://127.0.0.1:PORT'
//   px.seen()     -> [{ method, target, host, proxyAuthorization, clientPort, status, at }]
//   await px.close();
//
// It speaks both proxy forms:
//   - absolute-form plain HTTP (`POST http://upstream.test/v1/chat/completions HTTP/1.1`): the
//     request is forwarded to the routed address and the answer relayed back;
//   - `CONNECT host:port` tunnels: after `200 Connection Established` bytes are copied both ways.
// Destinations are never resolved: only `routes` (keyed `host:port`, lower case) are reachable, and
// every route must point at a loopback address. Unknown destinations get 502; with `auth` set, a
// request whose Proxy-Authorization is not `Basic base64(auth)` gets 407. Everything is recorded.

import http from 'node:http';
import net from 'node:net';

function isLoopback(host) {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authorization', 'proxy-connection',
  'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function withoutHopByHop(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
  return out;
}

export async function startTestProxy(opts = {}) {
  const routes = new Map();
  for (const [k, v] of Object.entries(opts.routes ?? {})) {
    if (!isLoopback(v.host)) throw new Error(`test proxy: route ${k} must point at loopback`);
    routes.set(k.toLowerCase(), v);
  }
  const expectedAuth = opts.auth ? `Basic ${Buffer.from(opts.auth).toString('base64')}` : null;
  const seen = [];
  const sockets = new Set();

  const server = http.createServer({ keepAliveTimeout: 30000 });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  function authorized(req) {
    return !expectedAuth || req.headers['proxy-authorization'] === expectedAuth;
  }

  server.on('request', (req, res) => {
    const rec = {
      method: req.method,
      target: req.url,
      host: req.headers.host ?? null,
      proxyAuthorization: req.headers['proxy-authorization'] ?? null,
      clientPort: req.socket.remotePort,
      status: null,
      at: Date.now(),
    };
    seen.push(rec);
    const reply = (status, text, headers = {}) => {
      rec.status = status;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(`${text}\n`);
    };
    let url;
    try {
      url = new URL(req.url);
    } catch {
      reply(400, 'test proxy: absolute-form request target expected');
      return;
    }
    if (url.protocol !== 'http:') {
      reply(400, 'test proxy: only http:// targets in absolute form');
      return;
    }
    if (!authorized(req)) {
      reply(407, 'test proxy: proxy authentication required',
        { 'proxy-authenticate': 'Basic realm="test"' });
      return;
    }
    const route = routes.get(`${url.hostname.toLowerCase()}:${url.port || '80'}`);
    if (!route) {
      reply(502, `test proxy: no route to ${url.host}`);
      return;
    }
    const headers = withoutHopByHop(req.headers);
    const up = http.request({
      host: route.host,
      port: route.port,
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers,
      agent: false,
    }, (upRes) => {
      rec.status = upRes.statusCode;
      // Hop-by-hop headers describe the proxy->upstream connection (agent: false, so a `close`),
      // not the client's: the client's keep-alive is the proxy's own business.
      res.writeHead(upRes.statusCode, withoutHopByHop(upRes.headers));
      upRes.pipe(res);
    });
    up.setTimeout(30000, () => up.destroy(new Error('test proxy: upstream timeout')));
    up.on('error', () => {
      if (!res.headersSent) reply(502, 'test proxy: upstream error');
      else res.destroy();
    });
    req.pipe(up);
  });

  server.on('connect', (req, client, head) => {
    const rec = {
      method: 'CONNECT',
      target: req.url,
      host: req.headers.host ?? null,
      proxyAuthorization: req.headers['proxy-authorization'] ?? null,
      clientPort: req.socket.remotePort,
      status: null,
      at: Date.now(),
    };
    seen.push(rec);
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    const refuse = (status, reason, extra = '') => {
      rec.status = status;
      client.end(`HTTP/1.1 ${status} ${reason}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`);
    };
    if (!authorized(req)) {
      refuse(407, 'Proxy Authentication Required', 'Proxy-Authenticate: Basic realm="test"\r\n');
      return;
    }
    const route = routes.get(String(req.url).toLowerCase());
    if (!route) {
      refuse(502, 'Bad Gateway');
      return;
    }
    const up = net.connect({ host: route.host, port: route.port });
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    up.setTimeout(30000, () => up.destroy());
    up.on('connect', () => {
      rec.status = 200;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head && head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => {
      if (rec.status === null) refuse(502, 'Bad Gateway');
      else client.destroy();
    });
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address();

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    /** `http://user:pass@127.0.0.1:PORT` (userinfo as given, not escaped). */
    urlWithAuth(userinfo) {
      return `http://${userinfo}@127.0.0.1:${port}`;
    },
    seen: () => seen.map((r) => ({ ...r })),
    clear() {
      seen.length = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      let timer;
      await Promise.race([
        new Promise((r) => server.close(() => r())),
        new Promise((r) => {
          timer = setTimeout(r, 3000);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
