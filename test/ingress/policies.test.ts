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
