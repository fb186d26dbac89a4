/** What bench:proxy and bench:websocket share around their rounds: a temp dir, and the order of targets. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seededRandom } from '../../src/balancing/random.js';
import { installCleanup } from './procs.js';

/** A fresh temp dir, removed on exit unless `keep`. */
export function makeTempDir(prefix: string, keep: boolean): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // nginx workers drop to an unprivileged user when started as root; let them reach their temp paths.
  fs.chmodSync(dir, 0o755);
  installCleanup(() => {
    if (keep) process.stderr.write(`temp dir kept: ${dir}\n`);
    else fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * The targets in round `round`'s order: shuffled (reproducibly, Fisher-Yates), so that no target
 * always runs in one place or right after another. With a fixed order, weighbridge always ran
 * right after direct had loaded the backends at their limit, and HAProxy right after weighbridge.
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const random = seededRandom(round);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
