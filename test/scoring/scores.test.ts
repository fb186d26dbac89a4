import assert from 'node:assert/strict';
import { test } from 'node:test';
import { availabilityScore, cpuUsagePct, memoryUsagePct, networkChangePct, networkMBps, totalScore, usageScore } from '../../src/scoring/scores.js';

const close = (actual: number, expected: number, what: string): void => assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} != ${expected}`);

test('usage formulas of seed 000 section 3.1 against hand-computed values', () => {
  close(cpuUsagePct(0.5, 4, 4), 50, 'CPU: 0.5 of 4 system seconds on 4 cores');
  close(cpuUsagePct(1, 0, 4), 0, 'CPU without elapsed system time');
  close(memoryUsagePct(256 << 20, 1024 << 20), 25, 'memory');
  close(networkMBps(30e6, 3), 10, 'network MB/s');
  close(networkChangePct(12, 10), 20, 'network change');
  close(networkChangePct(5, 0), 0, 'network change without a previous rate');
  // The floor: rates below it change relative to it; above it, the paper's formula.
  close(networkChangePct(0.006, 0.002, 1), 0.4, 'light traffic, relative to the 1 MB/s floor');
  close(networkChangePct(0.5, 0, 1), 50, 'from nothing, relative to the floor');
  close(networkChangePct(30, 10, 1), 200, 'above the floor');
  close(usageScore(30), 70, 'score = 100 - usage');
  close(usageScore(180), 0, 'clamped below');
  close(usageScore(-40), 100, 'clamped above');
});

test('availability: base, penalty above the threshold, trend; clamped to 0..100', () => {
  // effective = 0.3 x 20 + 0.7 x 15 = 16.5 (< threshold 20: no penalty); base = 100 (10/16.5)^1.5;
  // trend = (16 - 14) / 16 = 0.125 -> +1.25.
  close(availabilityScore({ currentMs: 20, averageMs: 15, bestMs: 10, olderAverageMs: 16, recentAverageMs: 14 }), 100 * (10 / 16.5) ** 1.5 + 1.25, 'no penalty');
  // effective = 33, threshold 20: penalty = 20 (1 - e^-(13/20)); trend = (25 - 35) / 25 = -0.4 -> -4.
  close(
    availabilityScore({ currentMs: 40, averageMs: 30, bestMs: 10, olderAverageMs: 25, recentAverageMs: 35 }),
    100 * (10 / 33) ** 1.5 - 20 * (1 - Math.exp(-0.65)) - 4,
    'penalty and a worsening trend',
  );
  assert.equal(availabilityScore({ currentMs: 500, averageMs: 500, bestMs: 1, olderAverageMs: 1, recentAverageMs: 500 }), 0);
  assert.equal(availabilityScore({ currentMs: 10, averageMs: 10, bestMs: 10, olderAverageMs: 20, recentAverageMs: 10 }), 100);
  assert.equal(availabilityScore({ currentMs: 0, averageMs: 0, bestMs: 0, olderAverageMs: 0, recentAverageMs: 0 }), 100);
});

test('the total score is the weighted sum', () => {
  close(totalScore({ cpu: 70, memory: 75, network: 100, availability: 50 }, { cpu: 0.4, memory: 0.2, network: 0.1, availability: 0.3 }), 28 + 15 + 10 + 15, 'weighted sum');
});
