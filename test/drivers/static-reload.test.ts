import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { eventually } from '../helpers/eventually.js';
import { distinctAnswers, fetchRaw, startHttpServer, startProxy } from '../helpers/servers.js';

/** Upstreams that answer with their id; /slow after 1.5 s. */
async function upstream(id: string) {
  return startHttpServer((req, res) => {
    if (req.url === '/slow') setTimeout(() => res.end(`${id} slow\n`), 1_500);
    else res.end(`${id}\n`);
  });
}

test('a reload with a new static upstream list adds, drains and reweights workers without a restart; requests in flight on a dropped worker finish', async () => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(upstream));
  const log: string[] = [];
  const driver = (upstreams: { url: string; id: string; weight?: number }[]): ConfigInput['driver'] => ({ kind: 'static', upstreams });
  // Weighted random, so that every worker's share follows its weight alone (weighted P2C would
  // seldom pick a weight-1 worker beside a weight-3 one between sequential requests).
  const proxy = await startProxy({ policy: 'weighted-random', driver: driver([{ url: a!.url, id: 'a' }, { url: b!.url, id: 'b' }]) }, log);
  // What startProxy resolves its configuration with, so that only the driver differs.
  const reloaded = (d: ConfigInput['driver']) => resolveConfig({ host: '127.0.0.1', port: 0, threads: 2, roles: ['ingress'], slowStartMs: 0, admin: { port: 0 }, policy: 'weighted-random', driver: d });
  const workers = async () => JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { id: string; state: string; baseWeight: number }[];
  const answers = (n: number): Promise<string[]> => distinctAnswers(`${proxy.url}/`, n);
  try {
    assert.deepEqual(await answers(40), ['a', 'b']);
    // Sixteen slow requests in flight, spread over a and b at random (all on b: 2^-16).
    const slow = Array.from({ length: 16 }, () => fetchRaw(`${proxy.url}/slow`, { agent: false }));
    const inflight = async () => (JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/status`)).body.toString()) as { requests: { inflight: number } }).requests.inflight;
    await eventually('the slow requests in flight', async () => ((await inflight()) === 16 ? true : undefined));

    assert.deepEqual(await proxy.reload(reloaded(driver([{ url: b!.url, id: 'b', weight: 3 }, { url: c!.url, id: 'c' }]))), []);
    assert.ok(log.includes('static upstreams reloaded: draining a; weight of b 1 -> 3; adding c'), log.join('\n'));
    assert.equal((await workers()).find((w) => w.id === 'a')?.state, 'draining');
    assert.deepEqual(await answers(40), ['b', 'c']);
    assert.equal((await workers()).find((w) => w.id === 'b')?.baseWeight, 3);

    // The requests a had in flight finish there, and then it leaves.
    const replies = await Promise.all(slow);
    assert.deepEqual(replies.map((r) => r.status), Array(16).fill(200));
    assert.ok(replies.some((r) => r.body.toString() === 'a slow\n'), 'no slow request went to a');
    await eventually('a removed', async () => ((await workers()).some((w) => w.id === 'a') ? undefined : true));
    assert.ok(log.includes('static upstreams: a removed'), log.join('\n'));

    // Listed again: back at once. Another driver kind is not applied but reported as needing a restart.
    assert.deepEqual(await proxy.reload(reloaded(driver([{ url: a!.url, id: 'a' }, { url: b!.url, id: 'b', weight: 3 }, { url: c!.url, id: 'c' }]))), []);
    assert.deepEqual(await answers(60), ['a', 'b', 'c']);
    assert.deepEqual(await proxy.reload(reloaded({ kind: 'process', count: 1 })), ['driver']);
    assert.deepEqual((await workers()).map((w) => w.id).sort(), ['a', 'b', 'c']);
  } finally {
    await proxy.stop();
    await Promise.all([a, b, c].map((s) => s!.close()));
  }
});

test('reloads while a worker drains: the latest list decides what takes its id once the drain ends', async () => {
  const [a1, a2, b] = await Promise.all(['a1', 'a2', 'b'].map(upstream));
  const log: string[] = [];
  type Entry = { url: string; id: string };
  const driver = (upstreams: Entry[]): ConfigInput['driver'] => ({ kind: 'static', upstreams });
  const proxy = await startProxy({ policy: 'weighted-random', driver: driver([{ url: a1!.url, id: 'a' }, { url: b!.url, id: 'b' }]) }, log);
  const reload = (upstreams: Entry[]) => proxy.reload(resolveConfig({ host: '127.0.0.1', port: 0, threads: 2, roles: ['ingress'], slowStartMs: 0, admin: { port: 0 }, policy: 'weighted-random', driver: driver(upstreams) }));
  const address = async () => (JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { id: string; address: string; state: string }[]).find((w) => w.id === 'a');
  /** Slow requests, so that a's drain lasts until they end. */
  const holdA = async () => {
    const slow = Array.from({ length: 16 }, () => fetchRaw(`${proxy.url}/slow`, { agent: false }));
    await eventually('slow requests on a', async () => ((await workersInflight(proxy.adminUrl, 'a')) > 0 ? true : undefined));
    return slow;
  };
  try {
    // Dropped, then listed again at a new address before its drain ended: the new address takes the id.
    let slow = await holdA();
    await reload([{ url: b!.url, id: 'b' }]);
    await reload([{ url: a2!.url, id: 'a' }, { url: b!.url, id: 'b' }]);
    assert.ok(log.some((l) => l.includes('moving a to 127.0.0.1:') && l.includes('once it has drained')), log.join('\n'));
    await Promise.all(slow);
    await eventually('a at its new address', async () => ((await address())?.address === `127.0.0.1:${a2!.port}` ? true : undefined));
    assert.deepEqual(await distinctAnswers(`${proxy.url}/`, 40), ['a2', 'b']);

    // Moved, then dropped before its drain ended: nothing takes the id.
    slow = await holdA();
    await reload([{ url: a1!.url, id: 'a' }, { url: b!.url, id: 'b' }]);
    await reload([{ url: b!.url, id: 'b' }]);
    assert.ok(log.includes('static upstreams reloaded: dropping a once it has drained'), log.join('\n'));
    await Promise.all(slow);
    await eventually('a gone', async () => ((await address()) === undefined ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await address(), undefined, 'a dropped upstream came back');
    assert.deepEqual(await distinctAnswers(`${proxy.url}/`, 20), ['b']);
  } finally {
    await proxy.stop();
    await Promise.all([a1, a2, b].map((s) => s!.close()));
  }
});

/** Requests in flight on one worker, from the admin API. */
async function workersInflight(adminUrl: string, id: string): Promise<number> {
  const list = JSON.parse((await fetchRaw(`${adminUrl}/api/workers`)).body.toString()) as { id: string; inflight: number }[];
  return list.find((w) => w.id === id)?.inflight ?? 0;
}

test('two static upstreams with the same id are refused, naming it', () => {
  assert.throws(
    () => resolveConfig({ driver: { kind: 'static', upstreams: [{ url: 'http://127.0.0.1:3000' }, { url: 'http://127.0.0.1:3000', weight: 2 }] } }),
    /driver\.upstreams: two upstreams have the id 127\.0\.0\.1:3000/,
  );
  assert.doesNotThrow(() => resolveConfig({ driver: { kind: 'static', upstreams: [{ url: 'http://127.0.0.1:3000' }, { url: 'http://127.0.0.1:3000', id: 'second' }] } }));
  // A URL that fails its own check is reported as such, not as an error of the id check.
  assert.throws(() => resolveConfig({ driver: { kind: 'static', upstreams: [{ url: 'foo' }] } }), /^ConfigError: config: driver\.upstreams\.0\.url: must be an http:\/\/ URL/);
});
