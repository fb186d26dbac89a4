import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IngressHost } from '../../src/ingress/ingress-host.js';
import { RouteTableWriter } from '../../src/shared/route-table.js';
import { StatsTable } from '../../src/shared/stats-table.js';
import { WorkerDirectory } from '../../src/shared/worker-directory.js';
import { eventually } from '../helpers/eventually.js';
import { fetchRaw } from '../helpers/servers.js';

const CAPACITY = 4;

async function startHost(exits: number[]): Promise<IngressHost> {
  const options = {
    host: '127.0.0.1',
    port: 0,
    policy: 'round-robin' as const,
    capacity: CAPACITY,
    routes: RouteTableWriter.create(CAPACITY).buffer,
    stats: StatsTable.create(CAPACITY, 2).buffer,
    directory: WorkerDirectory.create(CAPACITY).buffer,
    limits: { maxConcurrentRequests: 0, maxBodyBytes: 0, maxHeaderBytes: 16 * 1024 },
    timeouts: { connectMs: 1000, responseHeadersMs: 1000, idleMs: 1000, keepAliveMs: 1000 },
  };
  return IngressHost.start(options, 2, () => {}, (index) => exits.push(index));
}

/** The host's thread handles, for ending one thread as an uncaught error would (thread.ts: closeAndExit). */
const threadsOf = (host: IngressHost) => host['threads'];

test('an ingress thread that exits is replaced while the other serves; a stop during the replacement ends every thread', async () => {
  const exits: number[] = [];
  const host = await startHost(exits);
  // A new connection each time: a kept-alive one may belong to the thread that exits.
  const get = () => fetchRaw(`http://127.0.0.1:${host.port}/`, { agent: false });
  try {
    // No worker in the route table: every answer is the ingress's own 503, from either thread.
    assert.equal((await get()).status, 503);

    const first = threadsOf(host)[0]!;
    first.api.shutdown().catch(() => {});
    assert.equal(await first.exited, 0);
    assert.deepEqual(exits, [0]);
    // The other thread keeps the port served while the replacement starts.
    assert.equal((await get()).status, 503);
    await eventually('a new thread 0', async () => (host.threadCount === 2 && threadsOf(host)[0]!.worker !== first.worker ? true : undefined));
    assert.equal((await get()).status, 503);

    // A stop that begins while a replacement is starting (spawned, not yet listening) ends it too,
    // and no replacement is started after the stop.
    const second = threadsOf(host)[1]!;
    second.api.shutdown().catch(() => {});
    await second.exited;
    const replacement = await eventually('thread 1 being replaced', async () => {
      const t = threadsOf(host)[1];
      return t && t.worker !== second.worker ? t : undefined;
    }, 5_000);
    await host.close();
    assert.equal(typeof (await replacement.exited), 'number');
    // Each thread's exit is reported once: the two that were ended, then both replacements.
    assert.deepEqual(exits.slice(0, 2), [0, 1]);
    assert.deepEqual(exits.slice(2).sort(), [0, 1]);
    // Past the 100 ms a replacement waits: nothing came back.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(host.threadCount, 0);
    await assert.rejects(get(), 'nothing listens after the stop');
  } finally {
    await host.close();
  }
});

test('a stop while a thread that exited waits for its replacement starts no new thread', async () => {
  const exits: number[] = [];
  const host = await startHost(exits);
  try {
    const first = threadsOf(host)[0]!;
    first.api.shutdown().catch(() => {});
    await first.exited;
    // Within the 100 ms before the replacement is spawned.
    await host.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(host.threadCount, 0);
    assert.ok(threadsOf(host).every((t) => t === null));
    assert.deepEqual(exits, [0, 1]);
  } finally {
    await host.close();
  }
});
