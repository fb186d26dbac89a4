import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAliasTable } from '../../src/balancing/alias-table.js';
import { createPolicy, POLICY_NAMES } from '../../src/balancing/policies/index.js';
import { seededRandom } from '../../src/balancing/random.js';

function view(weights: number[]) {
  const prob = new Float64Array(weights.length);
  const alias = new Uint32Array(weights.length);
  buildAliasTable(weights, prob, alias);
  return { count: weights.length, prob, alias, inflight: () => 0, latencyUs: () => 0, weight: (i: number) => weights[i]! };
}

test('weighted-random is reproducible from its seed and follows the weights', () => {
  const policy = createPolicy('weighted-random');
  const v = view([6, 3, 1]);
  const a = seededRandom(99);
  const b = seededRandom(99);
  const picksA = Array.from({ length: 1000 }, () => policy(v, a));
  const picksB = Array.from({ length: 1000 }, () => policy(v, b));
  assert.deepEqual(picksA, picksB);
  const counts = [0, 0, 0];
  const r = seededRandom(5);
  for (let i = 0; i < 100_000; i++) counts[policy(v, r)]!++;
  // Bounds 6 sigma wide around 60%, 30%, 10%.
  assert.ok(Math.abs(counts[0]! - 60_000) < 930, `${counts}`);
  assert.ok(Math.abs(counts[1]! - 30_000) < 870, `${counts}`);
  assert.ok(Math.abs(counts[2]! - 10_000) < 570, `${counts}`);
});

test('different seeds give different weighted-random sequences', () => {
  const policy = createPolicy('weighted-random');
  const v = view([1, 1, 1, 1]);
  const a = seededRandom(1);
  const b = seededRandom(2);
  const picksA = Array.from({ length: 64 }, () => policy(v, a));
  const picksB = Array.from({ length: 64 }, () => policy(v, b));
  assert.notDeepEqual(picksA, picksB);
});

test('round-robin visits every worker in turn and ignores randomness', () => {
  const policy = createPolicy('round-robin');
  const v = view([5, 1, 1]);
  const never = (): number => {
    throw new Error('round robin must not draw random numbers');
  };
  const picks = Array.from({ length: 9 }, () => policy(v, never));
  assert.deepEqual(picks, [1, 2, 0, 1, 2, 0, 1, 2, 0]);
});

test('round-robin stays in range when the table shrinks', () => {
  const policy = createPolicy('round-robin');
  const big = view([1, 1, 1, 1, 1]);
  for (let i = 0; i < 4; i++) policy(big, Math.random);
  const small = view([1, 1]);
  for (let i = 0; i < 10; i++) {
    const pick = policy(small, Math.random);
    assert.ok(pick === 0 || pick === 1, `pick ${pick}`);
  }
});

test('each round-robin instance keeps its own cursor', () => {
  const v = view([1, 1, 1]);
  const a = createPolicy('round-robin');
  const b = createPolicy('round-robin');
  assert.equal(a(v, Math.random), 1);
  assert.equal(a(v, Math.random), 2);
  assert.equal(b(v, Math.random), 1);
});

test('every policy name creates a policy', () => {
  for (const name of POLICY_NAMES) assert.equal(typeof createPolicy(name), 'function');
});
