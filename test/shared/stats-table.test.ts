import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { bucketBounds, bucketOf, HISTOGRAM_BUCKETS, quantile } from '../../src/shared/latency-histogram.js';
import { StatsSampler } from '../../src/shared/stats-sampler.js';
import { Outcome, StatsTable } from '../../src/shared/stats-table.js';

test('every latency falls inside its bucket, and buckets are at most 12.5% wide', () => {
  for (const us of [0, 1, 7, 8, 9, 15, 16, 100, 1023, 1024, 65_535, 1_000_000, 2 ** 31 - 2]) {
    const b = bucketOf(us);
    assert.ok(b >= 0 && b < HISTOGRAM_BUCKETS);
    const [lo, hi] = bucketBounds(b);
    assert.ok(us >= lo && us < hi, `${us} not in [${lo}, ${hi}) of bucket ${b}`);
    if (us >= 8) assert.ok((hi - lo) / lo <= 0.125 + 1e-12);
  }
  assert.equal(bucketOf(2 ** 40), HISTOGRAM_BUCKETS - 1);
  assert.equal(bucketOf(-5), 0);
});

test('quantiles from the histogram are within 12.5% of exact ones', () => {
  const counts = new Float64Array(HISTOGRAM_BUCKETS);
  const values: number[] = [];
  let x = 12345;
  for (let i = 0; i < 20_000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const v = 50 + (x % 200_000) * (i % 7 === 0 ? 10 : 1);
    values.push(v);
    counts[bucketOf(v)]!++;
  }
  values.sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99]) {
    const exact = values[Math.ceil(q * values.length) - 1]!;
    const estimate = quantile(counts, q);
    assert.ok(Math.abs(estimate - exact) / exact <= 0.125, `q${q}: ${estimate} vs ${exact}`);
  }
  assert.ok(Number.isNaN(quantile(new Float64Array(HISTOGRAM_BUCKETS), 0.5)));
});

test('the admission limit rejects beyond the limit and counts rejections', () => {
  const table = StatsTable.create(1);
  assert.ok(table.tryAdmit(2));
  assert.ok(table.tryAdmit(2));
  assert.equal(table.tryAdmit(2), false);
  assert.equal(table.inflightTotal, 2);
  assert.equal(table.rejectedTotal, 1);
  table.release();
  assert.ok(table.tryAdmit(2));
});

test('every view of a table reads the same clock, from its creation', async () => {
  const table = StatsTable.create(1);
  const started = table.now();
  // Near 0: the epoch is the wall clock at creation (a clock step since process start may skew it slightly).
  assert.ok(Math.abs(started) < 1000, `now() right after create: ${started} ms`);
  await new Promise((r) => setTimeout(r, 30));
  const view = new StatsTable(table.buffer, 1);
  const [a, b] = [table.now(), view.now()];
  assert.ok(a - started >= 25, `the clock advanced ${a - started} ms in 30 ms`);
  assert.ok(Math.abs(a - b) < 5, `two views disagree by ${a - b} ms`);
});

test('concurrent writers from several threads lose no update', async () => {
  const capacity = 4;
  const requests = 100_000;
  const table = StatsTable.create(capacity, 3);
  const start = new SharedArrayBuffer(4);
  const writers = [0, 1, 2].map(
    (lane) => new Worker(new URL('./fixtures/stats-writer.js', import.meta.url), { workerData: { stats: table.buffer, capacity, lane, requests, leaveInFlight: 0, start } }),
  );
  const done = writers.map((w) => new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject))));
  await new Promise((r) => setTimeout(r, 100));
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  await Promise.all(done);
  await Promise.all(writers.map((w) => w.terminate()));
  const perSlot = (requests / capacity) * writers.length;
  const hist = new Uint32Array(HISTOGRAM_BUCKETS);
  let errors = 0;
  for (let slot = 0; slot < capacity; slot++) {
    const c = table.read(slot);
    assert.equal(c.inflight, 0);
    assert.equal(c.completed + c.errors, perSlot);
    errors += c.errors;
    assert.equal(c.bytesIn, perSlot * 3);
    assert.equal(c.bytesOut, perSlot * 5);
    assert.ok(c.ewmaUs >= 100 && c.ewmaUs < 1100, `ewma ${c.ewmaUs}`);
    table.readHistogram(slot, hist);
    assert.equal(hist.reduce((a, b) => a + b, 0), perSlot);
  }
  assert.equal(errors, (requests / 10) * writers.length);
  assert.equal(table.inflightTotal, 0);
  // Every lane is balanced too: reclaiming one ends nothing.
  for (let lane = 0; lane < 3; lane++) assert.equal(table.reclaimLane(lane), 0);
  assert.equal(table.inflightTotal, 0);
});

