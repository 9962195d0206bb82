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
  'fault-slow-stream-20-3',
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
    ...(overrides.failover ? { failover: overrides.failover } : {}),
    ...(overrides.auto ? { auto: overrides.auto } : {}),
    ...(overrides.queue ? { queue: overrides.queue } : {}),
    ...(overrides.health_check ? { health_check: overrides.health_check } : {}),
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
    // `configure(config, { up, up2 })` may change the config once the fakes' URLs are known.
    const config = standardConfig({ up, up2, deadPort }, opts.overrides ?? {});
    gw = await startGateway({
      config: opts.configure ? opts.configure(config, { up, up2 }) : config,
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

// ---- Translation stack: Anthropic, Gemini and OpenAI-wire fakes behind one gateway ----
//
// Providers in the generated config:
//   claude      type anthropic -> `anthropic` fake (key ANTHROPIC_KEY): CLAUDE_MODELS
//   claude-bad  type anthropic -> the same fake with a wrong key (upstream answers 401)
//   gem         type gemini    -> `gemini` fake (key GEMINI_KEY): GEMINI_MODELS
//   gem-bad     type gemini    -> the same fake with a wrong key
//   oa          openai-compatible -> `openai` fake (server.mjs): OA_MODELS
//   oas         openai-compatible -> `scripted`, an OpenAI-wire upstream answering what the test
//               queued with scripted.nextReply() (tool calls, finish reasons, usage)

export const ANTHROPIC_KEY = 'sk-ant-fake-provider-key';
export const GEMINI_KEY = 'AIza-fake-gemini-provider-key';
export const OA_KEY = 'sk-oa-fake-provider-key';
export const SCRIPTED_KEY = 'sk-scripted-provider-key';

export const CLAUDE_MODELS = ['claude-sonnet-4-5', 'claude-haiku-4-5', 'tool-get_weather', 'max-tokens',
  'stop-seq', 'fault-400', 'fault-401', 'fault-404', 'fault-429', 'fault-500', 'fault-529',
  'fault-stream-error', 'fault-drop-5'];
export const GEMINI_MODELS = ['gemini-2.0-flash', 'gemini-2.5-pro', 'text-embedding-004', 'tool-get_weather',
  'max-tokens', 'safety', 'blocked', 'fault-400', 'fault-401', 'fault-403', 'fault-429', 'fault-500',
  'fault-503', 'fault-stream-error'];
export const OA_MODELS = ['gpt-4o', 'gpt-4o-mini', 'fault-400', 'fault-401', 'fault-429', 'fault-500',
  'fault-503', 'fault-drop-3'];

/**
 * A minimal OpenAI-wire chat upstream that answers from a queue of scripted replies, for the
 * answers server.mjs cannot give (tool calls, finish reasons, chosen usage). Records requests like
 * the other fakes. reply: { content (string|null), tool_calls: [{id?, name, arguments (object or
 * string)}], finish_reason, usage: {prompt_tokens, completion_tokens} }. Without a queued reply it
 * echoes the last user text.
 */
export async function startScriptedOpenAI({ apiKey } = {}) {
  const http = await import('node:http');
  const requests = [];
  const replies = [];
  const sockets = new Set();
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try {
        body = rawBody ? JSON.parse(rawBody) : null;
      } catch {
        body = null;
      }
      const path = new URL(req.url, 'http://x').pathname;
      const rec = { method: req.method, path, url: req.url, headers: { ...req.headers }, rawBody, body,
        responseBody: '' };
      requests.push(rec);
      const send = (status, obj) => {
        rec.status = status;
        rec.responseBody = JSON.stringify(obj);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(rec.responseBody);
      };
      if (apiKey !== undefined && req.headers.authorization !== `Bearer ${apiKey}`) {
        return send(401, { error: { message: 'bad key (scripted)', type: 'invalid_request_error', param: null,
          code: 'invalid_api_key' } });
      }
      if (req.method === 'GET' && path === '/v1/models') {
        return send(200, { object: 'list', data: [{ id: 'scripted', object: 'model', created: 0, owned_by: 'x' }] });
      }
      if (req.method !== 'POST' || path !== '/v1/chat/completions' || !body) {
        return send(404, { error: { message: 'not found (scripted)', type: 'invalid_request_error', param: null,
          code: null } });
      }
      const r = replies.length ? replies.shift() : null;
      const lastUser = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');
      const userText = typeof lastUser?.content === 'string' ? lastUser.content
        : (lastUser?.content ?? []).filter((p) => p.type === 'text').map((p) => p.text).join('');
      const content = r ? (r.content ?? null) : `echo: ${userText}`;
      const toolCalls = (r?.tool_calls ?? []).map((t, i) => ({
        id: t.id ?? `call_scripted_${++n}_${i}`,
        type: 'function',
        function: { name: t.name, arguments: typeof t.arguments === 'string' ? t.arguments : JSON.stringify(t.arguments ?? {}) },
      }));
      const finish = r?.finish_reason ?? (toolCalls.length ? 'tool_calls' : 'stop');
      const usage = { prompt_tokens: r?.usage?.prompt_tokens ?? 10, completion_tokens: r?.usage?.completion_tokens ?? 5 };
      usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
      const id = `chatcmpl-scripted${++n}`;
      const model = body.model;
      if (!body.stream) {
        const message = { role: 'assistant', content };
        if (toolCalls.length) message.tool_calls = toolCalls;
        return send(200, { id, object: 'chat.completion', created: 1700000000, model,
          choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], usage });
      }
      rec.status = 200;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const includeUsage = body.stream_options?.include_usage === true;
      const chunk = (delta, finishReason = null) => ({ id, object: 'chat.completion.chunk', created: 1700000000,
        model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] });
      const events = [chunk({ role: 'assistant', content: '' })];
      if (content) for (const piece of content.match(/\s*\S+/g) ?? [content]) events.push(chunk({ content: piece }));
      toolCalls.forEach((t, index) => {
        events.push(chunk({ tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.function.name, arguments: '' } }] }));
        const a = t.function.arguments;
        for (let i = 0; i < a.length; i += 5) {
          events.push(chunk({ tool_calls: [{ index, function: { arguments: a.slice(i, i + 5) } }] }));
        }
      });
      events.push(chunk({}, finish));
      if (includeUsage) events.push({ id, object: 'chat.completion.chunk', created: 1700000000, model, choices: [], usage });
      for (const e of events) {
        const s = `data: ${JSON.stringify(e)}\n\n`;
        rec.responseBody += s;
        res.write(s);
      }
      rec.responseBody += 'data: [DONE]\n\n';
      res.end('data: [DONE]\n\n');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    nextReply(reply, count = 1) {
      for (let i = 0; i < count; i++) replies.push(reply);
    },
    requests: (f) => (f ? requests.filter(f) : requests.slice()),
    lastRequest: (f) => (f ? requests.filter(f) : requests).at(-1),
    reset() {
      requests.length = 0;
      replies.length = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r()));
    },
  };
}

