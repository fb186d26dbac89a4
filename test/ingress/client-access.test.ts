import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { resolveConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { ClientAccess } from '../../src/ingress/client-access.js';
import { fetchRaw, startExampleWorkers, startHttpServer, startProxy, stopProcesses } from '../helpers/servers.js';

test('ClientAccess: deny wins, and with an allow list only its clients pass', () => {
  const both = new ClientAccess(['127.0.0.0/30', 'fd00::/8'], ['127.0.0.2']);
  assert.equal(both.permits('127.0.0.1'), true);
  assert.equal(both.permits('127.0.0.2'), false);
  assert.equal(both.permits('127.0.0.5'), false);
  assert.equal(both.permits('fd00:0000:0000:0000:0000:0000:0000:0001'), true);
  assert.equal(both.permits('::1'), false);
  const denyOnly = new ClientAccess([], ['10.0.0.0/8']);
  assert.equal(denyOnly.permits('127.0.0.1'), true);
  assert.equal(denyOnly.permits('10.1.1.1'), false);
  assert.throws(() => resolveConfig({ access: { allow: ['10.0.0.0/8', 'office'] } }), (err: unknown) => err instanceof ConfigError && err.message.includes('access.allow.1'));
});

function getFrom(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('access: denied clients, and clients outside the allow list, get 403 and reach no worker, behind trusted proxies too; WebSocket upgrades as well', async () => {
  const workers = await startExampleWorkers(1);
  // Counts what reaches the worker: nothing of a refused client's may.
  let reached = 0;
  const counter = await startHttpServer((req, res) => {
    reached++;
    fetchRaw(`${workers[0]!.url}${req.url}`).then((r) => res.end(r.body), () => res.end());
  });
  new WebSocketServer({ server: counter.server }).on('connection', () => reached++);
  const proxy = await startProxy({
    access: { allow: ['127.0.0.0/30'], deny: ['127.0.0.2'] },
    trustedProxies: ['127.0.0.3'],
    driver: { kind: 'static', upstreams: [{ url: counter.url, id: 'w' }] },
  });
  try {
    assert.deepEqual(await getFrom(proxy.url, '127.0.0.1'), { status: 200, body: 'w1\n' });
    assert.deepEqual(await getFrom(proxy.url, '127.0.0.2'), { status: 403, body: '127.0.0.2 may not use this service\n' });
    assert.equal((await getFrom(proxy.url, '127.0.0.5')).status, 403);
    // Behind the trusted proxy, the forwarded client is the one judged.
    assert.equal((await getFrom(proxy.url, '127.0.0.3', { 'x-forwarded-for': '203.0.113.5' })).status, 403);
    assert.equal((await getFrom(proxy.url, '127.0.0.3', { 'x-forwarded-for': '127.0.0.1' })).status, 200);

    const upgrade = (localAddress: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${proxy.ingressPort}/`, { localAddress });
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => (ws.close(), resolve(101)));
        ws.once('error', reject);
      });
    assert.equal(await upgrade('127.0.0.2'), 403);
    assert.equal(await upgrade('127.0.0.1'), 101);
    // Two requests and one WebSocket were let through; three requests and one upgrade were refused.
    assert.equal(reached, 3);
    const status = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/status`)).body.toString()) as { requests: { forbidden: number } };
    assert.equal(status.requests.forbidden, 4);
    assert.match((await fetchRaw(`${proxy.adminUrl}/metrics`)).body.toString(), /^weighbridge_requests_forbidden_total 4$/m);
  } finally {
    await proxy.stop();
    await counter.close();
    await stopProcesses(workers);
  }
});
