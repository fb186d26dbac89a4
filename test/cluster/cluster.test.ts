import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect } from 'nats';
import { freePort } from '../../src/drivers/free-port.js';
import { startCli, type RunningCli } from '../helpers/cli.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { fetchRaw, startHttpServer } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp-dir.js';
import { eventually } from '../helpers/eventually.js';

/**
 * Roles spread over real OS processes on one real nats-server: two ingress hosts and a control
 * plane, then two control planes competing for the autoscaler's lease.
 */

let nats: NatsServer;
let dir: string;
const INTERVAL_MS = 200;

before(async () => {
  nats = await startNatsServer();
  dir = tempDir('cluster');
  // Short intervals keep the test quick; the lease lasts three of them.
  writeFileSync(join(dir, 'fast.yaml'), `bus:\n  statsIntervalMs: ${INTERVAL_MS}\n  presenceIntervalMs: ${INTERVAL_MS}\n`);
});

after(async () => {
  await nats?.stop();
});

async function host(id: string, roles: string, extra: string[] = []): Promise<RunningCli> {
  return startCli(['--config', join(dir, 'fast.yaml'), '--host-id', id, '--roles', roles, '--nats', nats.url, '--admin-port', '0', '--threads', '1', ...extra]);
}

async function stop(cli: RunningCli, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill(signal);
  await cli.exited;
}

async function admin<T>(cli: RunningCli, path: string): Promise<T> {
  return JSON.parse((await fetchRaw(`http://127.0.0.1:${cli.adminPort}${path}`, { agent: false })).body.toString()) as T;
}


interface WorkerRow {
  id: string;
  weight: number;
  baseWeight: number;
}
interface Status {
  bus: { state: string; counters: { rejected: { invalid: number; 'not-json': number; 'too-large': number; 'unexpected-type': number } } };
  weights: { sequence: number; at: number; applied: number } | null;
  leadership: { lease: string; leader: boolean }[];
}

const weightsOf = async (cli: RunningCli): Promise<Record<string, number>> =>
  Object.fromEntries((await admin<WorkerRow[]>(cli, '/api/workers')).map((w) => [w.id, w.weight]));