export function translationConfig({ anthropic, gemini, openai, scripted }, overrides = {}) {
  return {
    server: { shutdown_grace_s: 5, ...(overrides.server ?? {}) },
    providers: [
      { name: 'claude', type: 'anthropic', base_url: anthropic.url, api_key: ANTHROPIC_KEY,
        models: CLAUDE_MODELS, timeout_s: 10 },
      { name: 'claude-bad', type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-wrong-key',
        models: ['claude-wrongkey'], timeout_s: 10 },
      { name: 'gem', type: 'gemini', base_url: gemini.url, api_key: GEMINI_KEY, models: GEMINI_MODELS,
        timeout_s: 10 },
      { name: 'gem-bad', type: 'gemini', base_url: gemini.url, api_key: 'AIza-wrong-key',
        models: ['gemini-wrongkey'], timeout_s: 10 },
      { name: 'oa', type: 'openai-compatible', base_url: openai.url, api_key: OA_KEY, models: OA_MODELS,
        timeout_s: 10 },
      { name: 'oas', type: 'openai-compatible', base_url: scripted.url, api_key: SCRIPTED_KEY,
        models: ['scripted'], timeout_s: 10 },
      ...(overrides.providers ?? []),
    ],
    ...(overrides.aliases ? { aliases: overrides.aliases } : {}),
    ...(overrides.groups ? { groups: overrides.groups } : {}),
  };
}

/**
 * Starts the Anthropic, Gemini, OpenAI-wire and scripted fakes and one gateway in front of them.
 * The `-wrongkey` models live on providers configured with a wrong key, so upstream auth fails.
 */
export async function startTranslationStack(opts = {}) {
  const { startFakeAnthropic } = await import('../../fake_upstream/anthropic.mjs');
  const { startFakeGemini } = await import('../../fake_upstream/gemini.mjs');
  const started = [];
  try {
    const anthropic = await startFakeAnthropic({ apiKey: ANTHROPIC_KEY,
      models: [...CLAUDE_MODELS, 'claude-wrongkey'] });
    started.push(anthropic);
    const gemini = await startFakeGemini({ apiKey: GEMINI_KEY, models: [...GEMINI_MODELS, 'gemini-wrongkey'] });
    started.push(gemini);
    const openai = await startFakeUpstream({ models: OA_MODELS, apiKey: OA_KEY });
    started.push(openai);
    const scripted = await startScriptedOpenAI({ apiKey: SCRIPTED_KEY });
    started.push(scripted);
    const gw = await startGateway({
      config: translationConfig({ anthropic, gemini, openai, scripted }, opts.overrides ?? {}),
      env: opts.env,
      args: opts.args,
    });
    return {
      anthropic, gemini, openai, scripted, gw, url: gw.url,
      async stop() {
        const died = gw.exitInfo();
        if (died && (died.code !== 0 || died.signal !== null)) {
          process.stderr.write(`gateway exited unexpectedly (${JSON.stringify(died)}); last logs:\n`
            + `${gw.logs().split('\n').slice(-40).join('\n')}\n`);
        }
        try {
          return await gw.stop();
        } finally {
          for (const s of started) await s.close();
        }
      },
    };
  } catch (e) {
    for (const s of started) await s.close();
    throw e;
  }
}
