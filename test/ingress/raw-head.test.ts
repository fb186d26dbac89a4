import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createServer, connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { test } from 'node:test';
import type { TemplatedApp } from 'uWebSockets.js';
import { WebSocket, WebSocketServer } from 'ws';
import { seededRandom } from '../../src/balancing/random.js';
import { CONTROL_BYTE, readHead, readsRawHeads, remoteAddress, requestLine } from '../../src/ingress/raw-head.js';
import { sendRaw } from '../helpers/raw-http.js';
import { startHttpServer, startProxy } from '../helpers/servers.js';
import { selfSignedCert } from '../helpers/tls.js';

type UWS = typeof import('uWebSockets.js');
const uWS = createRequire(import.meta.url)('uWebSockets.js') as UWS;

interface Seen {
  method: string;
  target: string;
  fields: [string, string][];
  refused: string;
  /** What uWS.js's own methods gave for the same request. */
  uws: { method: string; target: string; fields: [string, string][] };
}

/** A uWS.js App on an ephemeral port whose handler reads each head both ways and answers 200. */
async function startReader(): Promise<{ port: number; seen: Seen[]; close(): void }> {
  const seen: Seen[] = [];
  const app = uWS.App().any('/*', (res, req) => {
    const fields: [string, string][] = [];
    const refused = readHead(req, (name, value) => fields.push([name, value]));
    const uwsFields: [string, string][] = [];
    req.forEach((name, value) => uwsFields.push([name, value]));
    const query = req.getQuery();
    const uws = { method: req.getCaseSensitiveMethod(), target: query ? `${req.getUrl()}?${query}` : req.getUrl(), fields: uwsFields };
    seen.push({ method: requestLine.method, target: requestLine.target, fields, refused, uws });
    res.end('ok');
  });
  const port = await new Promise<number>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (socket) => (socket ? resolve(uWS.us_socket_local_port(socket)) : reject(new Error('cannot listen')))),
  );
  return { port, seen, close: () => app.close() };
}

const TOKEN = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-';
const VISIBLE = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');

test('readHead is the addon: built by npm ci, for the uWS.js version installed', () => {
  assert.equal(readsRawHeads, true, 'native/peer-cache/build/Release/request_head.node should be built and match uWebSockets.js');
});

test('readHead: differential against uWS.js on random ASCII heads (where uWS.js reads them right)', async () => {
  const reader = await startReader();
  try {
    const random = seededRandom(7);
    const pick = (alphabet: string, n: number): string => Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    for (let r = 0; r < 200; r++) {
      const method = ['GET', 'POST', 'DELETE', 'PATCH', 'PUT'][r % 5]!;
      const target = `/${pick('abcXYZ019-._~%/', Math.floor(random() * 40))}${random() < 0.5 ? `?${pick('a=1&b=%20x', 1 + Math.floor(random() * 30))}` : ''}`;
      const fields: [string, string][] = [['Host', 'example.test']];
      const count = Math.floor(random() * 30);
      for (let i = 0; i < count; i++) {
        // Values with inner spaces and tabs, and padding around them that is not part of the value.
        const inner = pick(VISIBLE, 1 + Math.floor(random() * 60)) + (random() < 0.3 ? ` \t${pick(VISIBLE, 5)}` : '');
        fields.push([`X-${pick(TOKEN, 1 + Math.floor(random() * 20))}`, `${random() < 0.3 ? ' \t ' : ''}${inner}${random() < 0.3 ? ' \t' : ''}`]);
      }
      const head = `${method} ${target} HTTP/1.1\r\n${fields.map(([n, v]) => `${n}:${random() < 0.5 ? ' ' : ''}${v}\r\n`).join('')}\r\n`;
      const { response } = await sendRaw(reader.port, head, 300);
      assert.match(response, /^HTTP\/1\.1 200/, `request ${r} answered`);
    }
    assert.equal(reader.seen.length, 200);
    for (const s of reader.seen) {
      assert.equal(s.refused, '');
      assert.equal(s.method, s.uws.method);
      assert.equal(s.target, s.uws.target);
      assert.deepEqual(s.fields, s.uws.fields);
    }
  } finally {
    reader.close();
  }
});

