// The command line: version, help, `config check`, and refusing to start on a non-loopback
// address without keys. Runs the real binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GATEWAY_BIN } from './lib/gateway.mjs';

const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(KAKEHASHI_|OPENAI_|ANTHROPIC_|GEMINI_|GOOGLE_|OPENROUTER_)/.test(k)));

function run(args, opts = {}) {
  return spawnSync(GATEWAY_BIN, args, { encoding: 'utf8', timeout: 15000, env: { ...cleanEnv, ...(opts.env ?? {}) } });
}

function withFile(text, fn) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kh-cli-'));
  const file = path.join(dir, 'kakehashi.yaml');
  writeFileSync(file, text);
  try {
    return fn(file, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('version and --version print the version', () => {
  for (const args of [['version'], ['--version']]) {
    const r = run(args);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /\d+\.\d+\.\d+/);
  }
});

test('--help works on every level', () => {
  for (const args of [['--help'], ['serve', '--help'], ['config', '--help'], ['config', 'check', '--help']]) {
    const r = run(args);
    assert.equal(r.status, 0, args.join(' '));
    assert.match(r.stdout, /Usage:/, args.join(' '));
  }
  assert.match(run(['serve', '--help']).stdout, /--port/);
});

test('config check accepts a valid file', () => {
  withFile('providers:\n  - { name: local, type: ollama, models: [llama3] }\naliases: { l: "local:llama3" }\n', (file) => {
    const r = run(['config', 'check', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /OK \(1 providers, 0 groups, 1 aliases\)/);
  });
});

test('config check reports every error with file:line:column and exits 1', () => {
  withFile('server:\n  port: seventy\nproviders:\n  - name: a\n    type: nonsense\n    colour: blue\n', (file) => {
    const r = run(['config', 'check', file]);
    assert.equal(r.status, 1);
    assert.ok(r.stderr.includes(`${file}:2:9: 'port' must be a number`), r.stderr);
    assert.ok(r.stderr.includes(`${file}:5:11: unknown provider type 'nonsense'`), r.stderr);
    assert.ok(r.stderr.includes(`${file}:6:5: unknown key 'colour'`), r.stderr);
  });
  const missing = run(['config', 'check', '/nonexistent/kakehashi.yaml']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /cannot open/);
});

test('config check warns about unset variables', () => {
  withFile('providers:\n  - { name: o, type: openai, api_key: "${KH_TEST_SURELY_UNSET}" }\n', (file) => {
    const r = run(['config', 'check', file]);
    assert.equal(r.status, 0);
    assert.match(r.stderr, /KH_TEST_SURELY_UNSET is not set/);
  });
});

test('serve refuses a non-loopback host without keys or allow_anonymous', () => {
  withFile('server: { host: 0.0.0.0, port: 0 }\n', (file, dir) => {
    const r = run(['serve', '--config', file], { env: { KAKEHASHI_DATA_DIR: dir } });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /refusing to start/);
  });
});

test('serve with a broken config exits 1 with the error', () => {
  withFile('server: { port: 99999 }\n', (file) => {
    const r = run(['serve', '--config', file]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /'port' must be between 0 and 65535/);
  });
});
