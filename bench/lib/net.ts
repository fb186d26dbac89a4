/** Loopback helpers: free ports, a single GET, and waiting for a server to answer 200. */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

export const HOST = '127.0.0.1';

/** Asks the kernel for a free loopback port by binding port 0 and closing again. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

export function urlFor(port: number, pathname = '/', scheme: 'http' | 'https' = 'http'): string {
  return `${scheme}://${HOST}:${port}${pathname}`;
}

/** The TLS version and cipher a target negotiates with an OpenSSL client (Node's, like wrk's). */
export function tlsSession(url: string, timeoutMs = 2000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    // The bench's own self-signed certificate on loopback: nothing to verify.
    const socket = tls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false, timeout: timeoutMs }, () => {
      resolve(`${socket.getProtocol()} ${socket.getCipher().standardName}`);
      socket.end();
    });
    socket.on('timeout', () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)));
    socket.on('error', reject);
  });
}

/** One GET on a fresh connection; resolves with the status and body, rejects on network errors. */
export function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    // rejectUnauthorized: the bench's own self-signed certificate, on loopback.
    const req = get(url, { agent: false, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * Polls `url` until it answers 200. Gives up after `timeoutMs`, or early when
 * `stillAlive()` turns false (the server process died).
 */
export async function waitFor200(url: string, timeoutMs: number, stillAlive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt';
  while (Date.now() < deadline) {
    if (!stillAlive()) throw new Error(`process exited before ${url} answered (last: ${last})`);
    try {
      const { status } = await httpGet(url, 1000);
      if (status === 200) return;
      last = `HTTP ${status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s (last: ${last})`);
}
