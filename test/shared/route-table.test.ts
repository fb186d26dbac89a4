import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { createPolicy } from '../../src/balancing/policies/index.js';
import { seededRandom } from '../../src/balancing/random.js';
import { CapacityError } from '../../src/errors.js';
import { RouteTableReader, RouteTableWriter } from '../../src/shared/route-table.js';
import { membership } from './fixtures/membership.js';

test('an empty table picks nothing; a published one picks only its workers', () => {
  const writer = RouteTableWriter.create(8);
  const reader = new RouteTableReader(writer.buffer, 8);
  const policy = createPolicy('weighted-random');
  assert.equal(reader.pick(policy, Math.random), false);
  const g = writer.publish([
    { slot: 3, incarnation: 11, weight: 1 },
    { slot: 5, incarnation: 12, weight: 0 },
    { slot: 6, incarnation: 13, weight: 2 },
  ]);
  assert.equal(g, 1);
  const seen = new Map<number, number>();
  const random = seededRandom(3);
  for (let i = 0; i < 3000; i++) {
    assert.ok(reader.pick(policy, random));
    assert.equal(reader.generationOfPick, 1);
    seen.set(reader.slot, reader.incarnation);
  }
  assert.deepEqual([...seen.entries()].sort(), [
    [3, 11],
    [6, 13],
  ]);
  writer.publish([]);
  assert.equal(reader.pick(policy, random), false);
});

test('avoidSlot steers a retry to another worker when there is one', () => {
  const writer = RouteTableWriter.create(4);
  const reader = new RouteTableReader(writer.buffer, 4);
  const policy = createPolicy('weighted-random');
  writer.publish([
    { slot: 0, incarnation: 1, weight: 1 },
    { slot: 1, incarnation: 1, weight: 1 },
  ]);
  const random = seededRandom(8);
  for (let i = 0; i < 1000; i++) {
    assert.ok(reader.pick(policy, random, 0));
    assert.equal(reader.slot, 1);
  }
  writer.publish([{ slot: 0, incarnation: 1, weight: 1 }]);
  assert.ok(reader.pick(policy, random, 0));
  assert.equal(reader.slot, 0, 'the only worker is still picked');
  // The avoided worker holds nearly all the weight: redraws keep landing on it, yet it is never picked.
  writer.publish([
    { slot: 0, incarnation: 1, weight: 1000 },
    { slot: 1, incarnation: 1, weight: 1 },
    { slot: 2, incarnation: 1, weight: 1 },
  ]);
  const seen = new Set<number>();
  for (let i = 0; i < 10_000; i++) {
    assert.ok(reader.pick(policy, random, 0));
    seen.add(reader.slot);
  }
  assert.deepEqual([...seen].sort(), [1, 2]);
});

test('publishing more workers than the capacity is a CapacityError', () => {
  const writer = RouteTableWriter.create(2);
  const entries = [0, 1, 2].map((slot) => ({ slot, incarnation: 1, weight: 1 }));
  assert.throws(() => writer.publish(entries), (err: unknown) => err instanceof CapacityError && /at most 2 workers, got 3/.test(err.message));
});

for (const policyName of ['weighted-random', 'round-robin'] as const) {
  test(`readers never see a torn or superseded table, in a pick or a copy, while the writer republishes (${policyName})`, async () => {
    const capacity = 64;
    const writer = RouteTableWriter.create(capacity);
    writer.publish(membership(1, capacity));
    const control = new SharedArrayBuffer(4);
    const readers = [0, 1].map(
      () => new Worker(new URL('./fixtures/route-reader.js', import.meta.url), { workerData: { routes: writer.buffer, capacity, control, policyName } }),
    );
    const results = readers.map((w) => new Promise<{ picks: number; copies: number; empty: number; violations: number; samples: string[]; generations: number }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    }));
    await new Promise((r) => setTimeout(r, 200)); // let the readers start sampling
    const until = Date.now() + 1500;
    let published = 0;
    while (Date.now() < until) {
      const next = writer.generation + 1;
      assert.equal(writer.publish(membership(next, capacity)), next);
      published++;
      if (published % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    Atomics.store(new Int32Array(control), 0, 1);
    const outcomes = await Promise.all(results);
    await Promise.all(readers.map((w) => w.terminate()));
    for (const o of outcomes) {
      assert.equal(o.violations, 0, `picks or copies outside their generation: ${o.samples.join('; ')}`);
      assert.equal(o.empty, 0, 'no generation is empty, so no pick may fail');
      assert.ok(o.picks > 1000, `too few picks to mean anything: ${o.picks}`);
      assert.ok(o.copies > 10, `too few copies to mean anything: ${o.copies}`);
      assert.ok(o.generations > 10, `readers saw only ${o.generations} generations: no real overlap with the writer`);
    }
    assert.ok(published > 100, `only ${published} generations published`);
  });
}
