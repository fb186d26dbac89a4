import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageTracker } from '../../src/metrics/usage-tracker.js';

const reading = (cpu: number, system: number, memoryBytes = 256, memoryLimitBytes = 1024) => ({ cpu, system, cpus: 4, memoryBytes, memoryLimitBytes });

test('rates need two readings; CPU % is delta cpu / delta system x cpus x 100 (seed 3.1)', () => {
  const t = new UsageTracker();
  assert.deepEqual(t.update('w', 1_000, reading(100, 10_000), 0), { cpuPct: null, memoryPct: 25, networkMBps: null });
  // 50 of 400 system ticks on 4 CPUs: half a core = 50%; 3 MB in 1.5 s = 2 MB/s.
  assert.deepEqual(t.update('w', 2_500, reading(150, 10_400, 512), 3_000_000), { cpuPct: 50, memoryPct: 50, networkMBps: 2 });
});

test('a counter going backwards (a restart) gives no rate and starts over', () => {
  const t = new UsageTracker();
  t.update('w', 0, reading(500, 1_000), 9_000_000);
  assert.deepEqual(t.update('w', 1_000, reading(10, 1_100), 1_000), { cpuPct: null, memoryPct: 25, networkMBps: null });
  assert.equal(t.update('w', 2_000, reading(30, 1_200), 1_001_000).networkMBps, 1);
});

test('an unmeasured worker has nulls; retain() forgets the gone', () => {
  const t = new UsageTracker();
  assert.deepEqual(t.update('w', 0, undefined, undefined), { cpuPct: null, memoryPct: null, networkMBps: null });
  t.update('gone', 0, reading(1, 1), 0);
  t.retain(new Set(['w']));
  assert.equal(t.update('gone', 1_000, reading(2, 2), 1_000_000).cpuPct, null, 'starts over after being forgotten');
});
