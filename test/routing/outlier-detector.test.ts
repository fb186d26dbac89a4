import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutlierDetector, type OutlierInput } from '../../src/routing/outlier-detector.js';

const O = { consecutiveFailures: 5, baseEjectionMs: 1_000, maxEjectionMs: 2_500, maxEjectedPercent: 50 };
const w = (id: string, consecutiveFailures: number, ejected = false): OutlierInput => ({ id, consecutiveFailures, ejected });

test('ejects at the threshold, readmits after the ejection time, which grows and is capped', () => {
  const d = new OutlierDetector(O);
  assert.deepEqual(d.check(0, [w('a', 4), w('b', 0)]), { eject: [], readmit: [] });
  assert.deepEqual(d.check(100, [w('a', 5), w('b', 0)]), { eject: [{ id: 'a', forMs: 1_000 }], readmit: [] });
  assert.deepEqual(d.check(1_000, [w('a', 0, true), w('b', 0)]).readmit, []);
  assert.deepEqual(d.check(1_100, [w('a', 0, true), w('b', 0)]).readmit, ['a']);
  assert.deepEqual(d.check(1_200, [w('a', 5), w('b', 0)]).eject, [{ id: 'a', forMs: 2_000 }]);
  assert.deepEqual(d.check(3_200, [w('a', 0, true), w('b', 0)]).readmit, ['a']);
  assert.deepEqual(d.check(3_300, [w('a', 6), w('b', 0)]).eject, [{ id: 'a', forMs: 2_500 }], 'capped at maxEjectionMs');
});

test('a worker healthy for maxEjectionMs starts over at the base ejection time', () => {
  const d = new OutlierDetector(O);
  d.check(0, [w('a', 5), w('b', 0)]);
  d.check(1_000, [w('a', 0, true), w('b', 0)]);
  d.check(1_001, [w('a', 0), w('b', 0)]);
  d.check(3_600, [w('a', 0), w('b', 0)]);
  assert.deepEqual(d.check(3_700, [w('a', 5), w('b', 0)]).eject, [{ id: 'a', forMs: 1_000 }]);
});

test('never more than maxEjectedPercent out, and never every worker', () => {
  const d = new OutlierDetector(O);
  assert.equal(d.check(0, [w('a', 9), w('b', 9), w('c', 9), w('d', 9)]).eject.length, 2);
  assert.equal(new OutlierDetector(O).check(0, [w('a', 9)]).eject.length, 0);
  assert.equal(new OutlierDetector({ ...O, maxEjectedPercent: 100 }).check(0, [w('a', 9), w('b', 9)]).eject.length, 1);
  assert.equal(new OutlierDetector({ ...O, consecutiveFailures: 0 }).check(0, [w('a', 99), w('b', 0)]).eject.length, 0);
});
