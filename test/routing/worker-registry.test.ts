import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PolicyView } from '../../src/balancing/policy-view.js';
import { WorkerRegistry } from '../../src/routing/worker-registry.js';
import { RouteTableReader, RouteTableWriter } from '../../src/shared/route-table.js';
import { StatsSampler } from '../../src/shared/stats-sampler.js';
import { StatsTable } from '../../src/shared/stats-table.js';
import { WorkerDirectory, WorkerState } from '../../src/shared/worker-directory.js';

test('setWeights applies known workers in one republish and keeps their base weights', () => {
  const routes = RouteTableWriter.create(8);
  const stats = StatsTable.create(8);
  const registry = new WorkerRegistry(routes, WorkerDirectory.create(8), stats, new StatsSampler(stats));
  registry.add({ id: 'a', host: '127.0.0.1', port: 1, weight: 2 });
  registry.add({ id: 'b', host: '127.0.0.1', port: 2, weight: 2 });
  const before = routes.generation;
  const known = registry.setWeights([
    { id: 'a', weight: 5 },
    { id: 'b', weight: 0.5 },
    { id: 'ghost', weight: 9 },
  ]);
  assert.equal(known, 2);
  assert.equal(routes.generation, before + 1);
  assert.deepEqual(registry.list().map((w) => [w.id, w.weight, w.baseWeight]), [['a', 5, 2], ['b', 0.5, 2]]);
  assert.equal(registry.setWeights([{ id: 'a', weight: 5 }]), 1);
  assert.equal(routes.generation, before + 1, 'an unchanged weight republished the table');
});

test('slow start: a worker that becomes ready ramps from 10% to its full weight', () => {
  let now = 0;
  const routes = RouteTableWriter.create(8);
  const stats = StatsTable.create(8);
  const registry = new WorkerRegistry(routes, WorkerDirectory.create(8), stats, new StatsSampler(stats), { now: () => now, slowStartMs: 1_000 });
  const reader = new RouteTableReader(routes.buffer, 8);
  const weights = (): number[] => {
    let seen: number[] = [];
    reader.pick((view: PolicyView) => {
      seen = Array.from({ length: view.count }, (_, i) => view.weight(i));
      return 0;
    }, Math.random);
    return seen;
  };
  registry.add({ id: 'a', host: '127.0.0.1', port: 1, weight: 10 });
  assert.deepEqual(weights(), [1]);
  now = 500;
  registry.tick();
  assert.deepEqual(weights(), [5]);
  now = 1_000;
  registry.tick();
  assert.deepEqual(weights(), [10]);
  const generation = routes.generation;
  registry.tick();
  assert.equal(routes.generation, generation, 'republished after the ramp ended');
  registry.setState('a', WorkerState.ejected);
  now = 2_000;
  registry.setState('a', WorkerState.ready);
  assert.deepEqual(weights(), [1], 'a readmitted worker starts slow again');
});
