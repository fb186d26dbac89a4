import { request } from 'node:http';

const ATTEMPT_TIMEOUT_MS = 1_000;
const RETRY_MS = 100;

/** One GET: true when the worker answers with a status below 500. */
function answers(host: string, port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', agent: false, timeout: ATTEMPT_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

/**
 * Resolves true once GET path on host:port answers below 500, false at the deadline or once
 * isAlive() says to give up. An HTTP answer rather than an open port: a port Docker publishes
 * accepts connections before the container's server listens.
 */
export async function waitForHttp(host: string, port: number, path: string, timeoutMs: number, isAlive: () => boolean = () => true): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && isAlive()) {
    if (await answers(host, port, path)) return true;
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
  return false;
}
