import assert from 'node:assert/strict';
import { test } from 'node:test';
import { medianInterval } from '../../bench/lib/results.js';
import { seededRandom } from '../../src/balancing/random.js';

test('the median interval takes the order statistics the binomial distribution gives', () => {
  // n = 9: P(Bin(9, 1/2) <= 1) = 10/512, so the 2nd smallest to 2nd largest cover 96.1%; the 3rd
  // to 7th would cover only 82%.
  assert.deepEqual(medianInterval([9, 1, 8, 2, 7, 3, 6, 4, 5]), [2, 8]);
  // n = 6: the smallest and largest cover 1 - 2/64 = 96.9%; n = 5 cannot reach 95% (93.75%).
  assert.deepEqual(medianInterval([6, 5, 4, 3, 2, 1]), [1, 6]);
  assert.equal(medianInterval([1, 2, 3, 4, 5]), null);
  assert.equal(medianInterval([]), null);
  // n = 20: P(Bin(20, 1/2) <= 5) = 0.0207, P(<= 6) = 0.0577, so the 6th smallest to 6th largest.
  assert.deepEqual(medianInterval(Array.from({ length: 20 }, (_, i) => i + 1)), [6, 15]);
  // A lower confidence narrows it: n = 9 at 80% takes the 3rd to 7th (81.9%).
  assert.deepEqual(medianInterval([1, 2, 3, 4, 5, 6, 7, 8, 9], 0.8), [3, 7]);
});

test('the median interval holds the true median in at least 95% of samples', () => {
  const random = seededRandom(7);
  for (const n of [6, 9, 25]) {
    let covered = 0;
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      // Exponential values: skewed, with median ln 2.
      const sample = Array.from({ length: n }, () => -Math.log(1 - random()));
      const interval = medianInterval(sample)!;
      if (interval[0] <= Math.LN2 && Math.LN2 <= interval[1]) covered++;
    }
    // The exact coverage is at least 95% (96.9%, 96.1%, 95.7%); 4000 trials put 94% more than
    // four standard deviations below each.
    assert.ok(covered / trials > 0.94, `n=${n}: covered ${covered} of ${trials}`);
  }
});