test("a thread that exits with requests in flight: reclaiming its lane ends them, and only them", async () => {
  const capacity = 4;
  const table = StatsTable.create(capacity, 2);
  const start = new SharedArrayBuffer(4);
  Atomics.store(new Int32Array(start), 0, 1);
  const run = async (lane: number, leaveInFlight: number): Promise<void> => {
    const w = new Worker(new URL('./fixtures/stats-writer.js', import.meta.url), { workerData: { stats: table.buffer, capacity, lane, requests: 1000, leaveInFlight, start } });
    await new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject)));
    await w.terminate();
  };
  await run(0, 2); // still running, as far as the table knows: two requests on slots 0 and 1
  await run(1, 6); // the thread that dies: six requests on slots 0 to 3
  assert.equal(table.inflightTotal, 8);
  assert.deepEqual([0, 1, 2, 3].map((slot) => table.read(slot).inflight), [3, 3, 1, 1]);
  assert.equal(table.reclaimLane(1), 6);
  assert.equal(table.inflightTotal, 2);
  assert.deepEqual([0, 1, 2, 3].map((slot) => table.read(slot).inflight), [1, 1, 0, 0]);
  // Slots left idle close their busy period; reclaiming again ends nothing.
  assert.equal(table.read(2).busySinceUs, 0);
  assert.notEqual(table.read(0).busySinceUs, 0);
  assert.equal(table.reclaimLane(1), 0);
  // The lane is clear for the thread that replaces the dead one.
  await run(1, 0);
  assert.equal(table.inflightTotal, 2);
  assert.throws(() => new StatsTable(table.buffer, capacity, 2), RangeError);
  assert.throws(() => table.reclaimLane(-1), RangeError);
});

test('the sampler reports totals and windowed quantiles', () => {
  const table = StatsTable.create(2);
  const sampler = new StatsSampler(table, 2);
  for (let i = 0; i < 100; i++) {
    table.tryBegin(1, 0);
    table.countBytesIn(1, 10);
    table.countBytesOut(1, 20);
    table.end(1, 1000, Outcome.ok);
  }
  sampler.sample([1]);
  let report = sampler.report(1);
  assert.equal(report.completed, 100);
  assert.ok(report.p50Ms! > 0.9 && report.p50Ms! < 1.1, `p50 ${report.p50Ms}`);
  // Two more samples with slow requests push the fast ones out of the 2-sample window.
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 10; i++) {
      table.tryBegin(1, 0);
      table.end(1, 50_000, Outcome.workerFailed);
    }
    sampler.sample([1]);
  }
  // A request the client ended counts neither way and leaves the failure streak alone.
  table.tryBegin(1, 0);
  table.countBytesIn(1, 7);
  table.end(1, 90_000, Outcome.clientEnded);
  report = sampler.report(1);
  assert.equal(report.completed, 100);
  assert.equal(report.errors, 20);
  assert.equal(report.inflight, 0);
  assert.equal(table.consecutiveFailures(1), 20);
  assert.ok(report.p50Ms! > 45 && report.p50Ms! < 55, `p50 ${report.p50Ms}`);
  assert.equal(report.bytesIn, 1007);
  assert.equal(report.bytesOut, 2000);
  // Byte counters wrap at 2^32 like the others; totals carry on across the wrap.
  for (let i = 0; i < 5; i++) {
    table.countBytesOut(1, 2 ** 30);
    sampler.sample([1]);
  }
  assert.equal(sampler.report(1).bytesOut, 2000 + 5 * 2 ** 30);
  assert.ok(table.read(1).bytesOut < 2 ** 32);
  assert.equal(sampler.report(0).p99Ms, null);
});

