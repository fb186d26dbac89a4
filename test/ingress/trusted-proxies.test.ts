import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { resolveConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { parseNetwork } from '../../src/ingress/address-set.js';
import { forwarding, hopAddress, isForwardingField, trustedPeer, TrustedProxies } from '../../src/ingress/trusted-proxies.js';
import { eventually } from '../helpers/eventually.js';
import { startHttpServer, startProxy } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp-dir.js';

test('parseNetwork takes addresses and networks of either family, and nothing else', () => {
  assert.deepEqual(parseNetwork('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.deepEqual(parseNetwork('127.0.0.2'), { address: '127.0.0.2', prefix: 32, family: 'ipv4' });
  assert.deepEqual(parseNetwork('fd00::/8'), { address: 'fd00::', prefix: 8, family: 'ipv6' });
  for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0.0/', '10.0.0.0/x', 'example.com', '10.0.0', '']) assert.equal(parseNetwork(bad), null, bad);
});

test('the client behind trusted proxies is the nearest untrusted hop of X-Forwarded-For', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8', '127.0.0.2', 'fd00::/8']);
  assert.equal(trusted.clientBehind('127.0.0.2', '203.0.113.7, 10.1.1.1'), '203.0.113.7');
  // What the client wrote itself, left of the first untrusted hop, is not believed.
  assert.equal(trusted.clientBehind('127.0.0.2', '198.51.100.1, 203.0.113.7'), '203.0.113.7');
  assert.equal(trusted.clientBehind('127.0.0.2', ''), '127.0.0.2');
  assert.equal(trusted.clientBehind('127.0.0.2', '10.0.0.1,10.0.0.2'), '10.0.0.1');
  assert.equal(trusted.clientBehind('127.0.0.2', 'unknown, 10.0.0.5'), '10.0.0.5');
  assert.equal(trusted.clientBehind('127.0.0.2', ' 2001:db8::1 , fd00::5'), '2001:db8::1');
  // Ports and brackets some proxies add are not part of the address.
  assert.equal(trusted.clientBehind('127.0.0.2', '203.0.113.7:5678'), '203.0.113.7');
  assert.equal(trusted.clientBehind('127.0.0.2', '[2001:db8::1]:443, [fd00::5]'), '2001:db8::1');
  assert.equal(hopAddress('unknown'), '');
  assert.equal(hopAddress('1.2.3.4:99999999'), '');
  assert.equal(hopAddress('[not-an-address]'), '');
  // uWS writes IPv6 peers as eight groups of four digits; IPv4-mapped ones match IPv4 networks.
  assert.equal(trusted.has('fd00:0000:0000:0000:0000:0000:0000:0001'), true);
  assert.equal(trusted.has('0000:0000:0000:0000:0000:ffff:0a00:0001'), true);
  assert.equal(trusted.has('127.0.0.1'), false);
  assert.equal(trusted.has('not an address'), false);

  assert.equal(trustedPeer(trusted, '127.0.0.1'), null);
  assert.equal(trustedPeer(trusted, '127.0.0.2'), trusted);
  assert.equal(trustedPeer(null, '127.0.0.2'), null);
  assert.deepEqual(forwarding(trustedPeer(trusted, '127.0.0.1'), '127.0.0.1', 'http', '203.0.113.9', 'https', 'shop.example', 'a.test'), { client: '127.0.0.1', forwardedFor: '203.0.113.9, 127.0.0.1', proto: 'http', host: 'a.test' });
  assert.deepEqual(forwarding(trusted, '127.0.0.2', 'http', '203.0.113.9', 'https', 'shop.example', 'a.test'), { client: '203.0.113.9', forwardedFor: '203.0.113.9, 127.0.0.2', proto: 'https', host: 'shop.example' });
  assert.deepEqual(forwarding(trusted, '127.0.0.2', 'https', '', 'gopher', '', 'a.test'), { client: '127.0.0.2', forwardedFor: '127.0.0.2', proto: 'https', host: 'a.test' });
  assert.deepEqual(forwarding(null, '127.0.0.2', 'http', '', 'https', 'x', ''), { client: '127.0.0.2', forwardedFor: '127.0.0.2', proto: 'http', host: '' });
});

test('forwarding fields a worker may believe are told from the rest', () => {
  const forwardingNames = ['forwarded', 'x-real-ip', 'client-ip', 'x-client-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-cluster-client-ip', 'x-original-forwarded-for'];
  const xForwarded = ['x-forwarded-for', 'x-forwarded-by', 'x-forwarded-port', 'x-forwarded-proto', 'x-forwarded-prefix', 'x-forwarded-server', 'x-forwarded-ssl', 'x-forwarded-uri', 'x-forwarded-client-cert', 'x-forwarded-tls-client-cert-info'];
  for (const name of [...forwardingNames, ...xForwarded]) assert.equal(isForwardingField(name), true, name);
  for (const name of ['host', 'cookie', 'x-forwarded', 'x-forwarded-', 'forwarded-for', 'x-real-ipx', 'xclient-ip', 'true-client-id', 'cf-connecting-ipv6', 'accept-encoding', 'content-security-policy', 'x-request-id', '']) {
    assert.equal(isForwardingField(name), false, name);
  }
});

/** A GET from `localAddress` with `headers`; the worker's echo of what it got. */
function getFrom(url: string, localAddress: string, headers: Record<string, string>): Promise<{ status: number; seen: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, seen: res.statusCode === 200 ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, string>) : {} }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('trustedProxies: a trusted peer\'s X-Forwarded-* stand and name the client for the rate limit and the log; an untrusted peer\'s do not', async () => {
  const worker = await startHttpServer((req, res) => res.end(JSON.stringify(req.headers)));
  const handshakes: Record<string, string | string[] | undefined>[] = [];
  new WebSocketServer({ server: worker.server }).on('connection', (socket, req) => {
    handshakes.push(req.headers);
    socket.send('hi');
  });
  const path = join(tempDir('trusted'), 'access.log');
  const proxy = await startProxy({
    trustedProxies: ['127.0.0.2'],
    accessLog: path,
    limits: { clientRequestsPerSecond: 0.1, clientBurst: 1 },
    driver: { kind: 'static', upstreams: [{ url: worker.url }] },
  });
  try {
    // Fields a worker may believe beside X-Forwarded-For, -Proto and -Host: a trusted proxy's stand.
    const forwardingFields = { forwarded: 'for=203.0.113.7;proto=https;host=shop.example', 'x-real-ip': '203.0.113.7', 'x-forwarded-port': '443', 'x-forwarded-prefix': '/shop', 'true-client-ip': '203.0.113.7' };
    const viaProxy = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example', ...forwardingFields };
    const first = await getFrom(`${proxy.url}/one`, '127.0.0.2', { ...viaProxy, 'x-forwarded-for': '203.0.113.7' });
    assert.equal(first.status, 200);
    assert.equal(first.seen['x-forwarded-for'], '203.0.113.7, 127.0.0.2');
    assert.equal(first.seen['x-forwarded-proto'], 'https');
    assert.equal(first.seen['x-forwarded-host'], 'shop.example');
    for (const [name, value] of Object.entries(forwardingFields)) assert.equal(first.seen[name], value, name);
    // Clients behind the same proxy have buckets of their own.
    assert.equal((await getFrom(`${proxy.url}/two`, '127.0.0.2', { 'x-forwarded-for': '203.0.113.8' })).status, 200);
    assert.equal((await getFrom(`${proxy.url}/three`, '127.0.0.2', { 'x-forwarded-for': '203.0.113.8' })).status, 429);

    // An untrusted peer is the client, whatever it says.
    const direct = await getFrom(`${proxy.url}/four`, '127.0.0.1', { ...viaProxy, 'x-forwarded-for': '203.0.113.9' });
    assert.equal(direct.status, 200);
    assert.equal(direct.seen['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(direct.seen['x-forwarded-proto'], 'http');
    assert.match(direct.seen['x-forwarded-host']!, /^127\.0\.0\.1:\d+$/);
    for (const name of Object.keys(forwardingFields)) assert.equal(direct.seen[name], undefined, name);
    assert.equal((await getFrom(`${proxy.url}/five`, '127.0.0.1', { 'x-forwarded-for': '203.0.113.10' })).status, 429);

    // A WebSocket upgrade reads the fields as a request does: X-Forwarded-For lines joined, the last -Proto.
    const upgrade = async (target: string, localAddress: string, headers: Record<string, string | string[]>): Promise<void> => {
      const ws = new WebSocket(`ws://127.0.0.1:${proxy.ingressPort}${target}`, { localAddress, headers });
      await new Promise((resolve, reject) => (ws.once('message', resolve), ws.once('error', reject)));
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.close(1000);
      await closed;
    };
    await upgrade('/six', '127.0.0.2', { 'x-forwarded-for': ['6.6.6.6', '203.0.113.20'], 'x-forwarded-proto': ['http', 'https'], 'x-multi': ['1', '2'], ...forwardingFields });
    assert.equal(handshakes[0]?.['x-forwarded-for'], '6.6.6.6, 203.0.113.20, 127.0.0.2');
    assert.equal(handshakes[0]?.['x-forwarded-proto'], 'https');
    for (const [name, value] of Object.entries(forwardingFields)) assert.equal(handshakes[0]?.[name], value, name);
    // Other repeated lines reach the worker joined, not only the last.
    assert.equal(handshakes[0]?.['x-multi'], '1, 2');

    const clients = await eventually('six access log lines', async () => {
      if (!existsSync(path)) return undefined;
      const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { target: string; client: string });
      return lines.length >= 6 ? new Map(lines.map((l) => [l.target, l.client])) : undefined;
    });
    assert.deepEqual(Object.fromEntries(clients), { '/one': '203.0.113.7', '/two': '203.0.113.8', '/three': '203.0.113.8', '/four': '127.0.0.1', '/five': '127.0.0.1', '/six': '203.0.113.20' });

    // An untrusted peer's are dropped from its upgrade too (after the log's six lines are read; a
    // peer of its own, as 127.0.0.1 has used up its rate).
    await upgrade('/seven', '127.0.0.3', forwardingFields);
    assert.equal(handshakes[1]?.['x-forwarded-for'], '127.0.0.3');
    for (const name of Object.keys(forwardingFields)) assert.equal(handshakes[1]?.[name], undefined, name);
  } finally {
    await proxy.stop();
    await worker.close();
  }
  assert.throws(() => resolveConfig({ trustedProxies: ['10.0.0.0/8', 'lb.internal'] }), (err: unknown) => err instanceof ConfigError && err.message.includes('trustedProxies.1'));
});
