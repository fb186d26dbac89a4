import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { installPeerCache, peerCacheStatus } from '../../src/ingress/peer-cache.js';
import { fetchRaw, startHttpServer, startProxy } from '../helpers/servers.js';
import { selfSignedCert } from '../helpers/tls.js';

/** One keep-alive connection from `localAddress`: the X-Forwarded-For its worker saw, per request. */
async function forwardedFor(port: number, host: string, localAddress: string, requests: number): Promise<string[]> {
  const socket: Socket = connect({ host, port, localAddress });
  await new Promise<void>((resolve, reject) => (socket.once('connect', resolve), socket.once('error', reject)));
  let buffered = '';
  const seen: string[] = [];
  try {
    for (let i = 0; i < requests; i++) {
      socket.write(`GET /${i} HTTP/1.1\r\nHost: t\r\n\r\n`);
      // The worker answers with the field's value as a sized body of at most 99 bytes.
      const body = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer): void => {
          buffered += chunk.toString('latin1');
          const headEnd = buffered.indexOf('\r\n\r\n') + 4;
          const length = Number(/\r\ncontent-length: (\d+)/i.exec(buffered.slice(0, headEnd))?.[1]);
          if (headEnd < 4 || buffered.length < headEnd + length) return;
          socket.off('data', onData);
          resolve(buffered.slice(headEnd, headEnd + length));
          buffered = buffered.slice(headEnd + length);
        };
        socket.on('data', onData);
        socket.once('close', () => reject(new Error(`closed after ${seen.length} answers: ${JSON.stringify(buffered)}`)));
      });
      seen.push(body);
    }
  } finally {
    socket.destroy();
  }
  return seen;
}

test('the client-address cache: X-Forwarded-For names each connection\'s own address while connections from other addresses take over its descriptor', async () => {
  const state = installPeerCache();
  // On the machines the README's test command sets up, the addon is built; off is a failure here.
  assert.deepEqual(state, { active: true, reason: '' });
  const worker = await startHttpServer((req, res) => res.end(req.headers['x-forwarded-for']));
  const cert = selfSignedCert();
  const v4 = await startProxy({ driver: { kind: 'static', upstreams: [{ url: worker.url }] }, tls: { port: 0, certFile: cert.cert, keyFile: cert.key } });
  const v6 = await startProxy({ host: '::1', threads: 1, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    const before = peerCacheStatus();
    // Four chains of connections, one after another in each: each connection asks twice and
    // closes, so the next one (from another address) is likely to get the same descriptor.
    const chains = await Promise.all(
      [0, 1, 2, 3].map(async (chain) => {
        const wrong: string[] = [];
        for (let i = 0; i < 40; i++) {
          const address = `127.0.${chain}.${10 + i}`;
          for (const got of await forwardedFor(v4.ingressPort, '127.0.0.1', address, 2)) if (got !== address) wrong.push(`${address} seen as ${got}`);
        }
        return wrong;
      }),
    );
    assert.deepEqual(chains.flat(), []);
    assert.deepEqual(await forwardedFor(v6.ingressPort, '::1', '::1', 2), Array(2).fill('0000:0000:0000:0000:0000:0000:0000:0001'));
    // HTTPS listeners accept through the same call.
    for (const address of ['127.0.9.1', '127.0.9.2']) {
      const body = await new Promise<string>((resolve, reject) => {
        httpsGet({ host: '127.0.0.1', port: v4.dataPlane!.ingressTlsPort!, localAddress: address, rejectUnauthorized: false, agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      assert.equal(body, address);
    }
    const after = peerCacheStatus();
    // Every request above asked for its client's address once, and the cache answered each.
    assert.ok(after.hits - before.hits >= 4 * 40 * 2 + 2 + 2, `${after.hits - before.hits} answers from the cache`);
    assert.equal(after.misses - before.misses, 0);
    const status = JSON.parse((await fetchRaw(`${v4.adminUrl}/api/status`)).body.toString()) as { ingress: { clientAddressCache: { active: boolean; hits: number } } };
    assert.equal(status.ingress.clientAddressCache.active, true);
    assert.ok(status.ingress.clientAddressCache.hits >= after.hits);
  } finally {
    await v6.stop();
    await v4.stop();
    await worker.close();
  }
});

test('the client-address cache stays off, with the reason, where it cannot find the uWebSockets.js binary', () => {
  const addon = fileURLToPath(new URL('../../../native/peer-cache/build/Release/peer_cache.node', import.meta.url));
  const out = execFileSync(process.execPath, ['-e', `const a = require(${JSON.stringify(addon)}); console.log(JSON.stringify([a.install('/nowhere/uws.node'), a.install('/nowhere/uws.node'), a.counters()]))`], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), ['the uWebSockets.js binary is not loaded', 'the uWebSockets.js binary is not loaded', [0, 0, 0]]);
});
