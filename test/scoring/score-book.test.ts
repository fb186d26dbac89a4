import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScoreBook, type ScoreInput, type ScoringOptions } from '../../src/scoring/score-book.js';
import { DEFAULT_SCORE_WEIGHTS } from '../../src/scoring/scores.js';

const options: ScoringOptions = {
  weightBy: 'score',
  weights: DEFAULT_SCORE_WEIGHTS,
  states: { low: 30, high: 70, hysteresis: 5, minDwellMs: 0, lowDwellForSundownMs: 1_000 },
  thresholdFactor: 2,
  historySamples: 30,
  minScore: 5,
  networkFloorMBps: 1,
};
const input = (id: string, extra: Partial<ScoreInput> = {}): ScoreInput => ({ id, baseWeight: 1, isDefault: true, cpuPct: null, memoryPct: null, networkMBps: null, processTimeMs: null, networkDelayMs: null, latencyMs: null, inflight: 0, ...extra });
const near = (actual: number, expected: number, what: string): void => assert.ok(Math.abs(actual - expected) < 0.01, `${what}: ${actual}, expected ${expected}`);

test('availability against the pool best: 10 ms scores 100, 25 ms scores 25.298 - 4.424 (seed 3.1, by hand)', () => {
  const [fast, slow] = new ScoreBook(options).update([input('fast', { latencyMs: 10 }), input('slow', { latencyMs: 25 })], 0);
  near(fast!.sub.availability!, 100, 'fast');
  // base = 100 (10/25)^1.5 = 25.298; threshold 2 x 10 = 20; penalty = 20 (1 - e^-(25-20)/20) = 4.424.
  near(slow!.sub.availability!, 20.874, 'slow');
  // Only availability measured: the score is that sub-score; weight = base x score / 100.
  near(slow!.score, 20.874, 'slow score');
  assert.equal(fast!.weight, 1);
  assert.equal(slow!.weight, 0.2087);
});

test('a score of 0 still weighs minScore, so the worker keeps the traffic that shows its recovery', () => {
  const [, dead] = new ScoreBook(options).update([input('fast', { latencyMs: 1 }), input('dead', { latencyMs: 1000 })], 0);
  assert.equal(dead!.score, 0);
  assert.equal(dead!.weight, 0.05);
});

test('s = w_c s_c + w_m s_m + w_n s_n + w_a s_a, rescaled over what was measured', () => {
  const book = new ScoreBook(options);
  const first = book.update([input('w', { cpuPct: 40, memoryPct: 50, networkMBps: 1, latencyMs: 10 })], 0)[0]!;
  // No network rate change yet: (0.35 x 60 + 0.15 x 50 + 0.4 x 100) / 0.9.
  assert.equal(first.sub.network, null);
  near(first.score, 68.5 / 0.9, 'without network');
  // 1 -> 2 MB/s is +100%: s_n = 0.
  const second = book.update([input('w', { cpuPct: 40, memoryPct: 50, networkMBps: 2, latencyMs: 10 })], 1_000)[0]!;
  assert.equal(second.sub.network, 0);
  near(second.score, 68.5, 'with network');
  near(second.utilization, 31.5, 'U = 100 - s');
  assert.equal(first.phase, 'LU');
  assert.equal(second.phase, 'LU', 'above Threshold_low, but within the hysteresis band');
});

test('nothing measured scores 100; a worker that left is forgotten', () => {
  const book = new ScoreBook(options);
  assert.equal(book.update([input('w')], 0)[0]!.score, 100);
  book.update([input('w', { latencyMs: 50 }), input('x', { latencyMs: 5 })], 1);
  book.update([input('x', { latencyMs: 5 })], 2);
  const back = book.update([input('w'), input('x', { latencyMs: 5 })], 3)[0]!;
  assert.equal(back.sub.availability, null, 'no latency history left from before');
  assert.equal(back.since, 3, 'a fresh state');
});

test('a non-default worker long in LU goes to Sundown (weight 0), then Shutdown at 0 in flight; a default one never', () => {
  const book = new ScoreBook(options);
  const round = (t: number, inflight: number) => book.update([input('extra', { isDefault: false, cpuPct: 1, inflight }), input('default', { cpuPct: 1, inflight })], t);
  let [extra, def] = round(0, 3);
  assert.equal(extra!.phase, 'LU');
  [extra, def] = round(500, 3);
  assert.equal(extra!.phase, 'LU', 'not yet t_low');
  [extra, def] = round(1_500, 3);
  assert.deepEqual([extra!.phase, extra!.weight], ['sundown', 0]);
  assert.equal(def!.phase, 'LU');
  assert.ok(def!.weight > 0.9);
  [extra] = round(2_000, 1);
  assert.equal(extra!.phase, 'sundown', 'drains while requests are in flight');
  [extra, def] = round(2_500, 0);
  assert.deepEqual([extra!.phase, extra!.weight], ['shutdown', 0]);
  assert.equal(def!.phase, 'LU');
});

test('process-time weights (seed 004): 1 / (smoothed process time + network delay), relative to the fastest', () => {
  const book = new ScoreBook({ ...options, weightBy: 'process-time' });
  let [a, b, c] = book.update([input('a', { processTimeMs: 2 }), input('b', { processTimeMs: 7, networkDelayMs: 1 }), input('c')], 0);
  assert.deepEqual([a!.weight, b!.weight], [1, 0.25]);
  assert.equal(c!.weight, 0.625, 'unmeasured: the mean share of the measured');
  // Smoothing: b's 3 ms averages with its 7 ms to 5 ms; plus 1 ms delay = 6 ms against a's 2.
  [a, b] = book.update([input('a', { processTimeMs: 2 }), input('b', { processTimeMs: 3, networkDelayMs: 1 }), input('c')], 1_000);
  assert.equal(b!.serviceMs, 6);
  assert.equal(b!.weight, 0.3333);
});

test('score-and-process-time multiplies the share by the score; Sundown still weighs 0', () => {
  const book = new ScoreBook({ ...options, weightBy: 'score-and-process-time' });
  const [fast, slow] = book.update([input('fast', { processTimeMs: 1, latencyMs: 10 }), input('slow', { processTimeMs: 4, latencyMs: 25 })], 0);
  assert.equal(fast!.weight, 1);
  // Share 0.25 x score 20.874 / 100.
  assert.equal(slow!.weight, 0.05219);
});

test("light traffic's network jitter leaves the network sub-score high; a real rise still lowers it", () => {
  const book = new ScoreBook(options);
  const rates = [0.002, 0.006, 0.001, 0.008, 0.003];
  const subs = rates.map((networkMBps, t) => book.update([input('w', { networkMBps })], t)[0]!.sub.network);
  assert.equal(subs[0], null, 'no previous rate yet');
  for (const s of subs.slice(1)) assert.ok(s! > 99, `jitter of a few KB/s scored ${s}`);
  // 0.003 -> 2.003 MB/s is +2 MB/s against the 1 MB/s floor: +200%, scored 0 as the paper would.
  assert.equal(book.update([input('w', { networkMBps: 2.003 })], 5)[0]!.sub.network, 0);
  // Without a floor, the paper's formula as written: 0.002 -> 0.006 MB/s is +200%.
  const paper = new ScoreBook({ ...options, networkFloorMBps: 0 });
  paper.update([input('w', { networkMBps: 0.002 })], 0);
  assert.equal(paper.update([input('w', { networkMBps: 0.006 })], 1)[0]!.sub.network, 0);
});
