import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAliasTable } from '../../src/balancing/alias-table.js';
import { peakEwma } from '../../src/balancing/peak-ewma.js';
import { leastConnections } from '../../src/balancing/policies/least-connections.js';
import { p2cPeakEwma } from '../../src/balancing/policies/p2c-peak-ewma.js';
import { smoothWeightedRoundRobin } from '../../src/balancing/policies/smooth-weighted-round-robin.js';
import { weightedP2c } from '../../src/balancing/policies/weighted-p2c.js';
import type { PolicyView } from '../../src/balancing/policy-view.js';
import { seededRandom } from '../../src/balancing/random.js';

function view(weights: number[], inflight: number[] = weights.map(() => 0), latencyUs: number[] = weights.map(() => 1000)): PolicyView {
  const prob = new Float64Array(weights.length);
  const alias = new Uint32Array(weights.length);
  buildAliasTable(weights, prob, alias);
  return { count: weights.length, prob, alias, inflight: (i) => inflight[i]!, latencyUs: (i) => latencyUs[i]!, weight: (i) => weights[i]! };
}

const histogram = (n: number, picks: number[]): number[] => picks.reduce((h, i) => (h[i]!++, h), new Array<number>(n).fill(0));

test('least connections takes the least loaded entry and spreads ties evenly', () => {
  const r = seededRandom(1);
  assert.equal(leastConnections(view([1, 1, 1], [4, 1, 3]), r), 1);
  const counts = histogram(3, Array.from({ length: 30_000 }, () => leastConnections(view([1, 1, 1], [2, 2, 5]), r)));
  assert.equal(counts[2], 0);
  assert.ok(Math.abs(counts[0]! - 15_000) < 600, `${counts}`);
});

test('P2C with peak EWMA never picks the costlier of two, and spreads over equals', () => {
  const r = seededRandom(2);
  for (let i = 0; i < 1000; i++) assert.equal(p2cPeakEwma(view([1, 1], [0, 0], [5000, 1000]), r), 1);
  // Latency x (in flight + 1): 1000 x 4 > 3000 x 1.
  for (let i = 0; i < 1000; i++) assert.equal(p2cPeakEwma(view([1, 1], [3, 0], [1000, 3000]), r), 1);
  const counts = histogram(4, Array.from({ length: 40_000 }, () => p2cPeakEwma(view([1, 1, 1, 1]), r)));
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 600, `${counts}`);
});

test('weighted P2C follows the weights when idle and steers away from what is busy', () => {
  const r = seededRandom(3);
  const idle = histogram(2, Array.from({ length: 50_000 }, () => weightedP2c(view([3, 1]), r)));
  // Candidates drawn 3:1 and the cheaper (1/3 < 1/1) wins, so entry 1 is picked only when every
  // draw is 1: the first, the second and the one redraw of a duplicate, (1/4)^3.
  assert.ok(Math.abs(idle[1]! / 50_000 - 1 / 64) < 0.004, `${idle}`);
  const busy = histogram(2, Array.from({ length: 50_000 }, () => weightedP2c(view([3, 1], [20, 0]), r)));
  assert.ok(busy[1]! > 0.3 * 50_000, `a busy entry kept its traffic: ${busy}`);
  const a = seededRandom(9);
  const b = seededRandom(9);
  assert.deepEqual(
    Array.from({ length: 100 }, () => weightedP2c(view([5, 2, 1]), a)),
    Array.from({ length: 100 }, () => weightedP2c(view([5, 2, 1]), b)),
  );
});

test('smooth weighted round robin interleaves as NGINX does', () => {
  const policy = smoothWeightedRoundRobin();
  const r = seededRandom(4);
  const v = view([5, 1, 1]);
  const names = 'abc';
  assert.equal(Array.from({ length: 7 }, () => names[policy(v, r)]).join(''), 'aabacaa');
});

test('peak EWMA jumps to a higher sample and decays towards a lower one with time', () => {
  assert.equal(peakEwma(0, 0, 7, 0, 10_000), 7);
  assert.equal(peakEwma(5, 0, 9, 100, 10_000), 9);
  assert.ok(Math.abs(peakEwma(10, 0, 2, 10_000, 10_000) - (10 * Math.exp(-1) + 2 * (1 - Math.exp(-1)))) < 1e-9);
  assert.ok(Math.abs(peakEwma(10, 0, 2, 0, 10_000) - 10) < 1e-9, 'no time passed, no decay');
});
