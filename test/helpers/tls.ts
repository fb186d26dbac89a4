import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureCommand } from './install.js';
import { tempDir } from './temp-dir.js';

/** A fresh self-signed certificate for localhost and 127.0.0.1 (it is its own CA), made with openssl. */
export function selfSignedCert(): { cert: string; key: string } {
  ensureCommand('openssl', 'openssl');
  const dir = tempDir('tls');
  const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}
