import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScalingEvent } from '../../src/scaling/autoscaler.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { fetchRaw, startProxy } from '../helpers/servers.js';
import { eventually } from '../helpers/eventually.js';
import { containersOf, ensureDockerWithWorkerImage, WORKER_IMAGE } from '../helpers/docker.js';

interface Status {
  defaultCount: number;
  workers: { id: string; retiring: boolean }[];
  events: ScalingEvent[];
}

/** weighbridge with one process worker, fast intervals and an autoscaler; `extra` sets the rest. */
async function startScaling(extra: ConfigInput) {
  const wb = await startProxy({
    roles: ['ingress', 'collector', 'scorer', 'autoscaler'],
    threads: 1,
    bus: { statsIntervalMs: 300 },
    collector: { intervalMs: 300 },
    driver: { kind: 'process', count: 1 },
    ...extra,
  });
  const status = async (): Promise<Status> => JSON.parse((await fetchRaw(`${wb.adminUrl}/api/autoscaler`)).body.toString()) as Status;
  const post = (count: unknown) => fetchRaw(`${wb.adminUrl}/api/autoscaler/default-count`, { method: 'POST', body: JSON.stringify({ count }) });
  return { wb, status, post };
}

/**
 * A load step scales up, the quiet after it scales down through Sundown without a failed request;
 * the cooldown holds between actions; a C_default raise through the admin API takes effect and
 * holds, and C_default below the minimum is refused.
 */
async function loadStepScenario(driver: ConfigInput['driver'], appId = 'weighbridge'): Promise<void> {
  const COOLDOWN = 1_500;
  const { wb, status, post } = await startScaling({
    appId,
    driver,
    // With CPU busy the score drops to about 50 (the other sub-scores stay high); idle it is about 100.
    autoscaler: { maxWorkers: 3, scoreHigh: 70, scoreCritical: 5, scoreLow: 90, cooldownMs: COOLDOWN, drainMs: 5_000 },
  });
  const running = async (): Promise<number> => (await status()).workers.filter((w) => !w.retiring).length;
  try {
    // The load step: CPU-heavy requests, two at a time.
    let loading = true;
    const load = (async () => {
      while (loading) await Promise.all([fetchRaw(`${wb.url}/work?cpu_ms=40`), fetchRaw(`${wb.url}/work?cpu_ms=40`)]);
    })();
    try {
      await eventually('a scale-up', async () => ((await status()).events.some((e) => e.action === 'up') ? true : undefined), 30_000);
    } finally {
      loading = false;
      await load;
    }
    assert.ok((await running()) >= 2);

    // Quiet: light traffic only, none of which may fail while workers drain and stop.
    const failures: string[] = [];
    let probing = true;
    const light = (async () => {
      while (probing) {
        const reply = await fetchRaw(`${wb.url}/`);
        if (reply.status !== 200) failures.push(`${reply.status} ${reply.body.toString()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await eventually('the scale-down to the minimum', async () => ((await running()) === 1 && (await status()).workers.length === 1 ? true : undefined), 30_000);
    } finally {
      probing = false;
      await light;
    }
    assert.deepEqual(failures, []);
    const events = (await status()).events;
    assert.ok(events.some((e) => e.action === 'down' && /above 90/.test(e.reason)), JSON.stringify(events));
    // The cooldown holds between scaling actions, either way.
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.at - events[i - 1]!.at >= COOLDOWN, JSON.stringify(events));

    // C_default through the admin API: below the configured minimum is refused; a raise takes effect and holds.
    assert.equal((await post(0)).status, 400);
    assert.equal((await post(2)).status, 200);
    await eventually('two workers for C_default 2', async () => ((await running()) === 2 ? true : undefined), 30_000);
    await new Promise((r) => setTimeout(r, 3 * COOLDOWN));
    assert.equal(await running(), 2, 'idle, but never below C_default');
    assert.equal((await status()).defaultCount, 2);

    // /metrics says the same as the JSON view: C_default, the workers, and every worker started
    // or sent to Sundown (one more start than the events for the raise above).
    const metrics = (await fetchRaw(`${wb.adminUrl}/metrics`)).body.toString();
    const sample = (series: string): number => {
      const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
      assert.ok(line !== undefined, `no ${series} in /metrics`);
      return Number(line.slice(series.length + 1));
    };
    const final = await status();
    const scaled = (action: 'up' | 'down') => final.events.filter((e) => e.action === action).reduce((n, e) => n + e.workers.length, 0);
    assert.equal(sample('weighbridge_autoscaler_default_workers'), 2);
    assert.equal(sample('weighbridge_autoscaler_min_workers'), 1);
    assert.equal(sample('weighbridge_autoscaler_max_workers'), 3);
    assert.equal(sample('weighbridge_autoscaler_workers{sundown="false"}'), 2);
    assert.equal(sample('weighbridge_autoscaler_scaled_workers_total{direction="up"}'), scaled('up'));
    assert.equal(sample('weighbridge_autoscaler_scaled_workers_total{direction="down"}'), scaled('down'));
    assert.ok(scaled('up') >= 2 && scaled('down') >= 1);
    const leases = (JSON.parse((await fetchRaw(`${wb.adminUrl}/api/status`)).body.toString()) as { leadership: { lease: string; leader: boolean }[] }).leadership;
    assert.ok(leases.length > 0);
    for (const l of leases) assert.equal(sample(`weighbridge_lease_held{lease="${l.lease}"}`), l.leader ? 1 : 0);
  } finally {
    await wb.stop();
  }
}

test('process workers: a load step scales up, the quiet after it scales down through Sundown without a failed request; C_default holds the floor', () =>
  loadStepScenario({ kind: 'process', count: 1 }));

test('docker workers: a load step scales up, the quiet after it scales down through Sundown without a failed request; C_default holds the floor', async () => {
  await ensureDockerWithWorkerImage();
  const appId = `scale-${process.pid}`;
  await loadStepScenario({ kind: 'docker', image: WORKER_IMAGE, count: 1, memoryMb: 256 }, appId);
  assert.deepEqual(await containersOf(appId), [], 'no container left after stop');
});

test('a worker the scorer drains on its own (LU for t_low, nothing in flight) is stopped, down to C_default', async () => {
  const { wb, status, post } = await startScaling({
    scoring: { states: { minDwellMs: 0, lowDwellForSundownMs: 1_500 } },
    // A long cooldown keeps the autoscaler's own scale-down out of the way.
    autoscaler: { maxWorkers: 3, cooldownMs: 600_000 },
  });
  try {
    assert.equal((await post(2)).status, 200);
    await eventually('a second, non-default worker', async () => ((await status()).workers.length === 2 ? true : undefined), 30_000);
    assert.equal((await post(1)).status, 200);
    const drained = await eventually('the drained worker stopped', async () => (await status()).events.find((e) => e.action === 'down'), 30_000);
    assert.match(drained.reason, /the scorer drained it/);
    assert.deepEqual(drained.workers, ['worker-2']);
    await eventually('one worker left', async () => ((await status()).workers.length === 1 ? true : undefined), 30_000);
    assert.equal((await fetchRaw(`${wb.url}/`)).status, 200);
  } finally {
    await wb.stop();
  }
});
