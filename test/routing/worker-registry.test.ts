import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkerRegistry } from '../../src/routing/worker-registry.js';
import { RouteTableWriter } from '../../src/shared/route-table.js';
import { StatsSampler } from '../../src/shared/stats-sampler.js';
import { StatsTable } from '../../src/shared/stats-table.js';
import { WorkerDirectory } from '../../src/shared/worker-directory.js';

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
