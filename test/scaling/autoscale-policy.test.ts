import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, HpaPolicy, type AutoscaleOptions, type ScaledWorker } from '../../src/scaling/autoscale-policy.js';

const o: AutoscaleOptions = { maxWorkers: 6, step: 2, scoreHigh: 40, scoreCritical: 10, scoreLow: 70, cooldownMs: 30_000 };
const w = (id: string, score: number, extra: Partial<ScaledWorker> = {}): ScaledWorker => ({ id, score, phase: 'MU', startedAt: 0, isDefault: false, ...extra });

test('scale up by S when the mean score is low or one worker is critical, up to C_max', () => {
  assert.deepEqual(decide({ now: 0, defaultCount: 2, workers: [w('a', 30), w('b', 35)], lastActionAt: null }, o), { action: 'up', count: 2, reason: 'mean score 32.5 below 40' });
  assert.deepEqual(decide({ now: 0, defaultCount: 2, workers: [w('a', 90), w('b', 5)], lastActionAt: null }, o), { action: 'up', count: 2, reason: 'b scores 5.0, below 10' });
  const five = ['a', 'b', 'c', 'd', 'e'].map((id) => w(id, 20));
  assert.deepEqual(decide({ now: 0, defaultCount: 2, workers: five, lastActionAt: null }, o), { action: 'up', count: 1, reason: 'mean score 20.0 below 40' });
  const six = [...five, w('f', 20)];
  assert.equal(decide({ now: 0, defaultCount: 2, workers: six, lastActionAt: null }, o).action, 'none');
});

test('scale down S of the newest when the mean score is high, never below C_default', () => {
  const four = [w('a', 90, { startedAt: 1 }), w('b', 90, { startedAt: 4 }), w('c', 90, { startedAt: 3 }), w('d', 90, { startedAt: 2 })];
  assert.deepEqual(decide({ now: 0, defaultCount: 1, workers: four, lastActionAt: null }, o), {
    action: 'down',
    ids: ['b', 'c'],
    reason: 'mean score 90.0 above 70 with 4 running, more than C_default 1',
  });
  assert.deepEqual(decide({ now: 0, defaultCount: 3, workers: four, lastActionAt: null }, o), {
    action: 'down',
    ids: ['b'],
    reason: 'mean score 90.0 above 70 with 4 running, more than C_default 3',
  });
  assert.equal(decide({ now: 0, defaultCount: 4, workers: four, lastActionAt: null }, o).action, 'none');
  // Default workers (seed 000, section 3.3) are never sent to Sundown, however new.
  const defaults = four.map((x) => ({ ...x, isDefault: x.id !== 'd' }));
  assert.deepEqual(decide({ now: 0, defaultCount: 1, workers: defaults, lastActionAt: null }, o), { action: 'down', ids: ['d'], reason: 'mean score 90.0 above 70 with 4 running, more than C_default 1' });
  assert.deepEqual(decide({ now: 0, defaultCount: 1, workers: four.map((x) => ({ ...x, isDefault: true })), lastActionAt: null }, o), {
    action: 'none',
    reason: 'mean score 90.0 above 70 with 4 running, more than C_default 1, but all are default workers',
  });
});

test('the cooldown holds both ways; the floor does not wait for it', () => {
  const low = [w('a', 20), w('b', 20)];
  const cooling = decide({ now: 10_000, defaultCount: 2, workers: low, lastActionAt: 0 }, o);
  assert.deepEqual(cooling, { action: 'none', reason: 'mean score 20.0 below 40; cooldown for 20000 ms more' });
  assert.equal(decide({ now: 30_000, defaultCount: 2, workers: low, lastActionAt: 0 }, o).action, 'up');
  const idle = [w('a', 95), w('b', 95), w('c', 95)];
  assert.equal(decide({ now: 10_000, defaultCount: 1, workers: idle, lastActionAt: 0 }, o).action, 'none');
  // A worker died: back to C_default at once, cooldown or not.
  assert.deepEqual(decide({ now: 10_000, defaultCount: 3, workers: [w('a', 95), w('b', 95)], lastActionAt: 0 }, o), { action: 'up', count: 1, reason: '2 running, below C_default 3' });
});

