import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HealthTracker } from '../../src/routing/health-tracker.js';

test('a ready worker leaves after unhealthyThreshold failures in a row, not before, and a pass in between starts over', () => {
  const t = new HealthTracker({ unhealthyThreshold: 3, healthyThreshold: 2 });
  const round = (ok: boolean) => t.record([{ id: 'a', ok, unhealthy: false }]);
  assert.deepEqual(round(false), { unhealthy: [], healthy: [] });
  assert.deepEqual(round(false), { unhealthy: [], healthy: [] });
  assert.deepEqual(round(true), { unhealthy: [], healthy: [] });
  assert.deepEqual(round(false), { unhealthy: [], healthy: [] });
  assert.deepEqual(round(false), { unhealthy: [], healthy: [] });
  assert.deepEqual(round(false), { unhealthy: ['a'], healthy: [] });
});

test('an unhealthy worker returns after healthyThreshold passes in a row; a failure in between starts over', () => {
  const t = new HealthTracker({ unhealthyThreshold: 1, healthyThreshold: 3 });
  assert.deepEqual(t.record([{ id: 'a', ok: false, unhealthy: false }]).unhealthy, ['a']);
  const round = (ok: boolean) => t.record([{ id: 'a', ok, unhealthy: true }]);
  assert.deepEqual(round(true).healthy, []);
  assert.deepEqual(round(true).healthy, []);
  assert.deepEqual(round(false), { unhealthy: [], healthy: [] });
  assert.deepEqual(round(true).healthy, []);
  assert.deepEqual(round(true).healthy, []);
  assert.deepEqual(round(true).healthy, ['a']);
});

test('a worker left out of a round starts its counts over; workers are counted apart', () => {
  const t = new HealthTracker({ unhealthyThreshold: 2, healthyThreshold: 2 });
  t.record([{ id: 'a', ok: false, unhealthy: false }, { id: 'b', ok: false, unhealthy: false }]);
  // a drained (not checked) for a round: its one failure is forgotten; b's is not.
  assert.deepEqual(t.record([{ id: 'b', ok: false, unhealthy: false }]), { unhealthy: ['b'], healthy: [] });
  assert.deepEqual(t.record([{ id: 'a', ok: false, unhealthy: false }]), { unhealthy: [], healthy: [] });
  assert.deepEqual(t.record([{ id: 'a', ok: false, unhealthy: false }]), { unhealthy: ['a'], healthy: [] });
});
