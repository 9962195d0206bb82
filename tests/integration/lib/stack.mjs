// The standard test stack: two fake upstreams and one gateway in front of them.
//
// Providers in the generated config:
//   fake   -> upstream `up`  (key sk-fake-provider-key, header X-Title), models below
//   other  -> upstream `up2` (key sk-other-key): other-only, shared-model
//   slow   -> upstream `up`  with timeout_s 1: fault-hang, fault-slow-headers-3000,
//             fault-slow-stream-100-30 (a 3 s stream)
//   dead   -> a closed port: dead-model
// Aliases: gpt-4 -> fake:gpt-4o, my-oss -> fake:gpt-oss:20b

import net from 'node:net';
import { startFakeUpstream } from '../../fake_upstream/server.mjs';
import { startGateway } from './gateway.mjs';

export const FAKE_KEY = 'sk-fake-provider-key';
export const OTHER_KEY = 'sk-other-key';

export const FAKE_MODELS = [
  'gpt-4o',
  'gpt-4o-mini',
  'text-embedding-3-small',
  'gpt-oss:20b',
  'openai/gpt-4o',
  'shared-model',
  'fault-400',
  'fault-401',
  'fault-404',
  'fault-500',
  'fault-503',
  'fault-garbage',
  'fault-nonjson',
  'fault-drop-2',
  'fault-slow-stream-100',
  'fault-slow-stream-100-15',
  'fault-slow-headers-2000',
  'big-300000',
];

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

export function standardConfig({ up, up2, deadPort }, overrides = {}) {
  return {
    server: { max_body_bytes: 16384, shutdown_grace_s: 10, ...(overrides.server ?? {}) },
    providers: [
      {
        name: 'fake',
        type: 'openai-compatible',
        base_url: up.url,
        api_key: FAKE_KEY,
        models: FAKE_MODELS,
        timeout_s: 10,
        headers: { 'X-Title': 'kakehashi-it' },
      },
      {
        name: 'other',
        type: 'openai-compatible',
        base_url: up2.url,
        api_key: OTHER_KEY,
        models: ['other-only', 'shared-model'],
        timeout_s: 10,
      },
      {
        name: 'slow',
        type: 'openai-compatible',
        base_url: up.url,
        api_key: FAKE_KEY,
        models: ['fault-hang', 'fault-slow-headers-3000', 'fault-slow-stream-100-30'],
        timeout_s: 1,
      },
      {
        name: 'dead',
        type: 'openai-compatible',
        base_url: `http://127.0.0.1:${deadPort}/v1`,
        api_key: 'sk-dead',
        models: ['dead-model'],
        timeout_s: 2,
      },
      ...(overrides.providers ?? []),
    ],
    aliases: { 'gpt-4': 'fake:gpt-4o', 'my-oss': 'fake:gpt-oss:20b', ...(overrides.aliases ?? {}) },
    ...(overrides.groups ? { groups: overrides.groups } : {}),
  };
}

/** Groups over the standard providers, for failover tests. */
export const FAILOVER_GROUPS = [
  { name: 'dead-first', targets: [
    { provider: 'dead', model: 'dead-model', priority: 1 },
    { provider: 'fake', model: 'gpt-4o', priority: 2 }] },
  { name: 'busy-first', targets: [
    { provider: 'fake', model: 'fault-503', priority: 1 },
    { provider: 'other', model: 'other-only', priority: 2 }] },
  { name: 'bad-first', targets: [
    { provider: 'fake', model: 'fault-400', priority: 1 },
    { provider: 'other', model: 'other-only', priority: 2 }] },
  { name: 'all-dead', targets: [
    { provider: 'dead', model: 'dead-model', priority: 1 },
    { provider: 'dead', model: 'dead-model', priority: 2 }] },
];

/** Starts both fake upstreams and a gateway; stop() tears all of it down (bounded). */
export async function startStack(opts = {}) {
  const up = await startFakeUpstream({ models: FAKE_MODELS });
  const up2 = await startFakeUpstream({ models: ['other-only', 'shared-model'] });
  const deadPort = await closedPort();
  let gw;
  try {
    gw = await startGateway({
      config: standardConfig({ up, up2, deadPort }, opts.overrides ?? {}),
      env: opts.env,
      args: opts.args,
    });
  } catch (e) {
    await up.close();
    await up2.close();
    throw e;
  }
  return {
    up,
    up2,
    gw,
    deadPort,
    url: gw.url,
    async stop() {
      const died = gw.exitInfo();
      if (died && (died.code !== 0 || died.signal !== null)) {
        // The gateway exited on its own before the end of the tests: show why.
        process.stderr.write(`gateway exited unexpectedly (${JSON.stringify(died)}); last logs:\n`
          + `${gw.logs().split('\n').slice(-40).join('\n')}\n`);
      }
      const info = await gw.stop();
      await up.close();
      await up2.close();
      return info;
    },
  };
}

/** Asserts an OpenAI-shaped error body and returns its `error` object. */
export function openaiError(assert, res, status, { type, code, param } = {}) {
  const ctx = `${res.status} ${res.body}`;
  assert.equal(res.status, status, `status; body: ${res.body}`);
  assert.match(String(res.headers['content-type']), /application\/json/, ctx);
  assert.ok(res.json && typeof res.json === 'object', `JSON body expected: ${ctx}`);
  const err = res.json.error;
  assert.ok(err && typeof err === 'object', `"error" object expected: ${ctx}`);
  assert.deepEqual(Object.keys(err).sort(), ['code', 'message', 'param', 'type'], ctx);
  assert.equal(typeof err.message, 'string', ctx);
  assert.ok(err.message.length > 0, ctx);
  assert.equal(typeof err.type, 'string', ctx);
  if (type !== undefined) assert.equal(err.type, type, ctx);
  if (code !== undefined) assert.equal(err.code, code, ctx);
  if (param !== undefined) assert.equal(err.param, param, ctx);
  return err;
}