test('the sampler keeps a histogram since the worker joined: exact counts at power-of-two bounds, a sum that survives wrapping', () => {
  const table = StatsTable.create(2);
  const sampler = new StatsSampler(table, 2);
  const end = (us: number, outcome: (typeof Outcome)[keyof typeof Outcome] = Outcome.ok) => {
    table.tryBegin(0, 0);
    table.end(0, us, outcome);
  };
  const bucketOfBound = (h: ReturnType<StatsSampler['latencyHistogram']>, seconds: number) => h.cumulative[h.boundsSeconds.indexOf(seconds)];
  // 255.9 us is below 256 us; 256 us is not (a bucket's upper edge is exclusive, le is inclusive,
  // and latencies are whole microseconds: below 2^k us exactly when the true one is).
  end(255.9);
  end(256);
  end(100, Outcome.workerFailed);
  end(1_000_000);
  // Past the last bound, 33.55 s: only +Inf holds it.
  end(40_000_000);
  // The client's doing is not the worker's latency.
  end(5, Outcome.clientEnded);
  let h = sampler.latencyHistogram(0);
  assert.equal(h.boundsSeconds.length, 19);
  assert.equal(h.boundsSeconds.at(-1), Infinity);
  assert.equal(bucketOfBound(h, 0.000256), 2);
  assert.equal(bucketOfBound(h, 0.000512), 3);
  assert.equal(bucketOfBound(h, 0.524288), 3);
  assert.equal(bucketOfBound(h, 1.048576), 4);
  assert.equal(bucketOfBound(h, 33.554432), 4);
  assert.equal(h.cumulative.at(-1), 5);
  assert.ok(h.cumulative.every((c, i) => i === 0 || c >= h.cumulative[i - 1]!), 'cumulative');
  assert.ok(Math.abs(h.sumSeconds - (255 + 256 + 100 + 1_000_000 + 40_000_000) / 1e6) < 1e-9, `sum ${h.sumSeconds}`);

  // The shared sum is 32-bit microseconds: three latencies of 2^31 - 1 us wrap it, and sampling
  // between them keeps the total. Samples leave the counts as they were.
  sampler.sample([0]);
  for (let i = 0; i < 3; i++) {
    end(2 ** 31 - 1);
    sampler.sample([0]);
  }
  h = sampler.latencyHistogram(0);
  assert.ok(table.read(0).latencySumUs < 2 ** 32);
  assert.ok(Math.abs(h.sumSeconds - (41_000_611 + 3 * (2 ** 31 - 1)) / 1e6) < 1e-6, `sum ${h.sumSeconds}`);
  assert.equal(h.cumulative.at(-1), 8);
  assert.equal(bucketOfBound(h, 33.554432), 4);
  // A worker that has not ended anything has an empty histogram.
  assert.deepEqual(sampler.latencyHistogram(1).cumulative, new Array(19).fill(0));
});

test('tryBegin: threads racing for a slot never hold more places than its limit, and every place comes back', async () => {
  const limit = 2;
  const attempts = 1_000_000;
  const table = StatsTable.create(1, 4);
  const start = new SharedArrayBuffer(4);
  const holders = new SharedArrayBuffer(4);
  const racers = [0, 1, 2, 3].map((lane) => new Worker(new URL('./fixtures/limit-hammer.js', import.meta.url), { workerData: { stats: table.buffer, lane, limit, attempts, holders, start } }));
  const results = racers.map((w) => new Promise<{ most: number; begun: number; tried: number }>((resolve, reject) => (w.once('message', resolve), w.once('error', reject))));
  await new Promise((r) => setTimeout(r, 100));
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  const reports = await Promise.all(results);
  await Promise.all(racers.map((w) => w.terminate()));
  for (const { most, begun } of reports) {
    assert.ok(begun > 0, 'every racer got a place at some point');
    assert.ok(most <= limit, `${most} places held at once under a limit of ${limit}`);
  }
  const c = table.read(0);
  assert.equal(c.inflight, 0);
  assert.equal(c.completed, reports.reduce((sum, r) => sum + r.begun, 0));
  // Not every attempt can have found room: the racers did meet at the limit.
  assert.ok(c.completed < reports.reduce((sum, r) => sum + r.tried, 0), 'no attempt was refused, so the limit was never reached');
});

