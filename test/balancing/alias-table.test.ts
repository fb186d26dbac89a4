import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAliasTable, sampleAlias } from '../../src/balancing/alias-table.js';
import { seededRandom } from '../../src/balancing/random.js';
import { chiSquare, chiSquarePValue } from '../helpers/stats.js';

function build(weights: number[]) {
  const prob = new Float64Array(weights.length);
  const alias = new Uint32Array(weights.length);
  buildAliasTable(weights, prob, alias);
  return { count: weights.length, prob, alias };
}

/** The exact probability the table assigns to each index: sum over columns of its share. */
function impliedProbabilities(view: ReturnType<typeof build>): number[] {
  const p = new Array<number>(view.count).fill(0);
  for (let i = 0; i < view.count; i++) {
    p[i]! += view.prob[i]! / view.count;
    p[view.alias[i]!]! += (1 - view.prob[i]!) / view.count;
  }
  return p;
}

const CASES: Record<string, number[]> = {
  'seed 000 heterogeneous {100, 50, 25, 5}': [100, 50, 25, 5],
  'seed 000 homogeneous {100, 95, 90, 85}': [100, 95, 90, 85],
  'one dominant weight': [1000, 1, 1, 1, 1, 1, 1],
  'with zero weights': [3, 0, 2, 0, 5],
  'many random weights': Array.from({ length: 200 }, (_, i) => 1 + ((i * 7919) % 97)),
};

for (const [name, weights] of Object.entries(CASES)) {
  test(`alias table encodes w_i / sum w exactly: ${name}`, () => {
    const view = build(weights);
    const total = weights.reduce((a, b) => a + b, 0);
    const implied = impliedProbabilities(view);
    weights.forEach((w, i) => assert.ok(Math.abs(implied[i]! - w / total) < 1e-12, `index ${i}: ${implied[i]} vs ${w / total}`));
  });

  test(`alias sampling passes chi-square over 10^6 draws: ${name}`, () => {
    const view = build(weights);
    const random = seededRandom(0xa11a5);
    const draws = 1_000_000;
    const counts = new Float64Array(weights.length);
    for (let d = 0; d < draws; d++) counts[sampleAlias(view, random())]!++;
    const total = weights.reduce((a, b) => a + b, 0);
    // Zero-weight indexes must never be drawn and are left out of the statistic.
    const live = weights.map((w, i) => [w, i] as const).filter(([w]) => w > 0);
    weights.forEach((w, i) => {
      if (w === 0) assert.equal(counts[i], 0, `zero-weight index ${i} was drawn`);
    });
    const stat = chiSquare(
      live.map(([, i]) => counts[i]!),
      live.map(([w]) => w / total),
      draws,
    );
    const p = chiSquarePValue(stat, live.length - 1);
    assert.ok(p > 0.001, `chi-square ${stat.toFixed(1)} on ${live.length - 1} df, p = ${p}`);
  });
}

test('chi-square detects a wrong distribution (the check can fail)', () => {
  const view = build([1, 1, 1, 1]);
  const random = seededRandom(7);
  const counts = new Float64Array(4);
  for (let d = 0; d < 100_000; d++) counts[sampleAlias(view, random())]!++;
  const p = chiSquarePValue(chiSquare(counts, [0.4, 0.2, 0.2, 0.2], 100_000), 3);
  assert.ok(p < 1e-6);
});

test('seed 000 efficiency eta on 10^4 requests is near the paper figures', () => {
  // eta = min(r_i / w_i) / max(r_i / w_i) (seed 000, section 3.5); the paper reports 0.9 and 0.985.
  for (const [weights, floor] of [
    [[100, 50, 25, 5], 0.7],
    [[100, 95, 90, 85], 0.9],
  ] as const) {
    const view = build([...weights]);
    const random = seededRandom(2024);
    const r = new Array<number>(weights.length).fill(0);
    for (let d = 0; d < 10_000; d++) r[sampleAlias(view, random())]!++;
    const ratios = r.map((count, i) => count / weights[i]!);
    const eta = Math.min(...ratios) / Math.max(...ratios);
    assert.ok(eta > floor && eta <= 1, `eta ${eta} for ${weights}`);
  }
});

test('build rejects negative, non-finite and all-zero weights', () => {
  assert.throws(() => build([1, -1]), /weight 1 must be a finite number >= 0, got -1/);
  assert.throws(() => build([1, Number.NaN]), /weight 1 must be a finite number >= 0, got NaN/);
  assert.throws(() => build([Infinity]), /weight 0 must be a finite number >= 0/);
  assert.throws(() => build([0, 0]), /the sum of weights must be > 0/);
});

test('a single worker is always picked', () => {
  const view = build([42]);
  for (const u of [0, 0.5, 0.999999999]) assert.equal(sampleAlias(view, u), 0);
});

test('sampling stays in range at the edges of [0, 1)', () => {
  const view = build([1, 2, 3, 4, 5]);
  for (const u of [0, Number.EPSILON, 0.2, 0.4 - 1e-16, 1 - Number.EPSILON]) {
    const i = sampleAlias(view, u);
    assert.ok(i >= 0 && i < 5, `u=${u} gave ${i}`);
  }
});
