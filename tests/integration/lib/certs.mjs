// Throwaway test PKI made with the `openssl` CLI: one CA and server certificates signed by it.
//
//   const pki = makeTestPki();                       // temp dir with ca.pem / ca.key
//   const srv = pki.serverCert('good', ['localhost', '127.0.0.1']);   // { key, cert, keyPath, certPath }
//   pki.caPath                                      // for SSL_CERT_FILE
//   pki.cleanup();
//
// EC P-256 keys keep generation fast (a few ms each). Every openssl call is bounded in time.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const OPENSSL_TIMEOUT_MS = 10000;

function openssl(args, cwd) {
  return execFileSync('openssl', args, {
    cwd,
    timeout: OPENSSL_TIMEOUT_MS,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function opensslAvailable() {
  try {
    openssl(['version']);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates a CA in a fresh temp dir. opts: { name = 'Kakehashi Test CA', dir }.
 * Returns { dir, caPath, caKeyPath, caPem, serverCert(basename, names), cleanup() }.
 */
export function makeTestPki(opts = {}) {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'kakehashi-pki-'));
  const caKeyPath = path.join(dir, 'ca.key');
  const caPath = path.join(dir, 'ca.pem');
  const cn = opts.name ?? 'Kakehashi Test CA';
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', caKeyPath]);
  openssl(['req', '-x509', '-new', '-key', caKeyPath, '-sha256', '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', caPath]);
  let serial = 1;

  /** A server certificate (CN = names[0]) whose subjectAltName lists `names` (DNS or IP). */
  function serverCert(basename, names) {
    const keyPath = path.join(dir, `${basename}.key`);
    const csrPath = path.join(dir, `${basename}.csr`);
    const certPath = path.join(dir, `${basename}.pem`);
    const extPath = path.join(dir, `${basename}.ext`);
    const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    writeFileSync(extPath, [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${san}`,
      '',
    ].join('\n'));
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
    openssl(['req', '-new', '-key', keyPath, '-subj', `/CN=${names[0]}`, '-out', csrPath]);
    openssl(['x509', '-req', '-in', csrPath, '-CA', caPath, '-CAkey', caKeyPath,
      '-set_serial', String(1000 + serial++), '-days', '2', '-sha256', '-extfile', extPath,
      '-out', certPath]);
    return {
      keyPath,
      certPath,
      key: readFileSync(keyPath, 'utf8'),
      cert: readFileSync(certPath, 'utf8'),
    };
  }

  return {
    dir,
    caPath,
    caKeyPath,
    caPem: readFileSync(caPath, 'utf8'),
    serverCert,
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
