import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../errors.js';

/** The ingress's HTTPS listener as its threads get it. */
export interface IngressTls {
  port: number;
  /** The plain listener only redirects to HTTPS. */
  redirectHttp: boolean;
  certFile: string;
  keyFile: string;
  passphrase?: string | undefined;
}

export type TlsFiles = Omit<IngressTls, 'port' | 'redirectHttp'>;

/**
 * Reads and checks the certificate and key with Node's OpenSSL before an ingress thread loads
 * them: uWS only says "App construction failed", which names neither the file nor the fault.
 * Returns when the certificate expires, for the log.
 */
export function checkTlsFiles(files: TlsFiles): Date {
  const read = (field: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new ConfigError(`tls.${field}: cannot read ${path}: ${(cause as Error).message}`, { cause });
    }
  };
  const cert = read('certFile', files.certFile);
  const key = read('keyFile', files.keyFile);
  let expires: Date;
  try {
    expires = new Date(new X509Certificate(cert).validTo);
  } catch (cause) {
    throw new ConfigError(`tls.certFile: ${files.certFile} holds no PEM certificate: ${(cause as Error).message}`, { cause });
  }
  try {
    createPrivateKey({ key, ...(files.passphrase === undefined ? {} : { passphrase: files.passphrase }) });
  } catch (cause) {
    const hint = files.passphrase === undefined ? ' (an encrypted key needs tls.passphrase)' : ' (or tls.passphrase is wrong)';
    throw new ConfigError(`tls.keyFile: ${files.keyFile} holds no usable PEM private key${hint}: ${(cause as Error).message}`, { cause });
  }
  try {
    // Loads both as a server would, which checks that the key belongs to the certificate.
    createSecureContext({ cert, key, ...(files.passphrase === undefined ? {} : { passphrase: files.passphrase }) });
  } catch (cause) {
    throw new ConfigError(`tls.keyFile: ${files.keyFile} does not go with tls.certFile ${files.certFile}: ${(cause as Error).message}`, { cause });
  }
  return expires;
}