test('readHead: bytes above 0x7f in values and the target come as received, where uWS.js trims or replaces them', async () => {
  const reader = await startReader();
  try {
    const cases: [string, string][] = [
      ['caf\xc3\xa9', 'caf\xc3\xa9'], // UTF-8 "café": uWS.js keeps "caf"
      ['\xc3\x9cnal', '\xc3\x9cnal'], // UTF-8 "Ünal": uWS.js keeps "nal"
      ['a\x80b', 'a\x80b'], // not UTF-8: uWS.js gives "a\uFFFDb"
      ['  \xe9 \xff  ', '\xe9 \xff'], // padding is spaces and tabs only
      ['\xe9', '\xe9'],
    ];
    for (const [sent] of cases) {
      const { response } = await sendRaw(reader.port, Buffer.from(`GET /caf\xe9?q=\xff HTTP/1.1\r\nHost: t\r\nX-Value:${sent}\r\nX-After: 1\r\n\r\n`, 'latin1'), 300);
      assert.match(response, /^HTTP\/1\.1 200/);
    }
    assert.equal(reader.seen.length, cases.length);
    cases.forEach(([, expected], i) => {
      const s = reader.seen[i]!;
      assert.equal(s.target, '/caf\xe9?q=\xff');
      assert.deepEqual(s.fields, [['host', 't'], ['x-value', expected], ['x-after', '1']]);
    });
    // The fault worked around, so that this test fails if a uWS.js upgrade stops having it.
    assert.equal(reader.seen[0]!.uws.fields[1]![1], 'caf');
  } finally {
    reader.close();
  }
});

test('readHead: a control byte in a value is refused, with the request line still read', async () => {
  const reader = await startReader();
  try {
    await sendRaw(reader.port, 'GET /del HTTP/1.1\r\nHost: t\r\nX-Bad: a\x7fb\r\n\r\n', 300);
    assert.equal(reader.seen.length, 1);
    assert.equal(reader.seen[0]!.refused, CONTROL_BYTE);
    assert.equal(reader.seen[0]!.method, 'GET');
    assert.equal(reader.seen[0]!.target, '/del');
  } finally {
    reader.close();
  }
});

/** A worker that records each request head's bytes and answers 200 with an empty body. */
async function startRawWorker(): Promise<{ url: string; heads: Buffer[]; close(): Promise<void> }> {
  const heads: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        heads.push(buffered.subarray(0, end + 4));
        buffered = buffered.subarray(end + 4);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
      }
    });
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    heads,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

