import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { leaderOnly } from '../../actors/leader-only.js';
import { Supervisor } from '../../src/actor/supervisor.js';
import { Bus } from '../../src/bus/bus.js';
import { InProcessTransport } from '../../src/bus/in-process-transport.js';
import { NatsTransport } from '../../src/bus/nats-transport.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { eventually } from '../helpers/eventually.js';

const quiet = (): void => {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let nats: NatsServer;
before(async () => {
  nats = await startNatsServer();
});
after(async () => {
  await nats?.stop();
});

test('an act longer than the lease keeps it: renewals go on meanwhile, and two hosts never act at once', async () => {
  const INTERVAL = 100;
  const buses = await Promise.all([0, 1].map(async () => new Bus(await NatsTransport.connect({ servers: [nats.url] }, quiet), quiet)));
  const supervisors = buses.map((bus, i) => new Supervisor({ hostId: `host-${i}`, bus, log: quiet }));
  let running = 0;
  let mostAtOnce = 0;
  const actedBy: string[] = [];
  try {
    for (const [i, sup] of supervisors.entries()) {
      await sup.start(
        leaderOnly({
          name: `long-acts-${process.pid}`,
          intervalMs: INTERVAL,
          leaseTtlMs: 3 * INTERVAL,
          onStatus: quiet,
          // Each act takes three lease lifetimes, like a worker that is slow to become ready.
          act: async () => {
            mostAtOnce = Math.max(mostAtOnce, ++running);
            actedBy.push(`host-${i}`);
            await sleep(9 * INTERVAL);
            running--;
          },
        }),
      );
    }
    await eventually('three acts', async () => (actedBy.length >= 3 ? true : undefined), 15_000);
    assert.equal(new Set(actedBy).size, 1, `the lease changed hands during an act: ${actedBy.join(', ')}`);
  } finally {
    // Stopping the leader mid-act hands the lease over only once its act is done.
    for (const sup of supervisors) await sup.stop();
    await Promise.all(buses.map((b) => b.close()));
  }
  assert.equal(mostAtOnce, 1, 'acts overlapped');
});

test('an act that fails crashes the actor, and the supervisor starts it again', async () => {
  const transport = new InProcessTransport();
  const bus = new Bus(transport, quiet);
  const sup = new Supervisor({ hostId: 'solo', bus, log: quiet, backoff: { initial: 10, max: 10 } });
  let acts = 0;
  try {
    await sup.start(
      leaderOnly({
        name: `failing-act-${process.pid}`,
        intervalMs: 20,
        leaseTtlMs: 60,
        onStatus: quiet,
        act: () => {
          if (++acts === 1) throw new Error('the first act fails');
        },
      }),
    );
    const status = await eventually('a restart', async () => sup.status().find((s) => s.restarts >= 1 && s.state === 'running'), 5_000);
    assert.equal(status.lastCrash?.error, 'the first act fails');
    await eventually('acting again', async () => (acts >= 3 ? true : undefined), 5_000);
  } finally {
    await sup.stop();
    await bus.close();
  }
});
