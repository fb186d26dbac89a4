import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureCommand } from './install.js';
import { tempDir } from './temp-dir.js';

/** A fresh self-signed certificate (its own CA), made with openssl: by default for localhost and 127.0.0.1. */
export function selfSignedCert(names = 'DNS:localhost,IP:127.0.0.1'): { cert: string; key: string } {
  ensureCommand('openssl', 'openssl');
  const dir = tempDir('tls');
  const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', key, '-out', cert, '-subj', `/CN=${names.split(',')[0]!.replace(/^[A-Z]+:/, '')}`, '-addext', `subjectAltName=${names}`], { stdio: 'ignore' });
  return { cert, key };
}