test("a request leaving a worker calls its own thread's waiters at once, and announces nothing while no request waits", async () => {
  const table = StatsTable.create(1, 1);
  let calls = 0;
  table.onLocalRoom = () => calls++;
  const before = table.freedSequence;
  table.tryBegin(0, 0);
  table.end(0, 10, Outcome.ok);
  assert.equal(calls, 0, 'nothing waits');
  table.queue(1);
  assert.equal(table.queuedTotal, 1);
  table.tryBegin(0, 0);
  table.end(0, 10, Outcome.ok);
  assert.equal(calls, 1);
  // Only this thread waits: no other thread is woken through shared memory.
  assert.equal(table.freedSequence, before);
  // A worker joining wakes every waiting thread, this one's sleep included.
  const woken = table.waitForRoom(before);
  assert.ok(woken !== null);
  table.announceRoom();
  await woken;
  assert.notEqual(table.freedSequence, before);
  assert.equal(table.waitForRoom(before), null, 'a waiter that read the sequence before an announcement does not sleep');
  table.queue(-1);
  assert.equal(table.queuedTotal, 0);
});

test("another thread's request leaving a worker wakes this thread's wait for room", { timeout: 30_000 }, async () => {
  const table = StatsTable.create(1, 2);
  table.queue(1);
  const woken = table.waitForRoom(table.freedSequence);
  assert.ok(woken !== null);
  const start = new SharedArrayBuffer(4);
  Atomics.store(new Int32Array(start), 0, 1);
  const writer = new Worker(new URL('./fixtures/stats-writer.js', import.meta.url), { workerData: { stats: table.buffer, capacity: 1, lane: 1, requests: 1, leaveInFlight: 0, start } });
  await Promise.all([woken, new Promise((resolve, reject) => (writer.once('message', resolve), writer.once('error', reject)))]);
  await writer.terminate();
  table.queue(-1);
});

test('queue tickets: one line over every lane, oldest first across the wrap, and a reclaimed lane leaves it', () => {
  const table = StatsTable.create(1, 3);
  const lanes = [0, 1, 2].map((i) => new StatsTable(table.buffer, 1, i));
  const [a, b, c] = lanes as [StatsTable, StatsTable, StatsTable];
  const t1 = a.takeTicket();
  const t2 = b.takeTicket();
  const t3 = c.takeTicket();
  assert.deepEqual([t2 - t1, t3 - t2], [1, 1]);
  // Nothing shown yet: every ticket is first in line.
  assert.ok(lanes.every((l, i) => l.isFirstInLine([t1, t2, t3][i]!)));
  b.setQueueHead(t2);
  c.setQueueHead(t3);
  assert.equal(c.isFirstInLine(t3), false, "b's head is older");
  assert.equal(b.isFirstInLine(t2), true);
  assert.equal(a.isFirstInLine(t1), true, 'an older ticket than any head');
  b.setQueueHead(0);
  assert.equal(c.isFirstInLine(t3), true, 'b has none waiting');
  // Across the wrap of the 32-bit counter, order is by difference, and 0 is never a ticket.
  const global = new Int32Array(table.buffer, 0, 10);
  const TICKETS = 9; // the table's ticket counter (G_TICKETS)
  Atomics.store(global, TICKETS, 2 ** 31 - 2);
  const beforeWrap = a.takeTicket();
  const afterWrap = [b.takeTicket(), b.takeTicket(), b.takeTicket()];
  assert.equal(beforeWrap, 2 ** 31 - 1);
  assert.deepEqual(afterWrap, [-(2 ** 31), -(2 ** 31) + 1, -(2 ** 31) + 2]);
  Atomics.store(global, TICKETS, -1);
  assert.equal(a.takeTicket(), 1, 'skips 0');
  a.setQueueHead(beforeWrap);
  c.setQueueHead(afterWrap[0]!);
  assert.equal(c.isFirstInLine(afterWrap[0]!), false);
  assert.equal(a.isFirstInLine(beforeWrap), true);
  // A dead thread's lane, reclaimed, no longer holds the others back.
  table.reclaimLane(0);
  assert.equal(c.isFirstInLine(afterWrap[0]!), true);
});