test('weights from the scorer reach both ingress hosts; they survive the control plane and NATS restarting', async () => {
  // Two workers of the test's own, one 25 ms slower, so the scorer has something to weigh.
  const fast = await startHttpServer((_req, res) => res.end('fast'));
  const slow = await startHttpServer((_req, res) => void setTimeout(() => res.end('slow'), 25));
  const upstreams = ['--upstreams', `${fast.url},${slow.url}`];
  const fastId = `127.0.0.1:${fast.port}`;
  const slowId = `127.0.0.1:${slow.port}`;
  const a = await host('ingress-a', 'ingress', ['--port', '0', ...upstreams]);
  const b = await host('ingress-b', 'ingress', ['--port', '0', ...upstreams]);
  let control = await host('control', 'collector,scorer,autoscaler,reconciler');
  let traffic = true;
  const failures: string[] = [];
  const drive = (async () => {
    while (traffic) {
      for (const cli of [a, b]) {
        const reply = await fetchRaw(`http://127.0.0.1:${cli.ingressPort}/`).catch((err: Error) => ({ status: 0, body: Buffer.from(err.message) }));
        if (reply.status !== 200) failures.push(`${reply.status} ${reply.body.toString()}`);
      }
    }
  })();
  try {
    // The scorer's weights land in both route tables, the slow worker well below the fast one.
    const converged = await eventually('converged weights', async () => {
      const [wa, wb] = [await weightsOf(a), await weightsOf(b)];
      return wa[slowId]! < 0.5 && wa[fastId]! > 0.8 && JSON.stringify(wa) === JSON.stringify(wb) ? wa : undefined;
    });
    const hosts = await admin<{ host: string; roles: string[] }[]>(a, '/api/hosts');
    assert.deepEqual(
      hosts.map((h) => `${h.host}:${h.roles.join('+')}`),
      ['control:collector+scorer+autoscaler+reconciler', 'ingress-a:ingress', 'ingress-b:ingress'],
    );

    // Garbage on the bus is refused and counted by the hosts; nothing crashes.
    const raw = await connect({ servers: nats.url });
    const junk = [new TextEncoder().encode('{"type":"weights.updated","v":2}'), new TextEncoder().encode('{"type":"weights.updated"'), randomBytes(1 << 20)];
    for (const subject of ['wb.weights.default', 'wb.presence.intruder', 'wb.ingress.stats.intruder']) for (const data of junk) raw.publish(subject, data);
    await raw.flush();
    await raw.close();
    const counters = await eventually('rejections counted', async () => {
      const c = (await admin<Status>(a, '/api/status')).bus.counters.rejected;
      return c.invalid >= 2 && c['not-json'] >= 4 ? c : undefined;
    });
    assert.ok(counters.invalid >= 2, JSON.stringify(counters));
    // The scorer keeps publishing (its latencies move a little); the garbage changed nothing.
    assert.deepEqual(Object.keys(await weightsOf(a)).sort(), Object.keys(converged).sort());
    assert.ok((await weightsOf(a))[slowId]! < 0.5);

    // Without a control plane, both keep serving with the last weights they got.
    await stop(control, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 3 * INTERVAL_MS)); // let a last update land everywhere
    const frozen = await weightsOf(a);
    assert.deepEqual(await weightsOf(b), frozen);
    const frozenAt = (await admin<Status>(a, '/api/status')).weights!.at;
    await new Promise((r) => setTimeout(r, 5 * INTERVAL_MS));
    assert.equal((await admin<Status>(a, '/api/status')).weights!.at, frozenAt, 'weights changed with no scorer running');
    assert.deepEqual(await weightsOf(a), frozen);
    assert.deepEqual(await weightsOf(b), frozen);

    // A new control plane: updates resume.
    control = await host('control', 'collector,scorer,autoscaler,reconciler');
    await eventually('updates after the control plane restarted', async () => ((await admin<Status>(b, '/api/status')).weights!.at > frozenAt ? true : undefined));

    // nats-server restarts: every process reconnects by itself and updates flow again.
    await nats.restart();
    const restartedAt = Date.now();
    for (const cli of [a, b, control]) await eventually('reconnection', async () => ((await admin<Status>(cli, '/api/status')).bus.state === 'connected' ? true : undefined));
    await eventually('updates after NATS restarted', async () => ((await admin<Status>(a, '/api/status')).weights!.at > restartedAt ? true : undefined));
    assert.match(a.stderr(), /NATS connection lost/);
    traffic = false;
    await drive;
    assert.deepEqual(failures, [], 'requests failed while the control plane or NATS was down');
  } finally {
    traffic = false;
    await drive;
    for (const cli of [a, b, control]) await stop(cli);
    await fast.close();
    await slow.close();
  }
});

test('two autoscalers: exactly one holds the lease; kill it and the other takes over', async () => {
  const first = await host('scaler-1', 'autoscaler');
  const second = await host('scaler-2', 'autoscaler');
  const clis = [first, second];
  try {
    const leaderOf = async (cli: RunningCli): Promise<boolean> => (await admin<Status>(cli, '/api/status')).leadership.some((l) => l.lease === 'autoscaler' && l.leader);
    const leader = await eventually('a leader', async () => {
      const flags = await Promise.all(clis.map(leaderOf));
      return flags.filter(Boolean).length === 1 ? clis[flags.indexOf(true)]! : undefined;
    });
    // It stays exactly one over several renewals.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
      assert.equal((await Promise.all(clis.map(leaderOf))).filter(Boolean).length, 1);
    }
    const other = leader === first ? second : first;
    await stop(leader, 'SIGKILL');
    const killedAt = Date.now();
    await eventually('the other to take over', async () => ((await leaderOf(other)) ? true : undefined), 5_000);
    assert.ok(Date.now() - killedAt < 5_000);
    assert.match(other.stderr(), /took the autoscaler lease as scaler-\d/);
  } finally {
    for (const cli of clis) await stop(cli);
  }
});

