import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { IngressHost } from '../../src/ingress/ingress-host.js';
import { WorkerRegistry } from '../../src/routing/worker-registry.js';
import { RouteTableWriter } from '../../src/shared/route-table.js';
import { StatsSampler } from '../../src/shared/stats-sampler.js';
import { RateTable } from '../../src/shared/rate-table.js';
import { StatsTable } from '../../src/shared/stats-table.js';
import { WorkerDirectory } from '../../src/shared/worker-directory.js';
import { eventually } from '../helpers/eventually.js';
import { fetchRaw, startHttpServer, type Reply } from '../helpers/servers.js';

const CAPACITY = 4;

/** Two ingress threads on the tables, with no worker unless one is added to `registry`. */
async function startHost(log: (line: string) => void = () => {}) {
  const routes = RouteTableWriter.create(CAPACITY);
  const stats = StatsTable.create(CAPACITY, 2);
  const directory = WorkerDirectory.create(CAPACITY);
  const registry = new WorkerRegistry(routes, directory, stats, new StatsSampler(stats));
  const options = {
    host: '127.0.0.1',
    port: 0,
    policy: 'round-robin' as const,
    capacity: CAPACITY,
    routes: routes.buffer,
    stats: stats.buffer,
    directory: directory.buffer,
    limits: { maxConcurrentRequests: 0, maxRequestsPerWorker: 0, maxBodyBytes: 0, maxHeaderBytes: 16 * 1024, clientRequestsPerSecond: 0, clientBurst: 0 },
    timeouts: { connectMs: 1000, responseHeadersMs: 60_000, idleMs: 60_000, keepAliveMs: 1000, queueMs: 5000 },
    accessLog: null,
    tls: null,
    sticky: null,
    requestId: null,
    trustedProxies: [],
    access: { allow: [], deny: [] },
    headers: { request: { set: {}, remove: [] }, response: { set: {}, remove: [] } },
    rates: RateTable.create(16).buffer,
  };
  const host = await IngressHost.start(options, 2, log);
  return { host, stats, registry };
}

/** The host's thread handles, for ending one thread as an uncaught error would (thread.ts: closeAndExit). */
const threadsOf = (host: IngressHost) => host['threads'];

test('an ingress thread that exits is replaced while the other serves; a stop during the replacement ends every thread', async () => {
  const { host } = await startHost();
  // A new connection each time: a kept-alive one may belong to the thread that exits.
  const get = () => fetchRaw(`http://127.0.0.1:${host.port}/`, { agent: false });
  try {
    // No worker in the route table: every answer is the ingress's own 503, from either thread.
    assert.equal((await get()).status, 503);

    const first = threadsOf(host)[0]!;
    first.api.shutdown().catch(() => {});
    assert.equal(await first.exited, 0);
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
    // Past the 100 ms a replacement waits: nothing came back.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(host.threadCount, 0);
    await assert.rejects(get(), 'nothing listens after the stop');
  } finally {
    await host.close();
  }
});

test('a stop while a thread that exited waits for its replacement starts no new thread', async () => {
  const { host } = await startHost();
  try {
    const first = threadsOf(host)[0]!;
    first.api.shutdown().catch(() => {});
    await first.exited;
    // Within the 100 ms before the replacement is spawned.
    await host.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(host.threadCount, 0);
    assert.ok(threadsOf(host).every((t) => t === null));
  } finally {
    await host.close();
  }
});

test("a thread that dies with requests in flight: they leave the counts, and the other thread's and the replacement's still count", async () => {
  const held: ServerResponse[] = [];
  const worker = await startHttpServer((_req, res) => void held.push(res));
  const { host, stats, registry } = await startHost();
  const { slot } = registry.add({ id: 'held', host: '127.0.0.1', port: worker.port, weight: 1 });
  const answers: Promise<Reply | Error>[] = [];
  // Each request on its own connection; the kernel spreads connections over the two threads.
  const send = () => answers.push(fetchRaw(`http://127.0.0.1:${host.port}/`, { agent: false }).catch((err: Error) => err));
  const perThread = async () => (await host.snapshot()).map((t) => t.requests);
  try {
    // Until both threads hold some (all of the first 8 on one thread happens 1 time in 128).
    for (;;) {
      send();
      await eventually('the worker holding every request', async () => (held.length === answers.length ? true : undefined));
      const counts = await perThread();
      if (answers.length >= 4 && counts.length === 2 && counts.every((n) => n > 0)) break;
      assert.ok(answers.length < 64, `connections all went to one thread: ${counts.join(', ')}`);
    }
    const [onDead, onLive] = (await perThread()) as [number, number];
    assert.equal(stats.inflight(slot), onDead + onLive);
    assert.equal(stats.inflightTotal, onDead + onLive);

    // As an uncaught error ends it (thread.ts: closeAndExit). Whatever the thread has not ended
    // itself by then, the host gives back from its lane (IngressHost: reclaimLane).
    const dead = threadsOf(host)[0]!;
    dead.api.shutdown().catch(() => {});
    await dead.exited;
    assert.equal(stats.inflight(slot), onLive);
    assert.equal(stats.inflightTotal, onLive);

    // The replacement takes requests of its own while the survivor's are still in flight.
    const replaced = await eventually('a new thread 0', async () => (host.threadCount === 2 && threadsOf(host)[0]!.worker !== dead.worker ? true : undefined));
    assert.ok(replaced);
    const before = answers.length;
    for (;;) {
      send();
      await eventually('the worker holding every request', async () => (held.length === answers.length ? true : undefined));
      if (((await perThread())[0] ?? 0) > 0) break;
      assert.ok(answers.length < before + 64, 'no connection reached the replacement');
    }
    const onReplacement = (await perThread())[0]!;
    const onSurvivor = (await perThread())[1]!;
    assert.equal(stats.inflight(slot), onReplacement + onSurvivor);

    // Everything still open is answered; the counts come back to zero, not below it.
    for (const res of held) if (!res.socket?.destroyed) res.end('late');
    const settled = await Promise.all(answers);
    assert.equal(settled.filter((a) => !(a instanceof Error) && a.status === 200).length, onReplacement + onSurvivor);
    assert.equal(settled.filter((a) => a instanceof Error).length, onDead, 'the dead thread\'s clients lose their connections');
    await eventually('nothing in flight', async () => (stats.inflight(slot) === 0 ? true : undefined));
    assert.equal(stats.inflightTotal, 0);
    assert.equal(stats.read(slot).completed, onReplacement + onSurvivor);
  } finally {
    for (const res of held) res.destroy();
    await host.close();
    await worker.close();
  }
});

test('a thread that keeps exiting is replaced after doubling delays', async () => {
  const lines: string[] = [];
  const { host } = await startHost((line) => lines.push(line));
  try {
    for (let round = 1; round <= 3; round++) {
      const thread = await eventually(`thread 0, round ${round}`, async () => threadsOf(host)[0] ?? undefined);
      // Listening: an exit before that is the failed start the backoff is for, too.
      await thread.api.snapshot();
      thread.api.shutdown().catch(() => {});
      await thread.exited;
      await eventually(`the log of exit ${round}`, async () => (lines.filter((l) => l.includes('starting a new one')).length === round ? true : undefined));
    }
    const delays = lines.filter((l) => l.includes('starting a new one')).map((l) => Number(/in (\d+) ms/.exec(l)?.[1]));
    assert.deepEqual(delays, [100, 200, 400]);
  } finally {
    await host.close();
  }
});
