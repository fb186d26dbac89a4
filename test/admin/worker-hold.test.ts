import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProcessDriver } from '../../src/drivers/process-driver.js';
import { eventually } from '../helpers/eventually.js';
import { distinctAnswers, fetchRaw, startHttpServer, startProxy } from '../helpers/servers.js';

test('the admin API drains one worker (no new requests, those in flight finish) and makes it ready again', async () => {
  const servers = await Promise.all(
    ['a', 'b'].map((id) =>
      startHttpServer((req, res) => {
        if (req.url === '/slow') setTimeout(() => res.end(`${id} slow\n`), 1_000);
        else res.end(`${id}\n`);
      }),
    ),
  );
  const proxy = await startProxy({ policy: 'weighted-random', driver: { kind: 'static', upstreams: servers.map((s, i) => ({ url: s.url, id: ['a', 'b'][i]! })) } });
  const post = async (action: string, body: unknown) => {
    const reply = await fetchRaw(`${proxy.adminUrl}/api/workers/${action}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: reply.status, body: JSON.parse(reply.body.toString()) as { state?: string; error?: string } };
  };
  try {
    assert.deepEqual(await distinctAnswers(`${proxy.url}/`, 40), ['a', 'b']);
    // Slow requests on both; a drains while they run.
    const slow = Array.from({ length: 16 }, () => fetchRaw(`${proxy.url}/slow`, { agent: false }));
    await eventually('the slow requests in flight', async () =>
      (JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/status`)).body.toString()) as { requests: { inflight: number } }).requests.inflight === 16 ? true : undefined,
    );
    const drained = await post('drain', { id: 'a' });
    assert.equal(drained.status, 200);
    assert.equal(drained.body.state, 'draining');
    assert.deepEqual(await distinctAnswers(`${proxy.url}/`, 40), ['b']);
    const replies = await Promise.all(slow);
    assert.deepEqual(replies.map((r) => r.status), Array(16).fill(200));
    assert.ok(replies.some((r) => r.body.toString() === 'a slow\n'), 'no slow request went to a');

    const ready = await post('ready', { id: 'a' });
    assert.equal(ready.status, 200);
    assert.equal(ready.body.state, 'ready');
    assert.deepEqual(await distinctAnswers(`${proxy.url}/`, 40), ['a', 'b']);

    // What it refuses, each with a 400 and the reason.
    assert.deepEqual(await post('drain', { id: 'nope' }), { status: 400, body: { error: 'no worker nope on this host' } });
    assert.deepEqual(await post('ready', { id: 'b' }), { status: 400, body: { error: 'worker b is ready, not drained through the admin API' } });
    assert.deepEqual(await post('drain', ['a']), { status: 400, body: { error: 'expected {"id": "<worker id>"}' } });
    // A known endpoint asked with the wrong method: 405 with the method it takes; an unknown one 404.
    const wrong = await fetchRaw(`${proxy.adminUrl}/api/workers/drain`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'POST');
    const wrongGet = await fetchRaw(`${proxy.adminUrl}/api/status`, { method: 'POST', body: '{}' });
    assert.equal(wrongGet.status, 405);
    assert.equal(wrongGet.headers.allow, 'GET');
    assert.equal((await fetchRaw(`${proxy.adminUrl}/api/nothing`)).status, 404);
  } finally {
    await proxy.stop();
    await Promise.all(servers.map((s) => s.close()));
  }
});

test('a worker drained through the admin API stays drained when its process crashes and comes back', async () => {
  const proxy = await startProxy({ policy: 'round-robin', driver: { kind: 'process', count: 2, restartBackoffMs: { initial: 100, max: 100 } } });
  const workers = async () => JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { id: string; state: string }[];
  const stateOf = async (id: string) => (await workers()).find((w) => w.id === id)?.state;
  const post = (action: string) => fetchRaw(`${proxy.adminUrl}/api/workers/${action}`, { method: 'POST', body: JSON.stringify({ id: 'worker-1' }) });
  try {
    assert.equal((await post('drain')).status, 200);
    const driver = proxy.dataPlane!.driver as ProcessDriver;
    const pid = driver.pids().get('worker-1')!;
    process.kill(pid, 'SIGKILL');
    await eventually('worker-1 restarted', async () => {
      const now = driver.pids().get('worker-1');
      return now !== undefined && now !== pid && (await stateOf('worker-1')) !== 'down' ? true : undefined;
    });
    // Back from its restart, it is still drained: no request goes to it.
    assert.equal(await stateOf('worker-1'), 'draining');
    assert.deepEqual(await distinctAnswers(`${proxy.url}/`, 20), ['worker-2']);
    assert.equal((await post('ready')).status, 200);
    assert.equal(await stateOf('worker-1'), 'ready');
    assert.deepEqual(await distinctAnswers(`${proxy.url}/`, 20), ['worker-1', 'worker-2']);
  } finally {
    await proxy.stop();
  }
});