test('an autoscaler on a control host scales the process workers of an ingress host over the bus, up and down through Sundown', async () => {
  const scaling = join(dir, 'scaling.yaml');
  // Scores never call for more workers (the light traffic's network sub-score is noisy): only C_default moves the count up, and an idle pool scales down.
  writeFileSync(scaling, `bus:\n  statsIntervalMs: ${INTERVAL_MS}\n  presenceIntervalMs: ${INTERVAL_MS}\ncollector:\n  intervalMs: ${INTERVAL_MS}\nautoscaler:\n  minWorkers: 1\n  maxWorkers: 3\n  scoreHigh: 0\n  scoreCritical: 0\n  scoreLow: 50\n  cooldownMs: 500\n  drainMs: 2000\n`);
  const edge = await host('edge', 'ingress', ['--port', '0', '--workers', '1']);
  const control = await startCli(['--config', scaling, '--host-id', 'control', '--roles', 'collector,scorer,autoscaler', '--nats', nats.url, '--admin-port', '0']);
  interface Scaler {
    hosts: { host: string; driver: string; workers: number }[];
    workers: { id: string; host: string; retiring: boolean }[];
    events: { action: string; workers: string[]; reason: string }[];
  }
  const workersOnEdge = async (): Promise<string[]> => (await admin<WorkerRow[]>(edge, '/api/workers')).map((w) => w.id).sort();
  const setDefault = (count: number) => fetchRaw(`http://127.0.0.1:${control.adminPort}/api/autoscaler/default-count`, { method: 'POST', body: JSON.stringify({ count }), agent: false });
  const failures: string[] = [];
  let traffic = true;
  const drive = (async () => {
    while (traffic) {
      const reply = await fetchRaw(`http://127.0.0.1:${edge.ingressPort}/`, { agent: false });
      if (reply.status !== 200) failures.push(`${reply.status} ${reply.body.toString()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    // The control host counts the edge's workers from its reports.
    await eventually('the edge in the fleet', async () => {
      const s = await admin<Scaler>(control, '/api/autoscaler');
      return s.hosts.some((h) => h.host === 'edge' && h.driver === 'process' && h.workers === 1) ? true : undefined;
    });
    assert.equal((await setDefault(2)).status, 200);
    await eventually('a second worker on the edge', async () => ((await workersOnEdge()).length === 2 ? true : undefined), 15_000);
    // The event is recorded when the edge's answer to the start comes back over the bus, which
    // may be after the edge lists the worker.
    const up = await eventually('the scale-up event', async () => (await admin<Scaler>(control, '/api/autoscaler')).events.find((e) => e.action === 'up'));
    assert.deepEqual(up.workers, ['worker-2']);
    assert.ok((await admin<Scaler>(control, '/api/autoscaler')).workers.every((w) => w.host === 'edge'));
    // Idle again with C_default back at 1: the started worker goes through Sundown on the edge.
    assert.equal((await setDefault(1)).status, 200);
    await eventually('back to one worker on the edge', async () => (JSON.stringify(await workersOnEdge()) === '["worker-1"]' ? true : undefined), 20_000);
    const down = (await admin<Scaler>(control, '/api/autoscaler')).events.find((e) => e.action === 'down');
    assert.deepEqual(down?.workers, ['worker-2'], JSON.stringify(down));
    assert.match(edge.stderr(), /Sundown for worker-2 \(asked by control\)/);
  } finally {
    traffic = false;
    await drive;
    await stop(control);
    await stop(edge);
  }
  assert.deepEqual(failures, []);
});

test('an ingress host whose NATS is down serves with its own weights and joins once NATS is up', async () => {
  const worker = await startHttpServer((_req, res) => res.end('ok'));
  const natsPort = await freePort();
  const cli = await startCli(['--config', join(dir, 'fast.yaml'), '--host-id', 'lonely', '--roles', 'ingress', '--nats', `nats://127.0.0.1:${natsPort}`, '--admin-port', '0', '--port', '0', '--threads', '1', '--upstreams', worker.url]);
  let late: NatsServer | undefined;
  try {
    assert.equal((await fetchRaw(`http://127.0.0.1:${cli.ingressPort}/`, { agent: false })).status, 200);
    assert.equal((await admin<Status>(cli, '/api/status')).bus.state, 'connecting');
    await eventually('the log to say why', async () => (/cannot reach NATS at .*retrying/.test(cli.stderr()) ? true : undefined));
    late = await startNatsServer('', natsPort);
    await eventually('the bus to connect', async () => ((await admin<Status>(cli, '/api/status')).bus.state === 'connected' ? true : undefined));
    assert.equal((await fetchRaw(`http://127.0.0.1:${cli.ingressPort}/`, { agent: false })).status, 200);
  } finally {
    await stop(cli);
    await late?.stop();
    await worker.close();
  }
});
