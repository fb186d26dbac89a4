import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetchRaw, startHttpServer, startProxy } from '../helpers/servers.js';

/** Sends `total` GETs over `concurrency` parallel loops; returns how many each body got. */
async function spread(url: string, total: number, concurrency: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let sent = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        sent++;
        const reply = await fetchRaw(`${url}/`);
        assert.equal(reply.status, 200);
        const body = reply.body.toString();
        counts[body] = (counts[body] ?? 0) + 1;
      }
    }),
  );
  return counts;
}

for (const policy of ['least-connections', 'p2c-peak-ewma', 'weighted-p2c'] as const) {
  test(`${policy} in the ingress: a worker that answers slowly gets little of the traffic`, async () => {
    const fast = await startHttpServer((_req, res) => res.end('fast'));
    const slow = await startHttpServer((_req, res) => void setTimeout(() => res.end('slow'), 40));
    const proxy = await startProxy({ policy, threads: 1, driver: { kind: 'static', upstreams: [{ url: fast.url }, { url: slow.url }] } });
    try {
      const counts = await spread(proxy.url, 400, 16);
      // Weighted random over these equal weights would send half to each.
      assert.ok((counts.fast ?? 0) > 0.75 * 400, `fast ${counts.fast}, slow ${counts.slow}`);
    } finally {
      await proxy.stop();
      await fast.close();
      await slow.close();
    }
  });
}

test('smooth weighted round robin in the ingress: weights 3:1 give exactly 3:1 over whole cycles', async () => {
  const a = await startHttpServer((_req, res) => res.end('a'));
  const b = await startHttpServer((_req, res) => res.end('b'));
  const proxy = await startProxy({ policy: 'smooth-weighted-round-robin', threads: 1, driver: { kind: 'static', upstreams: [{ url: a.url, weight: 3 }, { url: b.url, weight: 1 }] } });
  try {
    const counts = await spread(proxy.url, 40, 1);
    assert.deepEqual(counts, { a: 30, b: 10 });
  } finally {
    await proxy.stop();
    await a.close();
    await b.close();
  }
});

test('clients giving up on a slow worker neither eject it nor count as its errors', async () => {
  const slow = await startHttpServer((_req, res) => void setTimeout(() => res.end('late'), 2_000));
  const proxy = await startProxy({ threads: 1, outlierDetection: { consecutiveFailures: 2, baseEjectionMs: 60_000 }, driver: { kind: 'static', upstreams: [{ url: slow.url }] } });
  try {
    for (let i = 0; i < 6; i++) {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      await fetch(`${proxy.url}/`, { signal: controller.signal }).catch(() => undefined);
    }
    // Outlier detection runs five times a second; give it a few rounds to act wrongly.
    await new Promise((r) => setTimeout(r, 600));
    const [worker] = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { state: string; errors: number; inflight: number }[];
    assert.deepEqual([worker!.state, worker!.errors, worker!.inflight], ['ready', 0, 0]);
  } finally {
    await proxy.stop();
    await slow.close();
  }
});

test('outlier detection: a worker answering 5xx is ejected within a second and readmitted later', async () => {
  const good = await startHttpServer((_req, res) => res.end('good'));
  let broken = true;
  const bad = await startHttpServer((_req, res) => {
    res.statusCode = broken ? 503 : 200;
    res.end('bad');
  });
  const log: string[] = [];
  const proxy = await startProxy(
    { threads: 1, outlierDetection: { consecutiveFailures: 3, baseEjectionMs: 1_500 }, driver: { kind: 'static', upstreams: [{ url: good.url }, { url: bad.url }] } },
    log,
  );
  try {
    const badId = `127.0.0.1:${bad.port}`;
    let failures = 0;
    for (let i = 0; i < 40 && failures < 3; i++) if ((await fetchRaw(`${proxy.url}/`)).status === 503) failures++;
    assert.equal(failures, 3);
    const ejectedAt = Date.now();
    const stateOf = async (): Promise<string> =>
      (JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { id: string; state: string }[]).find((x) => x.id === badId)!.state;
    // Checked five times a second; the deadline only keeps a broken build from hanging here.
    while ((await stateOf()) !== 'ejected') {
      assert.ok(Date.now() - ejectedAt < 10_000, 'never ejected');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(log.some((l) => l.includes(`worker ${badId} ejected for 1500 ms after 3 failures in a row`)), log.join('\n'));
    for (let i = 0; i < 50; i++) assert.equal((await fetchRaw(`${proxy.url}/`)).body.toString(), 'good');
    broken = false;
    const fixedAt = Date.now();
    while ((await stateOf()) !== 'ready') {
      assert.ok(Date.now() - fixedAt < 10_000, 'never readmitted');
      await new Promise((r) => setTimeout(r, 50));
    }
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) seen.add((await fetchRaw(`${proxy.url}/`)).body.toString());
    assert.deepEqual([...seen].sort(), ['bad', 'good']);
  } finally {
    await proxy.stop();
    await good.close();
    await bad.close();
  }
});
