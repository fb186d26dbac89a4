import { openSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Docker from 'dockerode';
import { buildWorkerImage } from '../../src/drivers/worker-image.js';
import { ensureCommand } from './install.js';
import { tempDir } from './temp-dir.js';

export const WORKER_IMAGE = 'weighbridge-worker:test';
export const docker = new Docker({ socketPath: '/var/run/docker.sock' });

const answers = (): Promise<boolean> => docker.ping().then(() => true, () => false);

/**
 * A Docker engine to test against: Debian's docker.io, installed when missing and dockerd started
 * when no daemon answers (both as root, as CI runs); then the example worker's image, built
 * locally since no registry is reachable. dockerd stays up after the tests.
 */
export async function ensureDockerWithWorkerImage(): Promise<void> {
  if (!(await answers())) {
    ensureCommand('dockerd', 'docker.io');
    const log = openSync(join(tempDir('dockerd'), 'dockerd.log'), 'a');
    spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] }).unref();
    const deadline = Date.now() + 60_000;
    while (!(await answers())) {
      if (Date.now() > deadline) throw new Error('dockerd did not answer within 60 s');
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const present = await docker.getImage(WORKER_IMAGE).inspect().then(() => true, () => false);
  if (!present) await buildWorkerImage(WORKER_IMAGE);
}

/** This application's containers, as Docker lists them. */
export function containersOf(appId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ filters: { label: [`weighbridge.app=${appId}`] } });
}
