import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForPort } from '../../src/drivers/free-port.js';
import { ensureCommand } from './install.js';
import { tempDir } from './temp-dir.js';

export interface NatsServer {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGKILL, like a crash) and starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A real nats-server of the test's own on an ephemeral loopback port; `extra` is more config. */
export async function startNatsServer(extra = '', fixedPort?: number): Promise<NatsServer> {
  ensureCommand('nats-server', 'nats-server');
  const port = fixedPort ?? (await freePort());
  const dir = tempDir('nats');
  const config = join(dir, 'nats.conf');
  // The bus allows 8 MiB messages (100,000 workers' weights; the server's default is 1 MiB). The
  // server takes twice that here, so the tests reach the bus's own limit, not the server's.
  // JetStream holds the leases of the autoscaler and the reconciler.
  writeFileSync(config, `listen: 127.0.0.1:${port}\nmax_payload: 16777216\njetstream { store_dir: "${join(dir, 'js')}" }\n${extra}\n`);
  let child: ChildProcess;
  const launch = async (): Promise<void> => {
    child = spawn('nats-server', ['-c', config], { stdio: 'ignore' });
    if (!(await waitForPort('127.0.0.1', port, 10_000))) throw new Error(`nats-server did not listen on ${port}`);
  };
  const kill = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  await launch();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    async restart() {
      await kill();
      await launch();
    },
    stop: kill,
  };
}
