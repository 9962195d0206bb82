// Starts the real kakehashi binary for a test: `kakehashi serve --port 0 --config <tmp> [args]`.
//
//   const gw = await startGateway({ config: { providers: [...] } });
//   gw.url   -> 'http://127.0.0.1:PORT'
//   await gw.stop();
//
// The binary comes from $KAKEHASHI_BIN, else <repo>/build/kakehashi. Every gateway gets its own
// KAKEHASHI_DATA_DIR (a temp dir, removed by stop()). Provider variables inherited from the
// environment (OPENAI_API_KEY, …) are removed so a developer's real keys never reach a test.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..', '..');
export const GATEWAY_BIN = process.env.KAKEHASHI_BIN || path.join(REPO_ROOT, 'build', 'kakehashi');

const START_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 10000;

// Variables that would add providers or change the gateway's behaviour behind the test's back.
const SCRUBBED_ENV = /^(KAKEHASHI_|OPENAI_|ANTHROPIC_|GEMINI_|GOOGLE_|OPENROUTER_|HTTPS?_PROXY$|NO_PROXY$|ALL_PROXY$)/i;

export function gatewayBinaryExists() {
  return existsSync(GATEWAY_BIN);
}

function yamlScalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot write ${v} as YAML`);
    return String(v);
  }
  // JSON string escapes are valid in YAML double-quoted scalars.
  return JSON.stringify(String(v));
}

/** Writes a plain object/array tree as block-style YAML (keys and strings double-quoted). */
export function toYaml(value, indent = 0) {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (!value.length) return `${pad}[]\n`;
    return value.map((item) => {
      if (item !== null && typeof item === 'object' && Object.keys(item).length) {
        const inner = toYaml(item, indent + 2);
        return `${pad}- ${inner.slice(indent + 2)}`;
      }
      return `${pad}- ${inlineValue(item)}\n`;
    }).join('');
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (!keys.length) return `${pad}{}\n`;
    return keys.map((k) => {
      const v = value[k];
      const key = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(k)
        ? k : yamlScalar(k);
      if (v !== null && typeof v === 'object' && (Array.isArray(v) ? v.length : Object.keys(v).length)) {
        return `${pad}${key}:\n${toYaml(v, indent + 2)}`;
      }
      return `${pad}${key}: ${inlineValue(v)}\n`;
    }).join('');
  }
  return `${pad}${yamlScalar(value)}\n`;
}

function inlineValue(v) {
  if (Array.isArray(v)) return v.length ? `[${v.map(inlineValue).join(', ')}]` : '[]';
  if (v !== null && typeof v === 'object') {
    const ks = Object.keys(v);
    return ks.length ? `{${ks.map((k) => `${yamlScalar(k)}: ${inlineValue(v[k])}`).join(', ')}}` : '{}';
  }
  return yamlScalar(v);
}

/** A config with one openai-compatible provider named `name` in front of a fake upstream. */
export function fakeProvider(upstream, extra = {}) {
  return {
    name: 'fake',
    type: 'openai-compatible',
    base_url: upstream.url,
    api_key: 'sk-fake-provider-key',
    models: ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small'],
    timeout_s: 10,
    ...extra,
  };
}

function isListeningLine(obj) {
  if (!obj || typeof obj !== 'object' || obj.msg !== 'listening') return false;
  // If the proxy and admin listeners are announced separately, skip the admin one.
  for (const k of ['listener', 'name', 'kind', 'role', 'component', 'api']) {
    if (typeof obj[k] === 'string' && /admin/i.test(obj[k])) return false;
  }
  return typeof obj.port === 'number' && obj.port > 0;
}

/**
 * Spawns the gateway and waits for its "listening" log line.
 * opts: { config (YAML text or object), env (extra variables), args (extra CLI args),
 *         noConfig (true: no --config flag), startTimeoutMs }
 * Returns { url, port, proc, dataDir, configPath, logs(), logLines(), waitForLog(pred, ms),
 *           stop({signal}) -> {code, signal} , exited (promise) }.
 */
export async function startGateway(opts = {}) {
  if (!gatewayBinaryExists()) {
    throw new Error(`kakehashi binary not found at ${GATEWAY_BIN} (build it, or set KAKEHASHI_BIN)`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'kakehashi-it-'));
  const dataDir = path.join(dir, 'data');
  const args = ['serve', '--port', '0'];
  let configPath = null;
  if (!opts.noConfig) {
    configPath = path.join(dir, 'config.yaml');
    const cfg = opts.config ?? {};
    writeFileSync(configPath, typeof cfg === 'string' ? cfg : toYaml(cfg));
    args.push('--config', configPath);
  }
  args.push(...(opts.args ?? []));

  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!SCRUBBED_ENV.test(k)) env[k] = v;
  env.KAKEHASHI_DATA_DIR = dataDir;
  // Ask the admin listener for an ephemeral port too, so gateways of parallel test files never
  // fight over the default 4322.
  env.KAKEHASHI_ADMIN_PORT = '0';
  env.KAKEHASHI_ADMIN_PASSWORD = 'integration-test-password';
  Object.assign(env, opts.env ?? {});
  for (const [k, v] of Object.entries(env)) if (v === undefined || v === null) delete env[k];

  const proc = spawn(GATEWAY_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = []; // { stream, text, json }
  const waiters = new Set();
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      for (const w of waiters) w();
      resolve(exitInfo);
    });
  });
  proc.on('error', (e) => {
    lines.push({ stream: 'spawn', text: String(e), json: null });
  });

  const attach = (stream, name) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (c) => {
      buf += c;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = null;
        }
        lines.push({ stream: name, text, json });
        for (const w of waiters) w();
      }
    });
  };
  attach(proc.stdout, 'stdout');
  attach(proc.stderr, 'stderr');

  const logs = () => lines.map((l) => `[${l.stream}] ${l.text}`).join('\n');

  function waitForLog(predicate, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      let idx = 0;
      const check = () => {
        for (; idx < lines.length; idx++) {
          if (predicate(lines[idx].json, lines[idx])) {
            cleanup();
            resolve(lines[idx]);
            return;
          }
        }
        if (exitInfo) {
          cleanup();
          reject(new Error(`gateway exited (${JSON.stringify(exitInfo)}) before the expected log line; logs:\n${logs()}`));
        }
      };
      const t = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a log line; logs:\n${logs()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(t);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }

  // A sanitizer report or an unclean exit after SIGTERM fails the test that stopped the gateway:
  // that is how the ASan+UBSan run of these suites catches memory errors in the server.
  function assertCleanExit(signal) {
    const text = logs();
    const report = text.match(/(ERROR: (Address|Leak)Sanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer)/);
    if (report) throw new Error(`gateway sanitizer report (${report[1]}):\n${text}`);
    if (signal === 'SIGTERM' && exitInfo && exitInfo.code !== 0)
      throw new Error(`gateway exited ${JSON.stringify(exitInfo)} after SIGTERM; logs:\n${text}`);
  }

  async function stop({ signal = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS, keepDir = false,
                        checkExit = true } = {}) {
    if (!exitInfo) {
      proc.kill(signal);
      let timer;
      const killed = await Promise.race([
        exited.then(() => false),
        new Promise((r) => {
          timer = setTimeout(() => r(true), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (killed) {
        proc.kill('SIGKILL');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      }
    }
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
    if (checkExit) assertCleanExit(signal);
    return exitInfo;
  }

  let listening;
  try {
    listening = await waitForLog((j) => isListeningLine(j), opts.startTimeoutMs ?? START_TIMEOUT_MS);
  } catch (e) {
    await stop({ timeoutMs: 2000, checkExit: false });
    throw e;
  }
  const port = listening.json.port;
  const url = typeof listening.json.url === 'string' ? listening.json.url.replace(/\/+$/, '')
    : `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    proc,
    dir,
    dataDir,
    configPath,
    exited,
    exitInfo: () => exitInfo,
    logs,
    logLines: () => lines.slice(),
    waitForLog,
    stop,
  };
}
