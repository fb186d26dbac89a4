import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DriverError } from '../../src/errors.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { containersOf, docker, ensureDockerWithWorkerImage, WORKER_IMAGE } from '../helpers/docker.js';
import { fetchRaw, startProxy } from '../helpers/servers.js';
import { eventually } from '../helpers/eventually.js';
import { signalTwiceWhileDraining, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

let redis: RedisServer;
before(async () => {
  await ensureDockerWithWorkerImage();
  redis = await startRedisServer();
});
after(async () => {
  await redis?.stop();
});


test('docker workers: limited containers on host networking behind the ingress, measured, scaled, replaced when removed behind our back (and in Redis), gone after stop', async () => {
  const appId = `test-${process.pid}`;
  const store = await RedisStateStore.connect(redis.url, appId);
  const entries = async (): Promise<string[]> => (await store.list()).map((e) => e.name).sort();
  const names = async (): Promise<string[]> => (await containersOf(appId)).map((c) => c.Names[0]!.slice(1)).sort();
  const wb = await startProxy({
    roles: ['ingress', 'collector', 'scorer', 'autoscaler', 'reconciler'],
    appId,
    redis: redis.url,
    threads: 1,
    bus: { statsIntervalMs: 300 },
    collector: { intervalMs: 300 },
    driver: { kind: 'docker', image: WORKER_IMAGE, count: 1, cpus: 0.5, memoryMb: 128 },
    autoscaler: { maxWorkers: 3, cooldownMs: 60_000 },
  });
  try {
    const [info] = await containersOf(appId);
    assert.ok(info, 'a container runs');
    assert.match(info.Names[0]!, /^\/weighbridge-[0-9a-f-]{36}$/);
    const inspect = await docker.getContainer(info.Id).inspect();
    assert.equal(inspect.HostConfig.NetworkMode, 'host');
    assert.equal(inspect.HostConfig.Memory, 128 * 1024 * 1024);
    assert.equal(inspect.HostConfig.NanoCpus, 0.5e9);
    // Traffic reaches it through the ingress; the worker answers with its id, the container's name.
    const reply = await fetchRaw(`${wb.url}/`);
    assert.equal(reply.status, 200);
    assert.equal(`/${reply.body.toString().trim()}`, info.Names[0]);

    // Docker's stats feed the collector: memory % against the 128 MiB limit.
    await eventually('a memory sub-score from Docker stats', async () => {
      const scores = JSON.parse((await fetchRaw(`${wb.adminUrl}/api/scores`)).body.toString()) as { workers: { sub: { memory: number | null; cpu: number | null } }[] };
      const sub = scores.workers[0]?.sub;
      return sub?.memory != null && sub.memory < 100 && sub.cpu != null ? true : undefined;
    }, 30_000);

    // C_default 2: a second container; one removed behind weighbridge's back is replaced.
    assert.equal((await fetchRaw(`${wb.adminUrl}/api/autoscaler/default-count`, { method: 'POST', body: '{"count":2}' })).status, 200);
    await eventually('two containers', async () => ((await containersOf(appId)).length === 2 ? true : undefined), 30_000);
    const victim = (await containersOf(appId))[0]!;
    await docker.getContainer(victim.Id).remove({ force: true });
    await eventually('a replacement', async () => {
      const now = await containersOf(appId);
      return now.length === 2 && !now.some((c) => c.Id === victim.Id) ? true : undefined;
    }, 30_000);
    for (let i = 0; i < 10; i++) assert.equal((await fetchRaw(`${wb.url}/`)).status, 200);
    // The reconciler followed: the removed container's entry is gone, the replacement has one.
    await eventually('Redis entries for exactly the running containers', async () => (JSON.stringify(await entries()) === JSON.stringify(await names()) ? true : undefined), 30_000);
    assert.ok(!(await entries()).includes(victim.Names[0]!.slice(1)));
  } finally {
    await wb.stop();
    await store.close();
  }
  assert.deepEqual(await containersOf(appId), [], 'no container left after stop');
});

test('docker: a second SIGTERM ends weighbridge at once, and the containers it started go before it does', async () => {
  const appId = `signal-${process.pid}`;
  const config = join(tempDir('docker-signal'), 'docker.json');
  writeFileSync(config, JSON.stringify({ appId, port: 0, admin: { port: 0 }, threads: 1, driver: { kind: 'docker', image: WORKER_IMAGE, count: 2 } }));
  const cli = await startCli(['--config', config]);
  try {
    assert.equal((await containersOf(appId)).length, 2);
    // The drain holds the containers up until the second signal.
    assert.equal(await signalTwiceWhileDraining(cli), 'SIGTERM', cli.stderr());
    assert.match(cli.stderr(), /SIGTERM again, exiting now/);
    assert.deepEqual(await containersOf(appId), [], 'containers outlived weighbridge');
  } finally {
    cli.child.kill('SIGKILL');
    await Promise.all((await containersOf(appId)).map((c) => docker.getContainer(c.Id).remove({ force: true })));
  }
});

test('docker: an unknown image or an unreachable engine is one clear error, and nothing runs', async () => {
  await assert.rejects(startProxy({ appId: 'bad-image', driver: { kind: 'docker', image: 'weighbridge-no-such-image:1', count: 1 } }), (err: unknown) => {
    assert.ok(err instanceof DriverError);
    assert.equal(err.code, 'ERR_DOCKER_IMAGE');
    assert.match(err.message, /weighbridge-no-such-image:1 is not on this host/);
    return true;
  });
  await assert.rejects(startProxy({ driver: { kind: 'docker', image: WORKER_IMAGE, socketPath: '/nonexistent/docker.sock' } }), (err: unknown) => err instanceof DriverError && err.code === 'ERR_DOCKER_UNREACHABLE');
  assert.deepEqual(await containersOf('bad-image'), []);
});

test('docker on a dedicated bridge network: containers join it under DNS names, the ingress reaches them on 127.0.0.1 through published ports; the network goes at stop', async () => {
  const appId = `bridge-${process.pid}`;
  const network = `weighbridge-${appId}`;
  const wb = await startProxy({
    appId,
    threads: 1,
    driver: { kind: 'docker', image: WORKER_IMAGE, count: 2, network: { mode: 'bridge' } },
  });
  try {
    const net = (await docker.getNetwork(network).inspect()) as { Driver: string; Labels: Record<string, string> };
    assert.equal(net.Driver, 'bridge');
    assert.equal(net.Labels['weighbridge.app'], appId);
    const infos = await containersOf(appId);
    assert.equal(infos.length, 2);
    const names = infos.map((c) => c.Names[0]!.slice(1)).sort();
    for (const info of infos) {
      const inspect = await docker.getContainer(info.Id).inspect();
      assert.equal(inspect.HostConfig.NetworkMode, network);
      const bindings = Object.values(inspect.HostConfig.PortBindings ?? {}).flat() as { HostIp: string }[];
      assert.deepEqual(bindings.map((b) => b.HostIp), ['127.0.0.1'], 'published on loopback only');
    }
    // Both containers serve through the ingress, each answering with its own name.
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const reply = await fetchRaw(`${wb.url}/`);
      assert.equal(reply.status, 200);
      seen.add(reply.body.toString().trim());
    }
    assert.deepEqual([...seen].sort(), names);
    // On the network each name is a DNS name: one container resolves the other's (a lookup, no traffic).
    const resolved = execFileSync('docker', ['exec', names[0]!, '/usr/bin/node', '-e', `require('dns').lookup(${JSON.stringify(names[1])}, (e, a) => console.log(e ? e.code : a))`]).toString().trim();
    assert.match(resolved, /^\d+\.\d+\.\d+\.\d+$/, `${names[1]} resolves on ${network}: ${resolved}`);
  } finally {
    await wb.stop();
  }
  assert.deepEqual(await containersOf(appId), []);
  assert.equal(await docker.getNetwork(network).inspect().then(() => 'present', () => 'gone'), 'gone');
});
