import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { clientKey, probeStart, rateLimit, RateTable } from '../../src/shared/rate-table.js';

const SECOND = 1_000_000n;

test('GCRA: a burst passes at once, then one request per interval; the wait says when the next may', () => {
  const table = RateTable.create(64);
  const limit = rateLimit(10, 5); // 100 ms apart, 5 at once
  const t0 = 50n * SECOND;
  const results = Array.from({ length: 7 }, () => table.admit(7n, t0, limit));
  assert.deepEqual(results, [0, 0, 0, 0, 0, 100_000, 100_000]);
  assert.equal(table.admit(7n, t0 + 99_999n, limit), 1);
  assert.equal(table.admit(7n, t0 + 100_000n, limit), 0);
  assert.equal(table.admit(7n, t0 + 100_000n, limit), 100_000);
  assert.equal(table.limitedTotal, 4);
  // Another client is not held back by this one.
  assert.equal(table.admit(8n, t0, limit), 0);
  // A request every millisecond for 10 s: the burst, then exactly the rate.
  let admitted = 0;
  const t1 = 100n * SECOND;
  for (let ms = 0n; ms < 10_000n; ms++) if (table.admit(9n, t1 + ms * 1000n, limit) === 0) admitted++;
  assert.equal(admitted, 5 + 99);
});

test("a client's own entry is found before a refilled one it could take over, so it gets no fresh bucket", () => {
  const table = RateTable.create(16);
  // Four keys that start probing at the same entry of the 16.
  const same: bigint[] = [];
  for (let k = 1n; same.length < 4; k++) if ((probeStart(k) & 15) === (probeStart(1n) & 15)) same.push(k);
  const [k1, k2, k3, k4] = same as [bigint, bigint, bigint, bigint];
  const short = rateLimit(1, 1);
  const long = rateLimit(0.1, 1);
  assert.equal(table.admit(k1, SECOND, short), 0);
  assert.equal(table.admit(k2, SECOND, short), 0);
  assert.equal(table.admit(k3, SECOND, long), 0);
  // Two seconds on, k1's and k2's buckets have refilled; k3's (10 s) has not, though its entry lies past theirs.
  assert.ok(table.admit(k3, 3n * SECOND, long) > 0);
  // A new client takes a refilled entry, and k1 comes back to a fresh one of its own.
  assert.equal(table.admit(k4, 3n * SECOND, short), 0);
  assert.equal(table.admit(k1, 3n * SECOND, short), 0);
  assert.ok(table.admit(k1, 3n * SECOND, short) > 0);
  assert.equal(table.tableFullTotal, 0);
});

test('a raised limit (a reload) applies at once: a client held back under the old one waits one new interval at most', () => {
  const table = RateTable.create(64);
  const slow = rateLimit(1 / 60, 60); // a TAT up to an hour ahead
  for (let i = 0; i < 60; i++) assert.equal(table.admit(5n, SECOND, slow), 0);
  assert.equal(table.admit(5n, SECOND, slow), 60_000_000);
  const fast = rateLimit(100, 1);
  assert.equal(table.admit(5n, SECOND, fast), 10_000, 'one interval of the new limit');
  assert.equal(table.admit(5n, SECOND + 10_000n, fast), 0);
  assert.equal(table.admit(5n, SECOND + 10_000n, fast), 10_000);
});

test('a full table lets through the clients it has no room for, and counts them', () => {
  const table = RateTable.create(16);
  const limit = rateLimit(1, 1);
  for (let k = 1n; k <= 20n; k++) assert.equal(table.admit(k, SECOND, limit), 0);
  assert.equal(table.tableFullTotal, 4);
  // Once the buckets have refilled, their entries serve new clients.
  for (let k = 21n; k <= 36n; k++) assert.equal(table.admit(k, 3n * SECOND, limit), 0);
  assert.equal(table.tableFullTotal, 4);
});

test('clientKey: stable for a seed, another with another seed, never 0, and distinct over many addresses', () => {
  assert.equal(clientKey('127.0.0.1', 7), clientKey('127.0.0.1', 7));
  assert.notEqual(clientKey('127.0.0.1', 7), clientKey('127.0.0.1', 8));
  const seen = new Set<bigint>();
  for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) seen.add(clientKey(`10.${a}.${b}.1`, 7));
  for (let i = 0; i < 10_000; i++) seen.add(clientKey(`2001:0db8:0000:0000:0000:0000:${(i >> 8).toString(16).padStart(4, '0')}:${(i & 255).toString(16).padStart(4, '0')}`, 7));
  assert.equal(seen.size, 65_536 + 10_000);
  assert.ok(!seen.has(0n));
});

test('threads racing on the same clients at one instant let exactly the burst through, per client', async () => {
  const table = RateTable.create(1024);
  const keys = ['11', '12', '13', '14', '15', '16', '17', '18'];
  const burst = 2_000;
  const start = new SharedArrayBuffer(4);
  const workers = [0, 1, 2].map(() => new Worker(new URL('./fixtures/rate-hammer.js', import.meta.url), { workerData: { buffer: table.buffer, keys, calls: 1_500, burst, start } }));
  const results = workers.map((w) => new Promise<Record<string, number>>((resolve, reject) => (w.once('message', resolve), w.once('error', reject))));
  await new Promise((r) => setTimeout(r, 200)); // every worker waiting at the start line
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  const outcomes = await Promise.all(results);
  await Promise.all(workers.map((w) => w.terminate()));
  for (const key of keys) {
    const perThread = outcomes.map((o) => o[key]!);
    assert.equal(perThread.reduce((a, b) => a + b, 0), burst, `client ${key}: ${perThread.join(' + ')}`);
  }
  // 3 threads x 1,500 calls x 8 clients, all but the bursts refused.
  assert.equal(table.limitedTotal, 3 * 1_500 * 8 - 8 * burst);
});