test('workers in Sundown still count toward C_max until they stop', () => {
  const draining = (id: string) => w(id, 90, { phase: 'sundown' });
  const low = (k: number) => Array.from({ length: k }, (_, i) => w(`a${i}`, 20));
  assert.deepEqual(decide({ now: 0, defaultCount: 1, workers: [...low(5), draining('d')], lastActionAt: null }, o), { action: 'none', reason: 'mean score 20.0 below 40, but 6 running (1 in Sundown) is C_max' });
  assert.deepEqual(decide({ now: 0, defaultCount: 1, workers: [...low(4), draining('d')], lastActionAt: null }, o), { action: 'up', count: 1, reason: 'mean score 20.0 below 40' });
  // The floor too waits for drains when they fill C_max.
  const fourDraining = ['d1', 'd2', 'd3', 'd4'].map(draining);
  assert.deepEqual(decide({ now: 0, defaultCount: 3, workers: [...low(2), ...fourDraining], lastActionAt: null }, o), { action: 'none', reason: '2 running, below C_default 3, but 6 running (4 in Sundown) is C_max' });
  assert.deepEqual(decide({ now: 0, defaultCount: 3, workers: [...low(1), ...fourDraining], lastActionAt: null }, o), { action: 'up', count: 1, reason: '1 running, below C_default 3' });
  const hpa = new HpaPolicy({ targetUtilization: 50, tolerance: 0.1, stabilizationMs: 300_000 });
  assert.deepEqual(hpa.decide({ now: 0, defaultCount: 1, workers: [...low(2), draining('d')], lastActionAt: null }, { maxWorkers: 4 }), { action: 'up', count: 1, reason: 'utilization 80.0 against a target of 50: 4 wanted, 2 running' });
});

test('draining and unmeasured workers do not count as capacity or as evidence', () => {
  const workers = [w('a', 30), w('b', 10, { phase: 'sundown' }), w('c', 0, { phase: 'init' })];
  assert.deepEqual(decide({ now: 0, defaultCount: 1, workers, lastActionAt: null }, o), { action: 'up', count: 2, reason: 'mean score 30.0 below 40' });
  assert.deepEqual(decide({ now: 0, defaultCount: 1, workers: [w('c', 0, { phase: 'init' })], lastActionAt: null }, o), { action: 'none', reason: 'no worker measured yet' });
});

test('HPA: ceil(current x utilization / target), a 0.1 tolerance, scale-down held to the window maximum', () => {
  const hpa = new HpaPolicy({ targetUtilization: 50, tolerance: 0.1, stabilizationMs: 300_000 });
  const limits = { maxWorkers: 10 };
  const at = (now: number, scores: number[]) => ({ now, defaultCount: 1, lastActionAt: null, workers: scores.map((s, i) => w(`w${i}`, s, { startedAt: i })) });
  assert.equal(hpa.decide(at(0, [46, 46]), limits).action, 'none', 'utilization 54: within the tolerance');
  assert.deepEqual(hpa.decide(at(1_000, [0, 0]), limits), { action: 'up', count: 2, reason: 'utilization 100.0 against a target of 50: 4 wanted, 2 running' });
  assert.equal(hpa.decide(at(2_000, [90, 90, 90, 90]), limits).action, 'none', 'the window still holds the peak recommendation of 4');
  assert.deepEqual(hpa.decide(at(400_000, [90, 90, 90, 90]), limits), { action: 'down', ids: ['w3', 'w2', 'w1'], reason: 'utilization 10.0 against a target of 50: 1 wanted, 4 running' });
  assert.deepEqual(hpa.decide(at(401_000, [0]), limits), { action: 'up', count: 1, reason: 'utilization 100.0 against a target of 50: 2 wanted, 1 running' });
});
