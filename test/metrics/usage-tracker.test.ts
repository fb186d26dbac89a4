import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageTracker } from '../../src/metrics/usage-tracker.js';

const reading = (cpu: number, system: number, memoryBytes = 256, memoryLimitBytes = 1024) => ({ cpu, system, cpus: 4, memoryBytes, memoryLimitBytes });

test('rates need two readings; CPU % is delta cpu / delta system x cpus x 100 (seed 3.1); process time is busy time per completion', () => {
  const t = new UsageTracker();
  assert.deepEqual(t.update('w', 1_000, { reading: reading(100, 10_000), bytes: 0, busyMs: 0, completed: 0 }), { cpuPct: null, memoryPct: 25, networkMBps: null, processTimeMs: null });
  // 50 of 400 system ticks on 4 CPUs: half a core = 50%; 3 MB in 1.5 s = 2 MB/s; 600 busy ms over 200 requests = 3 ms.
  assert.deepEqual(t.update('w', 2_500, { reading: reading(150, 10_400, 512), bytes: 3_000_000, busyMs: 600, completed: 200 }), { cpuPct: 50, memoryPct: 50, networkMBps: 2, processTimeMs: 3 });
  assert.equal(t.update('w', 3_500, { busyMs: 700, completed: 200 }).processTimeMs, null, 'no completion: no process time');
});

test('a counter going backwards (a restart) gives no rate and starts over', () => {
  const t = new UsageTracker();
  t.update('w', 0, { reading: reading(500, 1_000), bytes: 9_000_000 });
  assert.deepEqual(t.update('w', 1_000, { reading: reading(10, 1_100), bytes: 1_000 }), { cpuPct: null, memoryPct: 25, networkMBps: null, processTimeMs: null });
  assert.equal(t.update('w', 2_000, { reading: reading(30, 1_200), bytes: 1_001_000 }).networkMBps, 1);
});

test('an unmeasured worker has nulls; retain() forgets the gone', () => {
  const t = new UsageTracker();
  assert.deepEqual(t.update('w', 0, {}), { cpuPct: null, memoryPct: null, networkMBps: null, processTimeMs: null });
  t.update('gone', 0, { reading: reading(1, 1), bytes: 0 });
  t.retain(new Set(['w']));
  assert.equal(t.update('gone', 1_000, { reading: reading(2, 2), bytes: 1_000_000 }).cpuPct, null, 'starts over after being forgotten');
});
