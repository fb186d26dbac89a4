import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, waitForPort } from '../../src/drivers/free-port.js';
import { ensureCommand } from './install.js';

export interface RedisServer {
  readonly port: number;
  /** redis://[:password@]127.0.0.1:port, or rediss:// with TLS */
  readonly url: string;
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop()). */
  start(): Promise<void>;
}

/** A real redis-server of the test's own on an ephemeral loopback port, without persistence; with `tls`, TLS only. */
export async function startRedisServer(options: { password?: string; tls?: { cert: string; key: string } } = {}): Promise<RedisServer> {
  ensureCommand('redis-server', 'redis-server');
  const port = await freePort();
  const listen = options.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', options.tls.cert, '--tls-key-file', options.tls.key, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(options.password ? ['--requirepass', options.password] : [])];
  let child: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    if (!(await waitForPort('127.0.0.1', port, 10_000))) throw new Error(`redis-server did not listen on ${port}`);
  };
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      const c = child;
      if (c === null || c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  await start();
  return { port, url: `${options.tls ? 'rediss' : 'redis'}://${options.password ? `:${options.password}@` : ''}127.0.0.1:${port}`, stop, start };
}
