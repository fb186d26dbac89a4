import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { resolveConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { eventually } from '../helpers/eventually.js';
import { fetchRaw, startHttpServer, startProxy } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp-dir.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A worker that answers with the id field it got (under `header`), sets its own on /own, and greets a WebSocket with the id it got. */
async function startWorker(header: string) {
  const server = await startHttpServer((req, res) => {
    if (req.url === '/own') res.setHeader(header, 'set-by-worker');
    req.resume();
    req.on('end', () => res.end(String(req.headers[header] ?? '(none)')));
  });
  new WebSocketServer({ server: server.server }).on('connection', (ws, req) => ws.send(String(req.headers[header] ?? '(none)')));
  return server;
}

/** The id fields of a response as received (repeated ones stay apart). */
function idsOf(rawHeaders: string[], header: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === header) out.push(rawHeaders[i + 1]!);
  return out;
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; ids: string[] }> {
  return fetchRaw(url, { headers }).then((r) => ({ status: r.status, body: r.body.toString(), ids: idsOf(rawHeadersOf(r.headers), 'x-request-id') }));
}

// node's parsed headers join repeated fields with ", "; split them back for counting.
function rawHeadersOf(headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) for (const v of String(value).split(', ')) out.push(name, v);
  return out;
}

test('request ids: made when the client sent none (or one not to keep), kept when it sent one, the same for the worker, the client and the access log', async () => {
  const worker = await startWorker('x-request-id');
  const path = join(tempDir('request-id'), 'access.log');
  const proxy = await startProxy({ requestId: {}, accessLog: path, limits: { maxBodyBytes: 10 }, driver: { kind: 'static', upstreams: [{ url: worker.url, id: 'w' }] } });
  try {
    const made = await get(`${proxy.url}/a`);
    assert.match(made.body, UUID_V4, 'the worker gets a new UUID');
    assert.deepEqual(made.ids, [made.body], 'the client gets the same id back');
    const again = await get(`${proxy.url}/b`);
    assert.notEqual(again.body, made.body, 'each request gets its own');

    const kept = await get(`${proxy.url}/c`, { 'x-request-id': 'trace-01:ab+c/d=' });
    assert.equal(kept.body, 'trace-01:ab+c/d=');
    assert.deepEqual(kept.ids, ['trace-01:ab+c/d=']);
    for (const bad of ['has space', 'quote"d', 'x'.repeat(201), 'caf\u00e9-x']) {
      const replaced = await fetchRaw(`${proxy.url}/d`, { headers: { 'x-request-id': bad } });
      assert.match(replaced.body.toString(), UUID_V4, `${JSON.stringify(bad)} was kept`);
    }

    // The worker's own id field is replaced by ours, not sent beside it.
    const own = await get(`${proxy.url}/own`);
    assert.deepEqual(own.ids, [own.body]);
    assert.match(own.body, UUID_V4);

    // The ingress's own answers carry it too.
    const refused = await fetchRaw(`${proxy.url}/e`, { method: 'POST', body: Buffer.alloc(100), headers: { 'x-request-id': 'too-big-1' } });
    assert.equal(refused.status, 413);
    assert.equal(refused.headers['x-request-id'], 'too-big-1');

    // A WebSocket's worker gets one in the handshake.
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.ingressPort}/ws`, { headers: { 'x-request-id': 'socket-1' } });
    const greeting = await new Promise<string>((resolve, reject) => (ws.once('message', (d) => resolve(String(d))), ws.once('error', reject)));
    assert.equal(greeting, 'socket-1');
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.close(1000);
    await closed;

    const logged = await eventually('the access log lines', async () => {
      if (!existsSync(path)) return undefined;
      const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { target: string; requestId?: string });
      return lines.length >= 10 ? new Map(lines.map((l) => [l.target, l.requestId])) : undefined;
    });
    assert.equal(logged.get('/a'), made.body);
    assert.equal(logged.get('/c'), 'trace-01:ab+c/d=');
    assert.equal(logged.get('/e'), 'too-big-1');
    assert.equal(logged.get('/ws'), 'socket-1');
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('request ids under another name, never kept and not sent back: the worker still gets one, the client only what the worker sent', async () => {
  const worker = await startWorker('x-correlation-id');
  const proxy = await startProxy({ requestId: { header: 'X-Correlation-ID', keepIncoming: false, inResponse: false }, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    const reply = await fetchRaw(`${proxy.url}/`, { headers: { 'x-correlation-id': 'from-client' } });
    assert.match(reply.body.toString(), UUID_V4);
    assert.equal(reply.headers['x-correlation-id'], undefined);
    assert.equal((await fetchRaw(`${proxy.url}/own`)).headers['x-correlation-id'], 'set-by-worker');
  } finally {
    await proxy.stop();
    await worker.close();
  }
  assert.equal(resolveConfig({ requestId: {} }).requestId?.header, 'x-request-id');
  assert.equal(resolveConfig({}).requestId, undefined);
  // A header rule for the id field would send it twice.
  assert.throws(() => resolveConfig({ requestId: {}, headers: { request: { set: { 'X-Request-Id': 'x' } } } }), (err: unknown) => err instanceof ConfigError && err.message.includes('headers.request'));
  assert.throws(() => resolveConfig({ requestId: {}, headers: { response: { remove: ['x-request-id'] } } }), (err: unknown) => err instanceof ConfigError && err.message.includes('headers.response'));
  assert.equal(resolveConfig({ requestId: { inResponse: false }, headers: { response: { remove: ['x-request-id'] } } }).headers.response.remove[0], 'x-request-id');
  for (const header of ['x request id', 'Host', 'X-Forwarded-For', 'cookie']) {
    assert.throws(() => resolveConfig({ requestId: { header } }), (err: unknown) => err instanceof ConfigError && err.message.includes('requestId.header'), header);
  }
});
