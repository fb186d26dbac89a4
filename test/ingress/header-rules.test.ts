import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { resolveConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { startHttpServer, startProxy } from '../helpers/servers.js';

/** A GET whose response fields come back as received (repeats apart), with the body. */
function get(url: string, headers: Record<string, string>): Promise<{ raw: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ raw: res.rawHeaders, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The values of field `name` in raw headers, case-insensitively. */
const values = (raw: string[], name: string): string[] => raw.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name ? [raw[i + 1]!] : []));

test('headers: rules set and remove fields on requests to the worker (WebSocket handshakes too) and on its responses', async () => {
  const worker = await startHttpServer((req, res) => {
    res.setHeader('Server', 'worker/1.0');
    res.setHeader('X-Powered-By', 'express');
    res.setHeader('X-Frame-Options', 'SAMEORIGIN');
    res.setHeader('X-Keep', '1');
    res.end(JSON.stringify(req.headers));
  });
  const handshakes: Record<string, string | string[] | undefined>[] = [];
  new WebSocketServer({ server: worker.server }).on('connection', (ws, req) => {
    handshakes.push(req.headers);
    ws.send('hi');
  });
  const proxy = await startProxy({
    headers: {
      request: { set: { 'X-Env': 'prod', 'X-Debug-Level': '0' }, remove: ['X-Debug', 'Cookie'] },
      response: { set: { 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-store, private' }, remove: ['Server', 'X-Powered-By'] },
    },
    driver: { kind: 'static', upstreams: [{ url: worker.url }] },
  });
  try {
    const reply = await get(`${proxy.url}/`, { 'X-Debug': '1', 'X-Env': 'dev', Cookie: 'a=1', 'X-Other': 'kept' });
    const seen = JSON.parse(reply.body) as Record<string, string>;
    assert.equal(seen['x-env'], 'prod', 'set replaces what the client sent');
    assert.equal(seen['x-debug-level'], '0');
    assert.equal(seen['x-debug'], undefined);
    assert.equal(seen.cookie, undefined);
    assert.equal(seen['x-other'], 'kept');

    assert.deepEqual(values(reply.raw, 'x-frame-options'), ['DENY'], 'set replaces what the worker sent');
    assert.deepEqual(values(reply.raw, 'cache-control'), ['no-store, private']);
    assert.deepEqual(values(reply.raw, 'server'), []);
    assert.deepEqual(values(reply.raw, 'x-powered-by'), []);
    assert.deepEqual(values(reply.raw, 'x-keep'), ['1']);

    const ws = new WebSocket(`ws://127.0.0.1:${proxy.ingressPort}/`, { headers: { 'X-Debug': '1', 'X-Env': 'dev' } });
    await new Promise((resolve, reject) => (ws.once('message', resolve), ws.once('error', reject)));
    ws.close();
    assert.equal(handshakes[0]?.['x-env'], 'prod');
    assert.equal(handshakes[0]?.['x-debug'], undefined);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test("headers.response: the ingress's own answers get the fields set too, except a Content-Type", async () => {
  const worker = await startHttpServer((_req, res) => res.end('ok'));
  const proxy = await startProxy({
    threads: 1,
    limits: { maxHeaderBytes: 4096 },
    headers: { request: { set: {}, remove: [] }, response: { set: { 'X-Frame-Options': 'DENY', 'Content-Type': 'application/json' }, remove: [] } },
    driver: { kind: 'static', upstreams: [{ url: worker.url }] },
  });
  try {
    const refused = await get(`${proxy.url}/`, { 'X-Big': 'a'.repeat(5000) });
    assert.match(refused.body, /request head exceeds 4096 bytes/);
    assert.deepEqual(values(refused.raw, 'x-frame-options'), ['DENY']);
    assert.deepEqual(values(refused.raw, 'content-type'), ['text/plain; charset=utf-8']);
    const proxied = await get(`${proxy.url}/`, {});
    assert.equal(proxied.body, 'ok');
    assert.deepEqual(values(proxied.raw, 'content-type'), ['application/json']);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('headers: a name the proxy frames or forwards itself, a bad name or a value that could end a line is one error naming the field', () => {
  const refused = (headers: object, field: string): void =>
    assert.throws(() => resolveConfig({ headers }), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`config: ${field}:`), field);
  refused({ request: { set: { Host: 'x' } } }, 'headers.request.set.Host');
  refused({ request: { remove: ['X-Forwarded-For'] } }, 'headers.request.remove.0');
  refused({ response: { remove: ['Transfer-Encoding'] } }, 'headers.response.remove.0');
  refused({ response: { set: { 'X A': 'b' } } }, 'headers.response.set.X A');
  refused({ response: { set: { 'X-A': 'b\r\nX-Injected: 1' } } }, 'headers.response.set.X-A');
  refused({ response: { set: { 'X-A': ' padded' } } }, 'headers.response.set.X-A');
  assert.deepEqual(resolveConfig({ headers: { response: { set: { 'X-Frame-Options': 'DENY' } } } }).headers.response, { set: { 'x-frame-options': 'DENY' }, remove: [] });
});
