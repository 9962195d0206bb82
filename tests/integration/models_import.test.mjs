// `kakehashi models import` (SPEC §5 model importer): the real binary against the fake upstream.
// Every child runs with a bounded timeout and talks to loopback only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GATEWAY_BIN, fakeProvider, startGateway, toYaml } from './lib/gateway.mjs';
import { request } from './lib/http.mjs';
import { startFakeUpstream } from '../fake_upstream/server.mjs';

const T = { timeout: 30000 };
const KEY = 'sk-fake-provider-key';
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-3.5-turbo', 'text-embedding-3-small', 'o1',
  'openai/gpt-4o', 'gpt-oss:20b'];

const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(
  ([k]) => !/^(KAKEHASHI_|OPENAI_|ANTHROPIC_|GEMINI_|GOOGLE_|OPENROUTER_|HTTPS?_PROXY$|NO_PROXY$|ALL_PROXY$)/i.test(k)));

let up;
let dir;
before(async () => {
  up = await startFakeUpstream({ models: MODELS, apiKey: KEY });
  dir = mkdtempSync(path.join(tmpdir(), 'kh-import-'));
});
after(async () => {
  await up?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// The fake upstream lives in this process, so the binary must run asynchronously.
function run(args, { env = {}, timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(GATEWAY_BIN, args, { env: { ...cleanEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (c) => { stdout += c; });
    proc.stderr.setEncoding('utf8').on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    const started = Date.now();
    proc.on('error', reject);
    proc.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

let fileNo = 0;
function writeConfig(config) {
  const file = path.join(dir, `config-${++fileNo}.yaml`);
  writeFileSync(file, typeof config === 'string' ? config : toYaml(config));
  return file;
}

const baseConfig = (extra = {}) => ({ providers: [fakeProvider(up)], ...extra });

// The fragment's aliases, read back from the emitter's block style: `  "name": "target"`.
function aliasesOf(yaml) {
  const lines = yaml.split('\n').filter((l) => l && !l.startsWith('#'));
  if (lines[0] === 'aliases: {}') return {};
  assert.equal(lines[0], 'aliases:', yaml);
  const out = {};
  for (const l of lines.slice(1)) {
    const m = l.match(/^ {2}("(?:[^"\\]|\\.)*"): ("(?:[^"\\]|\\.)*")$/);
    assert.ok(m, `unexpected line ${JSON.stringify(l)} in\n${yaml}`);
    out[JSON.parse(m[1])] = JSON.parse(m[2]);
  }
  return out;
}

async function importAliases(args, opts) {
  const r = await run(['models', 'import', ...args], opts);
  assert.equal(r.status, 0, r.stderr);
  return { ...r, aliases: aliasesOf(r.stdout) };
}

test('--help on models and models import', T, async () => {
  for (const args of [['models', '--help'], ['models', 'import', '--help']]) {
    const r = await run(args);
    assert.equal(r.status, 0, args.join(' '));
    assert.match(r.stdout, /Usage:/, args.join(' '));
  }
  const help = (await run(['models', 'import', '--help'])).stdout;
  for (const flag of ['--provider', '--include', '--exclude', '--prefix', '--config', '--output', '--force', '--timeout']) {
    assert.ok(help.includes(flag), `${flag} in\n${help}`);
  }
  assert.match((await run(['--help'])).stdout, /models/);
});

test('usage errors exit 1', T, async () => {
  const noProvider = await run(['models', 'import']);
  assert.equal(noProvider.status, 1);
  assert.match(noProvider.stderr, /--provider/);
  assert.equal((await run(['models'])).status, 1);
  assert.equal((await run(['models', 'import', '--provider', 'fake', '--timeout', '0'])).status, 1);
});

test('imports every model by default, with the provider key, as provider:model aliases', T, async () => {
  up.reset();
  const file = writeConfig(baseConfig());
  const r = await importAliases(['--provider', 'fake', '--config', file]);
  assert.deepEqual(r.aliases, Object.fromEntries(MODELS.map((m) => [m, `fake:${m}`])));
  assert.match(r.stderr, /fetched 7 models from fake; 7 kept; 0 skipped \(exist\); wrote 7 aliases to stdout/);
  const lists = up.stats().requests.filter((q) => q.method === 'GET');
  assert.equal(lists.length, 1);
  assert.equal(lists[0].path, '/v1/models');
  assert.equal(lists[0].headers.authorization, `Bearer ${KEY}`);
});

test('include, exclude and prefix combinations', T, async () => {
  const file = writeConfig(baseConfig());
  const cases = [
    [['--include', 'gpt-4o*'], ['gpt-4o', 'gpt-4o-mini']],
    [['--include', 'gpt-*', '--exclude', '*-mini', '*3.5*'], ['gpt-4o', 'gpt-oss:20b']],
    [['--include', 'o?', '--include', '*/*'], ['o1', 'openai/gpt-4o']],
    [['--exclude', '*embedding*', '--exclude', 'gpt-[34]*'], ['gpt-oss:20b', 'o1', 'openai/gpt-4o']],
    [['--include', '[!g]*'], ['o1', 'openai/gpt-4o', 'text-embedding-3-small']],
  ];
  for (const [args, expected] of cases) {
    for (const prefix of [null, 'fast-', 'team/']) {
      const extra = prefix ? ['--prefix', prefix] : [];
      const r = await importAliases(['--provider', 'fake', '--config', file, ...args, ...extra]);
      const want = Object.fromEntries(expected.map((m) => [`${prefix ?? ''}${m}`, `fake:${m}`]));
      assert.deepEqual(r.aliases, want, `${args.join(' ')} ${extra.join(' ')}`);
      assert.match(r.stderr, new RegExp(`; ${expected.length} kept; 0 skipped \\(exist\\); wrote ${expected.length} aliases`));
    }
  }
});

test('names the config already uses are skipped and reported', T, async () => {
  const file = writeConfig(baseConfig({
    groups: [{ name: 'gpt-4o-mini', targets: [{ provider: 'fake', model: 'gpt-4o-mini' }] }],
    aliases: { 'gpt-4o': 'fake:gpt-4o', 'x-o1': 'fake:o1' },
  }));
  const r = await importAliases(['--provider', 'fake', '--config', file, '--include', 'gpt-4o*', 'o1']);
  assert.deepEqual(r.aliases, { o1: 'fake:o1' });
  assert.match(r.stderr, /skipped 'gpt-4o': an alias of that name exists/);
  assert.match(r.stderr, /skipped 'gpt-4o-mini': a group of that name exists/);
  assert.match(r.stderr, /fetched 7 models from fake; 3 kept; 2 skipped \(exist\); wrote 1 aliases to stdout/);
  const prefixed = await importAliases(['--provider', 'fake', '--config', file, '--include', 'o1', '--prefix', 'x-']);
  assert.deepEqual(prefixed.aliases, {});
  assert.match(prefixed.stderr, /skipped 'x-o1'/);
});

test('nothing kept: exit 0, an empty aliases map, and a note', T, async () => {
  const file = writeConfig(baseConfig());
  const r = await run(['models', 'import', '--provider', 'fake', '--config', file, '--include', 'claude-*']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'aliases: {}\n');
  assert.match(r.stderr, /7 models from fake; 0 kept; 0 skipped \(exist\); wrote 0 aliases to stdout/);
  assert.match(r.stderr, /nothing to import/);
});

test('unknown provider: exit 1 listing the known ones', T, async () => {
  const file = writeConfig({ providers: [fakeProvider(up), fakeProvider(up, { name: 'other' })] });
  const r = await run(['models', 'import', '--provider', 'nope', '--config', file]);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /unknown provider 'nope'; known providers: fake, other/);
  const none = await run(['models', 'import', '--provider', 'openai']);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /unknown provider 'openai': no providers are configured/);
});

test('a broken or missing config file: exit 1 with the error', T, async () => {
  const r = await run(['models', 'import', '--provider', 'fake', '--config', path.join(dir, 'missing.yaml')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot open the config file/);
  const bad = await run(['models', 'import', '--provider', 'fake', '--config', writeConfig('server: { port: -1 }\n')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /'port' must be between/);
});

test('unreachable, refusing, hanging and failing providers: exit 1, bounded, clear error', T, async () => {
  // A port that was free a moment ago: connection refused.
  const probe = net.createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const closedPort = probe.address().port;
  await new Promise((r) => probe.close(r));
  const refused = await run(['models', 'import', '--provider', 'fake', '--config',
    writeConfig({ providers: [fakeProvider({ url: `http://127.0.0.1:${closedPort}/v1` })] })]);
  assert.equal(refused.status, 1);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, new RegExp(`cannot list the models of provider 'fake' \\(GET http://127\\.0\\.0\\.1:${closedPort}/v1/models\\)`));

  // Accepts, never answers: --timeout bounds the wait.
  const sockets = new Set();
  const silent = net.createServer((s) => sockets.add(s));
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const hung = await run(['models', 'import', '--provider', 'fake', '--timeout', '1', '--config',
      writeConfig({ providers: [fakeProvider({ url: `http://127.0.0.1:${silent.address().port}/v1` })] })]);
    assert.equal(hung.status, 1, hung.stderr);
    assert.ok(hung.ms < 6000, `took ${hung.ms} ms`);
    assert.match(hung.stderr, /cannot list the models of provider 'fake'/);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  }

  // A wrong key: the upstream's 401 is reported.
  const denied = await run(['models', 'import', '--provider', 'fake', '--config',
    writeConfig({ providers: [fakeProvider(up, { api_key: 'sk-wrong' })] })]);
  assert.equal(denied.status, 1);
  assert.equal(denied.stdout, '');
  assert.match(denied.stderr, /HTTP 401/);
});

test('--output writes the file, refuses to overwrite it, and --force does', T, async () => {
  const file = writeConfig(baseConfig());
  const out = path.join(dir, 'aliases.yaml');
  const first = await run(['models', 'import', '--provider', 'fake', '--config', file, '--include', 'o1', '--output', out]);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout, '');
  assert.match(first.stderr, new RegExp(`wrote 1 aliases to ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.deepEqual(aliasesOf(readFileSync(out, 'utf8')), { o1: 'fake:o1' });

  up.reset();
  const again = await run(['models', 'import', '--provider', 'fake', '--config', file, '--output', out]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /exists \(pass --force to overwrite it\)/);
  assert.deepEqual(aliasesOf(readFileSync(out, 'utf8')), { o1: 'fake:o1' }, 'file unchanged');
  assert.equal(up.stats().requests.length, 0, 'refused before any network call');

  const forced = await run(['models', 'import', '--provider', 'fake', '--config', file, '--include', 'gpt-4o', '-o', out, '--force']);
  assert.equal(forced.status, 0, forced.stderr);
  assert.deepEqual(aliasesOf(readFileSync(out, 'utf8')), { 'gpt-4o': 'fake:gpt-4o' });

  const noDir = await run(['models', 'import', '--provider', 'fake', '--config', file, '-o', path.join(dir, 'no', 'such', 'dir.yaml')]);
  assert.equal(noDir.status, 1);
  assert.match(noDir.stderr, /cannot write/);
  assert.ok(!existsSync(path.join(dir, 'no')));
});

test('environment providers and KAKEHASHI_CONFIG are honoured', T, async () => {
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: up.url };
  const r = await importAliases(['--provider', 'openai', '--include', 'gpt-4o'], { env });
  assert.deepEqual(r.aliases, { 'gpt-4o': 'openai:gpt-4o' });
  const viaEnv = await importAliases(['--provider', 'fake', '--include', 'o1'],
    { env: { KAKEHASHI_CONFIG: writeConfig(baseConfig()) } });
  assert.deepEqual(viaEnv.aliases, { o1: 'fake:o1' });
});

test('the fragment appended to a config passes config check, and the aliases route', T, async () => {
  const awkward = ['yes', 'null', '123', '#hash', 'a: b', '- dash', 'quote"d', '${HOME}', 'sp ace', '日本語'];
  const up2 = await startFakeUpstream({ models: [...MODELS, ...awkward] });
  try {
    const base = toYaml({ providers: [fakeProvider(up2, { name: 'two', models: undefined, api_key: undefined })] });
    const file = writeConfig(base);
    const r = await run(['models', 'import', '--provider', 'two', '--config', file, '--prefix', 'my-']);
    assert.equal(r.status, 0, r.stderr);
    const all = [...MODELS, ...awkward];
    // "${" in a value is escaped as "$${" so that the loader does not expand it.
    assert.deepEqual(aliasesOf(r.stdout),
      Object.fromEntries(all.map((m) => [`my-${m}`, `two:${m.replaceAll('${', () => '$${')}`])));
    const merged = writeConfig(base + r.stdout);
    const check = await run(['config', 'check', merged]);
    assert.equal(check.status, 0, `${check.stderr}\n${readFileSync(merged, 'utf8')}`);
    assert.match(check.stdout, new RegExp(`OK \\(1 providers, 0 groups, ${all.length} aliases\\)`));

    const gw = await startGateway({ config: readFileSync(merged, 'utf8') });
    try {
      const list = await request(`${gw.url}/v1/models`);
      assert.equal(list.status, 200, list.body);
      const ids = new Set(list.json.data.map((m) => m.id));
      for (const m of all) assert.ok(ids.has(`my-${m}`), `my-${m} listed`);
      for (const id of ['my-gpt-oss:20b', 'my-${HOME}', 'my-a: b']) {
        const one = await request(`${gw.url}/v1/models/${encodeURIComponent(id)}`);
        assert.equal(one.status, 200, `${id}: ${one.body}`);
      }
      const chat = await request(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'my-${HOME}', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(chat.status, 200, chat.body);
      assert.equal(chat.headers['x-kakehashi-model'], '${HOME}');
    } finally {
      await gw.stop();
    }
  } finally {
    await up2.close();
  }
});
