import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { resolveConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { rateSubject } from '../../src/ingress/rate-limiter.js';
import { fetchRaw, startExampleWorkers, startProxy, stopProcesses } from '../helpers/servers.js';

/** A GET on a new connection from `localAddress` (any 127/8 address reaches the loopback listener). */
function getFrom(url: string, localAddress: string): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('limits.clientRequestsPerSecond: a client gets its burst over both threads, then 429 with Retry-After, WebSockets too; other clients are not held back; a reload lifts it', async () => {
  const workers = await startExampleWorkers(1);
  // A token every 10 s: nothing refills while the test runs.
  const limits = { clientRequestsPerSecond: 0.1, clientBurst: 3 };
  const driver = { kind: 'static' as const, upstreams: [{ url: workers[0]!.url }] };
  const proxy = await startProxy({ limits, driver });
  try {
    // New connections, so both threads take a share: the limit is the host's, not a thread's.
    const replies = [];
    for (let i = 0; i < 6; i++) replies.push(await getFrom(proxy.url, '127.0.0.1'));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 429, 429, 429]);
    for (const refused of replies.slice(3)) {
      const wait = Number(refused.retryAfter);
      assert.ok(wait >= 1 && wait <= 10, `Retry-After ${refused.retryAfter}`);
      assert.equal(refused.body, 'more than 0.1 requests a second from 127.0.0.1\n');
    }
    // Another address has a bucket of its own.
    assert.equal((await getFrom(proxy.url, '127.0.0.2')).status, 200);

    const upgrade = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.ingressPort}/`, { localAddress: '127.0.0.1' });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => (ws.close(), resolve(101)));
      ws.once('error', reject);
    });
    assert.equal(upgrade, 429);

    const status = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/status`)).body.toString()) as { requests: { rateLimited: number } };
    assert.equal(status.requests.rateLimited, 4);
    assert.match((await fetchRaw(`${proxy.adminUrl}/metrics`)).body.toString(), /^weighbridge_requests_rate_limited_total 4$/m);

    // SIGHUP's path: no limit from the next request on.
    const lifted = resolveConfig({ host: '127.0.0.1', port: 0, threads: 2, roles: ['ingress'], slowStartMs: 0, admin: { port: 0 }, driver, limits: { clientRequestsPerSecond: 0 } });
    assert.deepEqual(await proxy.reload(lifted), []);
    for (let i = 0; i < 3; i++) assert.equal((await getFrom(proxy.url, '127.0.0.1')).status, 200);
  } finally {
    await proxy.stop();
    await stopProcesses(workers);
  }
});

test('a client is limited as its IPv4 address or its IPv6 /64, whatever the text form; a rate below 0.001 is refused', () => {
  assert.equal(rateSubject('10.1.2.3'), '10.1.2.3');
  for (const form of ['2001:db8::1', '2001:0db8:0000:0000:0000:0000:0000:0002', '2001:db8:0:0:ffff::7', '2001:db8::1.2.3.4']) assert.equal(rateSubject(form), '2001:0db8:0000:0000::/64', form);
  assert.equal(rateSubject('2001:db8:0:1::1'), '2001:0db8:0000:0001::/64');
  assert.equal(rateSubject('fe80::1%eth0'), 'fe80:0000:0000:0000::/64');
  assert.equal(rateSubject('::'), '0000:0000:0000:0000::/64');
  // IPv4-mapped, as uWS writes it and as text.
  assert.equal(rateSubject('0000:0000:0000:0000:0000:ffff:0a01:0203'), '10.1.2.3');
  assert.equal(rateSubject('::ffff:10.1.2.3'), '10.1.2.3');
  // NAT64's well-known prefix, SIIT's translated form and the old compatible form are IPv4 too.
  assert.equal(rateSubject('64:ff9b::10.1.2.3'), '10.1.2.3');
  assert.equal(rateSubject('64:ff9b::a01:204'), '10.1.2.4');
  assert.equal(rateSubject('::ffff:0:10.1.2.5'), '10.1.2.5');
  assert.equal(rateSubject('::10.1.2.6'), '10.1.2.6');
  assert.equal(rateSubject('::1'), '0000:0000:0000:0000::/64');
  assert.equal(rateSubject('2001:DB8::1'), '2001:0db8:0000:0000::/64');
  assert.throws(() => resolveConfig({ limits: { clientRequestsPerSecond: 1e-9 } }), (err: unknown) => err instanceof ConfigError && err.message.includes('limits.clientRequestsPerSecond'));
  assert.equal(resolveConfig({ limits: { clientRequestsPerSecond: 0.001 } }).limits.clientRequestsPerSecond, 0.001);
});