test('proxy: non-ASCII bytes in the target and field values reach the worker byte-exact; a DEL in a value gets 400 and the ingress keeps serving', async () => {
  const worker = await startRawWorker();
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    const sent = Buffer.from('GET /caf\xc3\xa9?q=\xff HTTP/1.1\r\nHost: t\r\nX-Name: Jos\xc3\xa9\r\nX-Raw: \xe9 \xff\r\n\r\n', 'latin1');
    const { response } = await sendRaw(proxy.ingressPort, sent, 500);
    assert.match(response, /^HTTP\/1\.1 200/);
    const head = worker.heads.at(-1)!.toString('latin1');
    assert.ok(head.startsWith('GET /caf\xc3\xa9?q=\xff HTTP/1.1\r\n'), head);
    assert.ok(head.includes('\r\nx-name: Jos\xc3\xa9\r\n'), head);
    assert.ok(head.includes('\r\nx-raw: \xe9 \xff\r\n'), head);

    const before = worker.heads.length;
    const refused = await sendRaw(proxy.ingressPort, 'GET / HTTP/1.1\r\nHost: t\r\nX-Bad: a\x7fb\r\n\r\n', 500);
    assert.match(refused.response, /^HTTP\/1\.1 400/);
    assert.match(refused.response, /control character/);
    assert.equal(worker.heads.length, before, 'the refused request never reached the worker');
    assert.match((await sendRaw(proxy.ingressPort, 'GET /after HTTP/1.1\r\nHost: t\r\n\r\n', 500)).response, /^HTTP\/1\.1 200/);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('proxy: a WebSocket handshake passes non-ASCII field values to the worker byte-exact, and one with a control character gets 400', async () => {
  const worker = await startHttpServer((_req, res) => res.end());
  const handshakes: string[][] = [];
  new WebSocketServer({ server: worker.server }).on('connection', (ws, req) => {
    // Node's HTTP parser gives field values as Latin-1: a character per byte.
    handshakes.push(req.rawHeaders);
    ws.send('hi');
  });
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.ingressPort}/`, { headers: { 'X-Name': Buffer.from('José').toString('latin1') } });
    await new Promise((resolve, reject) => (ws.once('message', resolve), ws.once('error', reject)));
    ws.close();
    const raw = handshakes[0]!;
    assert.equal(raw[raw.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === 'x-name') + 1], 'Jos\xc3\xa9');
    // A DEL in a value is refused before any worker sees the upgrade.
    const refused = await sendRaw(proxy.ingressPort, 'GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Bad: a\x7fb\r\n\r\n', 500);
    assert.match(refused.response, /^HTTP\/1\.1 400 /);
    assert.match(refused.response, /control character/);
    assert.equal(handshakes.length, 1);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('remoteAddress gives the bytes getRemoteAddress gives, from the addon, for IPv4 and IPv6 clients over HTTP and HTTPS', async () => {
  const { cert, key } = selfSignedCert();
  const apps = { http: uWS.App(), https: uWS.SSLApp({ cert_file_name: cert, key_file_name: key }) };
  const seen: { addon: number[]; uws: number[]; scratch: ArrayBufferLike }[] = [];
  for (const app of Object.values(apps)) {
    app.any('/*', (res) => {
      const view = remoteAddress(res);
      seen.push({ addon: [...view], uws: [...new Uint8Array(res.getRemoteAddress())], scratch: view.buffer });
      res.end('ok');
    });
  }
  const listen = (app: TemplatedApp, host: string): Promise<number> =>
    new Promise((resolve, reject) => app.listen(host, 0, (socket) => (socket ? resolve(uWS.us_socket_local_port(socket)) : reject(new Error(`cannot listen on ${host}`)))));
  const ports = { http4: await listen(apps.http, '127.0.0.1'), http6: await listen(apps.http, '::1'), https4: await listen(apps.https, '127.0.0.1') };
  const ask = (socket: Socket): Promise<string> =>
    new Promise((resolve, reject) => {
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1'))).on('end', () => resolve(text)).on('error', reject);
      socket.write('GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    });
  try {
    for (const [open, ready] of [
      [() => connectTcp(ports.http4, '127.0.0.1'), 'connect'],
      [() => connectTcp(ports.http6, '::1'), 'connect'],
      [() => connectTls({ port: ports.https4, host: '127.0.0.1', rejectUnauthorized: false }), 'secureConnect'],
    ] as const) {
      const socket = open();
      await new Promise((resolve) => socket.once(ready, resolve));
      assert.match(await ask(socket), /^HTTP\/1\.1 200/);
    }
    assert.equal(seen.length, 3);
    assert.deepEqual(seen[0]!.addon, [127, 0, 0, 1]);
    assert.deepEqual(seen[1]!.addon, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    for (const s of seen) assert.deepEqual(s.addon, s.uws);
    // Read into the addon's scratch bytes each time, not through a new ArrayBuffer from uWS.js.
    assert.ok(seen.every((s) => s.scratch === seen[0]!.scratch));
  } finally {
    apps.http.close();
    apps.https.close();
  }
});
