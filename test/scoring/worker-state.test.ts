import assert from 'node:assert/strict';
import { test } from 'node:test';
import { categorize, DEFAULT_STATE_OPTIONS as O, nextState, type Observation, type WorkerStatus } from '../../src/scoring/worker-state.js';

const obs = (utilization: number, now: number, extra: Partial<Observation> = {}): Observation => ({ utilization, now, inflight: 1, isDefault: false, ...extra });

test('categories: thresholds without a current category, hysteresis with one', () => {
  assert.equal(categorize(10, null, O), 'LU');
  assert.equal(categorize(50, null, O), 'MU');
  assert.equal(categorize(80, null, O), 'HU');
  assert.equal(categorize(72, 'MU', O), 'MU', 'MU needs 75 to become HU');
  assert.equal(categorize(75, 'MU', O), 'HU');
  assert.equal(categorize(66, 'HU', O), 'HU', 'HU holds down to 65');
  assert.equal(categorize(64, 'HU', O), 'MU');
  assert.equal(categorize(34, 'LU', O), 'LU', 'LU holds up to 35');
  assert.equal(categorize(36, 'LU', O), 'MU');
  assert.equal(categorize(90, 'LU', O), 'HU');
  assert.equal(categorize(10, 'HU', O), 'LU');
});

test('a metric oscillating around a threshold does not flap', () => {
  let s: WorkerStatus = { phase: 'init', since: 0 };
  const phases: string[] = [];
  for (let t = 0; t < 120_000; t += 1_000) {
    s = nextState(s, obs(t % 2000 === 0 ? 68 : 73, t)); // around Threshold_high = 70, within the band
    phases.push(s.phase);
  }
  assert.deepEqual(new Set(phases), new Set(['MU']));
});

test('a change waits for the minimum dwell time', () => {
  let s = nextState({ phase: 'init', since: 0 }, obs(50, 0));
  assert.equal(s.phase, 'MU');
  s = nextState(s, obs(95, 1_000));
  assert.equal(s.phase, 'MU', 'changed before minDwellMs');
  s = nextState(s, obs(95, O.minDwellMs));
  assert.deepEqual(s, { phase: 'HU', since: O.minDwellMs });
});

test('every transition: init, LU/MU/HU, LU to Sundown after t_low, Sundown to Shutdown at C(t) = 0', () => {
  let s: WorkerStatus = nextState({ phase: 'init', since: 0 }, obs(10, 0));
  assert.equal(s.phase, 'LU');
  s = nextState(s, obs(50, 10_000));
  assert.equal(s.phase, 'MU');
  s = nextState(s, obs(90, 20_000));
  assert.equal(s.phase, 'HU');
  s = nextState(s, obs(50, 30_000));
  assert.equal(s.phase, 'MU');
  s = nextState(s, obs(5, 40_000));
  assert.deepEqual(s, { phase: 'LU', since: 40_000 });
  s = nextState(s, obs(5, 40_000 + O.lowDwellForSundownMs));
  assert.equal(s.phase, 'LU', 'Sundown needs t_LU > t_low');
  s = nextState(s, obs(5, 40_001 + O.lowDwellForSundownMs));
  assert.equal(s.phase, 'sundown');
  s = nextState(s, obs(90, 200_000, { inflight: 3 }));
  assert.equal(s.phase, 'sundown', 'a draining worker does not come back');
  s = nextState(s, obs(0, 201_000, { inflight: 0 }));
  assert.deepEqual(s, { phase: 'shutdown', since: 201_000 });
  assert.equal(nextState(s, obs(50, 300_000)), s);
});

test('a default worker is never sent to Sundown', () => {
  let s = nextState({ phase: 'init', since: 0 }, obs(1, 0, { isDefault: true }));
  for (let t = 0; t < 10 * O.lowDwellForSundownMs; t += 10_000) s = nextState(s, obs(1, t, { isDefault: true }));
  assert.equal(s.phase, 'LU');
});
