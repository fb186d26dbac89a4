import { readFileSync } from 'node:fs';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../errors.js';

/** A certificate and its key (PEM files). */
export interface KeyPair {
  certFile: string;
  keyFile: string;
  passphrase?: string | undefined;
}

/** What the TLS listener serves: a default pair, and one per server name for SNI. */
export interface TlsFiles extends KeyPair {
  certificates: (KeyPair & { serverName: string })[];
}

/** The ingress's HTTPS listener as its threads get it. */
export interface IngressTls extends TlsFiles {
  port: number;
  /** The plain listener only redirects to HTTPS. */
  redirectHttp: boolean;
  hsts?: HstsSettings | undefined;
}

/** Strict-Transport-Security for HTTPS responses (see the config schema). */
export interface HstsSettings {
  maxAgeS: number;
  includeSubDomains: boolean;
  preload: boolean;
}

/**
 * Checks every pair (checkKeyPair), and that each SNI certificate covers its server name:
 * otherwise the clients asking for that name would be refused by their own checks.
 */
export function checkTlsFiles(files: TlsFiles): void {
  checkKeyPair(files, 'tls');
  files.certificates.forEach((pair, i) => {
    const field = `tls.certificates[${i}]`;
    const cert = checkKeyPair(pair, field);
    // A wildcard entry is checked against a name it stands for.
    const probe = pair.serverName.replace(/^\*\./, 'wildcard-probe.');
    if (cert.checkHost(probe) === undefined) throw new ConfigError(`${field}.certFile: ${pair.certFile} does not cover ${pair.serverName} (subject ${cert.subject.replace(/\n/g, ', ')}; names ${cert.subjectAltName ?? 'none'})`);
  });
}

/**
 * A digest of everything the TLS listener loads, so that a reload which changes nothing (a
 * SIGHUP for other settings) builds no new TLS App: replaced Apps stay until their thread ends.
 */
export function tlsDigest(files: TlsFiles): string {
  const hash = createHash('sha256');
  for (const pair of [{ ...files, serverName: '' }, ...files.certificates]) {
    hash.update(`${pair.serverName}\0${pair.passphrase ?? ''}\0`);
    hash.update(readFileSync(pair.certFile));
    hash.update('\0');
    hash.update(readFileSync(pair.keyFile));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/**
 * Reads and checks a certificate and key with Node's OpenSSL before an ingress thread loads
 * them: uWS only says "App construction failed", which names neither the file nor the fault.
 * `field` names the pair in errors (tls, tls.certificates[0]).
 */
export function checkKeyPair(files: KeyPair, field: string): X509Certificate {
  const read = (name: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new ConfigError(`${field}.${name}: cannot read ${path}: ${(cause as Error).message}`, { cause });
    }
  };
  const cert = read('certFile', files.certFile);
  const key = read('keyFile', files.keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (cause) {
    throw new ConfigError(`${field}.certFile: ${files.certFile} holds no PEM certificate: ${(cause as Error).message}`, { cause });
  }
  try {
    createPrivateKey({ key, ...(files.passphrase === undefined ? {} : { passphrase: files.passphrase }) });
  } catch (cause) {
    const hint = files.passphrase === undefined ? ` (an encrypted key needs ${field}.passphrase)` : ` (or ${field}.passphrase is wrong)`;
    throw new ConfigError(`${field}.keyFile: ${files.keyFile} holds no usable PEM private key${hint}: ${(cause as Error).message}`, { cause });
  }
  try {
    // Loads both as a server would, which checks that the key belongs to the certificate.
    createSecureContext({ cert, key, ...(files.passphrase === undefined ? {} : { passphrase: files.passphrase }) });
  } catch (cause) {
    throw new ConfigError(`${field}.keyFile: ${files.keyFile} does not go with ${field}.certFile ${files.certFile}: ${(cause as Error).message}`, { cause });
  }
  return x509;
}
