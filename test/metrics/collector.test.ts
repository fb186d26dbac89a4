import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Bus } from '../../src/bus/bus.js';
import type { MessageOf } from '../../src/bus/messages.js';
import { NatsTransport } from '../../src/bus/nats-transport.js';
import { topics } from '../../src/bus/subjects.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { fetchRaw, startProxy } from '../helpers/servers.js';

let nats: NatsServer;
before(async () => {
  nats = await startNatsServer();
});
after(async () => {
  await nats?.stop();
});

type Sample = MessageOf<'metrics.sample'>['workers'][number];

/** Waits until some sample satisfies the check; fails with the last samples seen. */
async function sampleWhere(seen: Sample[][], what: string, check: (workers: Map<string, Sample>) => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let from = 0;
  while (Date.now() < deadline) {
    for (; from < seen.length; from++) if (check(new Map(seen[from]!.map((w) => [w.id, w])))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no sample with ${what}; last: ${JSON.stringify(seen.at(-1))}`);
}

test('the collector measures process workers: CPU and memory from /proc, probes when idle, traffic latency and network otherwise', async () => {
  const quiet = (): void => {};
  const bus = new Bus(await NatsTransport.connect({ servers: [nats.url], name: 'test' }, quiet), quiet);
  const seen: Sample[][] = [];
  bus.subscribe(topics.allMetricsSamples(), (m) => void seen.push(m.workers));
  const wb = await startProxy({
    roles: ['ingress', 'collector'],
    bus: { nats: { servers: [nats.url] }, statsIntervalMs: 250 },
    collector: { intervalMs: 250 },
    driver: { kind: 'process', count: 2, memoryLimitMb: 1024 },
  });
  try {
    const workers = (await (await fetch(`${wb.adminUrl}/api/workers`)).json()) as { id: string; address: string }[];
    const busy = workers.find((w) => w.id === 'worker-1')!;
    // Keep worker-1 busy behind the ingress's back: the ingress sees no traffic, /proc sees the CPU.
    let spinning = true;
    const spin = (async () => {
      while (spinning) await Promise.all([fetchRaw(`http://${busy.address}/work?cpu_ms=200`), fetchRaw(`http://${busy.address}/work?cpu_ms=200`)]);
    })();
    try {
      await sampleWhere(seen, 'worker-1 busy, worker-2 idle, both probed', (w) => {
        const [a, b] = [w.get('worker-1'), w.get('worker-2')];
        return a !== undefined && b !== undefined && a.cpuPct! > 50 && b.cpuPct! < 30 && a.latencySource === 'probe' && b.latencySource === 'probe' && b.latencyMs! > 0;
      });
    } finally {
      spinning = false;
      await spin;
    }
    const last = new Map(seen.at(-1)!.map((w) => [w.id, w]));
    // A node process holds tens of MiB: a few percent of the 1 GiB limit.
    for (const w of last.values()) assert.ok(w.memoryPct! > 1 && w.memoryPct! < 50, `memory ${w.memoryPct}%`);
    // Seed 004's network delay: a TCP connect on loopback, well under the 1 s timeout.
    for (const w of last.values()) assert.ok(w.networkDelayMs !== null && w.networkDelayMs >= 0 && w.networkDelayMs < 1_000, `delay ${w.networkDelayMs}`);

    // Traffic through the ingress: latency from it, and bytes per second.
    const body = Buffer.alloc(256 * 1024, 7);
    const until = Date.now() + 2_000;
    while (Date.now() < until) await fetchRaw(`${wb.url}/echo`, { method: 'POST', body });
    await sampleWhere(seen, 'traffic latency and network MB/s', (w) => [...w.values()].some((s) => s.latencySource === 'traffic' && s.networkMBps! > 0.1), 5_000);
    // And seed 004's process time: busy time per completed request, from the ingress.
    await sampleWhere(seen, 'a process time', (w) => [...w.values()].some((s) => s.processTimeMs !== null && s.processTimeMs > 0), 5_000);
  } finally {
    await wb.stop();
    await bus.close();
  }
});
