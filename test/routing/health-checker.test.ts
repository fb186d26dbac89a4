import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig } from '../../src/config/load.js';
import { eventually } from '../helpers/eventually.js';
import { distinctAnswers, fetchRaw, startHttpServer, startProxy } from '../helpers/servers.js';

test('active health checks take a worker that fails them (an error, a 503, a body that never ends) out of the table and bring it back once it passes', async () => {
  let aHealthy = true;
  const a = await startHttpServer((req, res) => {
    if (req.url === '/healthz') res.statusCode = aHealthy ? 200 : 503;
    res.end(req.url === '/healthz' ? '' : 'a\n');
  });
  const b = await startHttpServer((req, res) => res.end(req.url === '/healthz' ? '' : 'b\n'));
  // Answers its check with a body that never ends: a check that waited for it would hold every round.
  const c = await startHttpServer((req, res) => {
    if (req.url !== '/healthz') return void res.end('c\n');
    const drip = setInterval(() => res.write('.'), 20);
    res.on('close', () => clearInterval(drip));
  });
  const log: string[] = [];
  const proxy = await startProxy(
    {
      driver: { kind: 'static', upstreams: [{ url: a.url, id: 'a' }, { url: b.url, id: 'b' }, { url: c.url, id: 'c' }] },
      healthCheck: { enabled: true, path: '/healthz', intervalMs: 100, timeoutMs: 100, unhealthyThreshold: 2, healthyThreshold: 2 },
    },
    log,
  );
  const state = async (id: string): Promise<string> =>
    (JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { id: string; state: string }[]).find((w) => w.id === id)!.state;
  const answers = (n: number): Promise<string[]> => distinctAnswers(`${proxy.url}/`, n);
  try {
    await eventually('c out of the table', async () => ((await state('c')) === 'unhealthy' ? true : undefined));
    assert.deepEqual(await answers(40), ['a', 'b']);

    // Failing checks (a 503): out of the table after two in a row, so no request reaches it.
    aHealthy = false;
    await eventually('a out of the table', async () => ((await state('a')) === 'unhealthy' ? true : undefined));
    assert.deepEqual(await answers(40), ['b']);
    assert.ok(log.some((l) => /^worker a failed 2 health checks in a row \(GET \/healthz\)/.test(l)), log.join('\n'));
    assert.equal(await state('b'), 'ready');

    // Passing again: back in the table.
    aHealthy = true;
    await eventually('a back in the table', async () => ((await state('a')) === 'ready' ? true : undefined));
    assert.deepEqual(await answers(40), ['a', 'b']);
    assert.ok(log.some((l) => /^worker a passed 2 health checks in a row/.test(l)), log.join('\n'));

    // A worker that stops answering at all goes out too, and requests keep succeeding meanwhile.
    await a.close();
    await eventually('a out once it is gone', async () => ((await state('a')) === 'unhealthy' ? true : undefined));
    assert.deepEqual(await answers(20), ['b']);
    const metrics = (await fetchRaw(`${proxy.adminUrl}/metrics`)).body.toString();
    assert.match(metrics, /^weighbridge_worker_state\{worker="a",address="127\.0\.0\.1:\d+",state="unhealthy"\} 1$/m);
  } finally {
    await proxy.stop();
    await b.close();
    await c.close();
    await a.close().catch(() => undefined);
  }
});

test('a worker ejected by outlier detection that passes its health checks is back before its ejection ends', async () => {
  const servers = await Promise.all(
    ['a', 'b'].map((id) =>
      startHttpServer((req, res) => {
        // a fails real requests to /boom (the ejection) but passes its checks.
        if (id === 'a' && req.url === '/boom') res.statusCode = 500;
        res.end(req.url === '/healthz' ? '' : `${id}\n`);
      }),
    ),
  );
  const log: string[] = [];
  const proxy = await startProxy(
    {
      policy: 'round-robin',
      driver: { kind: 'static', upstreams: servers.map((s, i) => ({ url: s.url, id: ['a', 'b'][i]! })) },
      outlierDetection: { consecutiveFailures: 3, baseEjectionMs: 300_000 },
      healthCheck: { enabled: true, path: '/healthz', intervalMs: 100, timeoutMs: 100, unhealthyThreshold: 2, healthyThreshold: 2 },
    },
    log,
  );
  const state = async (id: string): Promise<string> =>
    (JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { id: string; state: string }[]).find((w) => w.id === id)!.state;
  try {
    await eventually('a ejected', async () => {
      await fetchRaw(`${proxy.url}/boom`);
      return log.some((l) => /^worker a ejected for \d+ ms/.test(l)) ? true : undefined;
    });
    // Five minutes of ejection, cut short by two passed checks.
    await eventually('a back', async () => ((await state('a')) === 'ready' ? true : undefined));
    assert.ok(log.some((l) => /^worker a passed 2 health checks in a row: back in the table before its ejection ended$/.test(l)), log.join('\n'));
    assert.deepEqual(await distinctAnswers(`${proxy.url}/`, 20), ['a', 'b']);
  } finally {
    await proxy.stop();
    await Promise.all(servers.map((s) => s.close()));
  }
});

test('health checks are off by default, and a timeout above the interval is refused', () => {
  assert.equal(resolveConfig({}).healthCheck.enabled, false);
  assert.throws(() => resolveConfig({ healthCheck: { enabled: true, intervalMs: 1000, timeoutMs: 2000 } }), /healthCheck\.timeoutMs: must not exceed intervalMs/);
});
