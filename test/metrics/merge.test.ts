import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MessageOf } from '../../src/bus/messages.js';
import { mergeIngressStats } from '../../src/metrics/ingress-merge.js';
import { mergeSamples } from '../../src/scoring/sample-merge.js';

const stat = (host: string, workers: Partial<MessageOf<'ingress.stats'>['workers'][number]>[]): MessageOf<'ingress.stats'> => ({
  type: 'ingress.stats', v: 2, host, at: 1,
  workers: workers.map((w) => ({ id: 'w', address: 'a', baseWeight: 1, weight: 1, isDefault: true, inflight: 0, completed: 0, errors: 0, bytesIn: 0, bytesOut: 0, busyMs: 0, ewmaMs: null, p50Ms: null, p99Ms: null, ...w })),
});

test('ingress reports merge per worker: counts and bytes add up, latency is weighted by completions', () => {
  const merged = mergeIngressStats([
    stat('a', [{ inflight: 2, completed: 300, bytesIn: 10, bytesOut: 20, busyMs: 500, ewmaMs: 10 }, { id: 'x', ewmaMs: null }]),
    stat('b', [{ inflight: 1, completed: 100, bytesIn: 1, bytesOut: 2, busyMs: 250, ewmaMs: 30 }]),
  ]);
  assert.deepEqual(merged.get('w'), { id: 'w', baseWeight: 1, isDefault: true, inflight: 3, completed: 400, bytes: 33, busyMs: 750, ewmaMs: 15 });
  assert.equal(merged.get('x')!.ewmaMs, null);
});

const sample = (host: string, at: number, w: Partial<MessageOf<'metrics.sample'>['workers'][number]>): MessageOf<'metrics.sample'> => ({
  type: 'metrics.sample', v: 2, host, at,
  workers: [{ id: 'w', baseWeight: 1, isDefault: true, cpuPct: null, memoryPct: null, networkMBps: null, processTimeMs: null, networkDelayMs: null, latencyMs: null, latencySource: null, inflight: 0, ...w }],
});

test('samples from several collectors complete each other: each measurement from the newest sample that has it', () => {
  const inputs = mergeSamples([
    sample('beside', 100, { cpuPct: 40, memoryPct: 10, latencyMs: 5, networkDelayMs: 0.1, inflight: 1 }),
    sample('elsewhere', 200, { latencyMs: 7, networkMBps: 3, processTimeMs: 2, inflight: 4, baseWeight: 2 }),
  ]);
  assert.deepEqual(inputs, [{ id: 'w', baseWeight: 2, isDefault: true, cpuPct: 40, memoryPct: 10, networkMBps: 3, processTimeMs: 2, networkDelayMs: 0.1, latencyMs: 7, inflight: 4 }]);
});
