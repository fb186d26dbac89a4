import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bus } from '../../src/bus/bus.js';
import { InProcessTransport } from '../../src/bus/in-process-transport.js';
import { topics } from '../../src/bus/subjects.js';
import { ClusterFleet, FleetError, placeWorker, type Inventory } from '../../src/scaling/fleet.js';

const worker = (id: string, retiring = false) => ({ id, isDefault: false, startedAt: 1, retiring });
const inventory = (host: string, workers: ReturnType<typeof worker>[], seq = 0, incarnation = 1): Inventory => ({ host, driver: 'process', incarnation, seq, at: 1, workers });

test('placement: the host with the fewest workers not in Sundown, ties to the lowest id; none without hosts', () => {
  assert.equal(placeWorker([]), null);
  assert.equal(placeWorker([inventory('b', [worker('b1')]), inventory('a', [worker('a1'), worker('a2')])]), 'b');
  assert.equal(placeWorker([inventory('b', [worker('b1')]), inventory('a', [worker('a1'), worker('a2', true)])]), 'a', 'a retiring worker is not capacity');
  assert.equal(placeWorker([inventory('c', []), inventory('b', [])]), 'b');
});

test('fleet: later reports of a host replace earlier ones, a restarted host counts at once, a silent one drops out', () => {
  const fleet = new ClusterFleet({ hostId: 'me', staleMs: 1_000, commandTimeoutMs: 1_000 });
  fleet.observe(inventory('a', [worker('a1'), worker('a2')], 5), 0);
  fleet.observe(inventory('a', [worker('a1')], 4), 10); // delivered late: older than seq 5
  assert.deepEqual(fleet.list(10).map((w) => w.id), ['a1', 'a2']);
  fleet.observe(inventory('a', [worker('a3')], 0, 2), 20); // a new incarnation starts its seq again
  assert.deepEqual(fleet.list(20).map((w) => `${w.host}/${w.id}`), ['a/a3']);
  fleet.observe(inventory('b', [worker('b1')], 0), 500);
  assert.deepEqual(fleet.list(1_100).map((w) => w.id), ['b1'], 'a not heard from for more than staleMs');
});

test('fleet: not ready until it has listened for staleMs and heard a host; commands go to the right host and fail clearly', async () => {
  const transport = new InProcessTransport();
  const quiet = (): void => {};
  const [scaler, host] = [new Bus(transport, quiet), new Bus(transport, quiet)];
  const fleet = new ClusterFleet({ hostId: 'scaler', staleMs: 1_000, commandTimeoutMs: 300 });
  try {
    assert.equal(fleet.ready(0), false, 'no bus yet');
    await assert.rejects(fleet.add(), (err: unknown) => err instanceof FleetError && err.code === 'ERR_FLEET_NO_HOST');
    const t0 = Date.now();
    fleet.attach(scaler, t0);
    fleet.observe(inventory('h', [worker('h1')]), t0);
    assert.equal(fleet.ready(t0 + 999), false, 'a host may not have reported yet');
    assert.equal(fleet.ready(t0 + 1_000), true);

    // A host answering commands: add starts h2, retire marks it retiring; the replies update the count at once.
    const commands: string[] = [];
    let workers = [worker('h1')];
    let seq = 1;
    host.serve(topics.fleetCommand('h'), async (c) => {
      commands.push([c.action, c.worker, c.drainMs].join(' '));
      if (c.action === 'add') workers = [...workers, worker('h2')];
      else workers = workers.map((w) => (w.id === c.worker ? { ...w, retiring: true } : w));
      return { type: 'fleet.result', v: 1, ok: true, worker: c.action === 'add' ? 'h2' : c.worker, error: null, ...inventory('h', workers, seq++) };
    });
    assert.equal(await fleet.add(), 'h2');
    assert.deepEqual(fleet.list().map((w) => w.id), ['h1', 'h2'], 'counted from the reply, before any report');
    await fleet.retire('h2', 250);
    assert.deepEqual(fleet.list().filter((w) => w.retiring).map((w) => w.id), ['h2']);
    assert.deepEqual(commands, ['add  0', 'retire h2 250']);
    await assert.rejects(fleet.retire('nobody', 1), /no host reports worker nobody/);

    // A host that does not answer: a clear error after the timeout.
    fleet.observe(inventory('silent', []), Date.now());
    await assert.rejects(fleet.add(), (err: unknown) => err instanceof FleetError && /add on host silent: no reply/.test(err.message));
  } finally {
    await Promise.all([scaler.close(), host.close()]);
  }
});
