import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort, waitForPort } from '../../src/drivers/free-port.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import type { WorkerEntry } from '../../src/state/state-store.js';
import { runCli } from '../helpers/cli.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { fetchRaw, startHttpServer, startProxy } from '../helpers/servers.js';
import { eventually } from '../helpers/eventually.js';

let redis: RedisServer;
before(async () => {
  redis = await startRedisServer({ password: 'pw' });
});
after(async () => {
  await redis?.stop();
});

const stray = (name: string): WorkerEntry => ({ name, host: '127.0.0.1', port: 1, image: null, category: null, score: null, state: 'LU', updatedAt: 1 });


test('the reconciler keeps Redis in step both ways, scoped to its application, and rides out a Redis outage', async () => {
  const upstreams = await Promise.all([startHttpServer((_q, s) => s.end('a')), startHttpServer((_q, s) => s.end('b'))]);
  const ids = upstreams.map((u) => `127.0.0.1:${u.port}`).sort();
  const mine = await RedisStateStore.connect(redis.url, 'shop');
  const other = await RedisStateStore.connect(redis.url, 'blog');
  await mine.put(stray('left-over'));
  await other.put(stray('not-ours'));
  const log: string[] = [];
  const wb = await startProxy(
    {
      roles: ['ingress', 'collector', 'scorer', 'reconciler'],
      appId: 'shop',
      redis: redis.url,
      bus: { statsIntervalMs: 200 },
      collector: { intervalMs: 200 },
      driver: { kind: 'static', upstreams: upstreams.map((u) => ({ url: u.url })) },
    },
    log,
  );
  const names = async (): Promise<string[]> => (await mine.list()).map((e) => e.name).sort();
  try {
    // Both running workers get entries with the scorer's state; the stray one goes; the other application's stays.
    await eventually('entries for the running workers', async () => {
      const entries = await mine.list();
      return JSON.stringify(entries.map((e) => e.name).sort()) === JSON.stringify(ids) && entries.every((e) => e.score !== null && e.state !== 'init') ? true : undefined;
    });
    assert.deepEqual((await other.list()).map((e) => e.name), ['not-ours']);
    const state = JSON.parse((await fetchRaw(`${wb.adminUrl}/api/state`)).body.toString()) as { store: string; app: string; workers: WorkerEntry[] };
    assert.equal(state.store, 'redis');
    assert.deepEqual(state.workers.map((w) => w.name), ids);

    // Redis goes away for 10 s: every request in that time is still served.
    await redis.stop();
    const downUntil = Date.now() + 10_000;
    while (Date.now() < downUntil) {
      assert.equal((await fetchRaw(`${wb.url}/`)).status, 200);
      await new Promise((r) => setTimeout(r, 50));
    }
    await redis.start();
    // Back (empty: no persistence), the state is rebuilt.
    await eventually('the state rebuilt after Redis returned', async () => (JSON.stringify(await names()) === JSON.stringify(ids) ? true : undefined));
    assert.ok(log.some((l) => l.includes('skipping rounds until the state store answers')), log.join('\n'));
    assert.ok(log.some((l) => l.includes('reachable again')), log.join('\n'));
  } finally {
    await wb.stop();
    await Promise.all([mine.close(), other.close()]);
    await Promise.all(upstreams.map((u) => u.close()));
  }
});

test('a wrong Redis password is one clear error and nothing starts', async () => {
  const port = await freePort();
  const r = await runCli(['--port', String(port), '--admin-port', '0', '--workers', '1', '--redis', `redis://:nope@127.0.0.1:${redis.port}`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /weighbridge: redis redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?: authentication failed/);
  assert.equal(await waitForPort('127.0.0.1', port, 300), false, 'the ingress listens after a state store error');
});

test('C_default set through the admin API survives a restart of weighbridge: the new process meets it', async () => {
  const config = {
    roles: ['ingress', 'collector', 'scorer', 'autoscaler', 'reconciler'] as ('ingress' | 'collector' | 'scorer' | 'autoscaler' | 'reconciler')[],
    appId: 'restarts',
    redis: redis.url,
    threads: 1,
    bus: { statsIntervalMs: 300 },
    collector: { intervalMs: 300 },
    driver: { kind: 'process' as const, count: 1 },
    autoscaler: { maxWorkers: 3, cooldownMs: 60_000 },
  };
  const running = async (adminUrl: string): Promise<number> => (JSON.parse((await fetchRaw(`${adminUrl}/api/autoscaler`)).body.toString()) as { workers: unknown[] }).workers.length;
  const first = await startProxy(config);
  try {
    assert.equal((await fetchRaw(`${first.adminUrl}/api/autoscaler/default-count`, { method: 'POST', body: '{"count":2}' })).status, 200);
    await eventually('two workers', async () => ((await running(first.adminUrl)) === 2 ? true : undefined));
  } finally {
    await first.stop();
  }
  const second = await startProxy(config);
  try {
    await eventually('two workers again after the restart', async () => ((await running(second.adminUrl)) === 2 ? true : undefined));
    const status = JSON.parse((await fetchRaw(`${second.adminUrl}/api/autoscaler`)).body.toString()) as { defaultCount: number };
    assert.equal(status.defaultCount, 2);
  } finally {
    await second.stop();
  }
});
