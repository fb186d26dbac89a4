import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import test from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { UpstreamWebSocket, parseSubprotocols, type UpstreamWebSocketEvents } from '../../src/upstream/websocket-client.js';

const OPTIONS = { connectMs: 2000, idleMs: 300, maxMessageBytes: 4 << 20, maxRefusalBytes: 1024 };

type Seen = { open?: string; refused?: [number, string, string[], string | null]; messages: [string, boolean][]; pongs: number; close?: [number, string]; error?: string };

/** A client to 127.0.0.1:port whose events are recorded; `settled` resolves at the first of open, refused, error. */
function connect(port: number, protocols: string[] = [], fields = '', options = OPTIONS, onMessage?: (data: Buffer) => void) {
  const seen: Seen = { messages: [], pongs: 0 };
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => (settle = resolve));
  let closed: () => void = () => {};
  const closes = new Promise<void>((resolve) => (closed = resolve));
  const events: UpstreamWebSocketEvents = {
    onOpen: (protocol) => ((seen.open = protocol), settle()),
    onRefused: (status, reason, f, body) => ((seen.refused = [status, reason, f, body === null ? null : body.toString()]), settle()),
    onMessage: (data, isBinary) => (seen.messages.push([data.toString(), isBinary]), onMessage?.(data)),
    onPong: () => seen.pongs++,
    onClose: (code, reason) => ((seen.close = [code, reason.toString()]), closed()),
    onError: (err) => ((seen.error = err.message), settle()),
  };
  const client = new UpstreamWebSocket('127.0.0.1', port, '/path?q=1', protocols, fields, options, events);
  return { client, seen, settled, closes };
}

async function wsServer(): Promise<{ port: number; server: WebSocketServer; next: () => Promise<[WebSocket, string[]]> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has('b') ? 'b' : false) });
  await new Promise((resolve) => server.once('listening', resolve));
  const queue: [WebSocket, string[]][] = [];
  let waiter: ((v: [WebSocket, string[]]) => void) | null = null;
  server.on('connection', (socket, req) => {
    const item: [WebSocket, string[]] = [socket, [req.url ?? '', req.headers['x-extra'] as string, req.headers.host ?? '']];
    if (waiter) waiter(item);
    else queue.push(item);
  });
  const next = (): Promise<[WebSocket, string[]]> => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => (waiter = resolve)));
  return { port: (server.address() as net.AddressInfo).port, server, next };
}

/** A raw TCP server that answers each connection with `answer(key)` and then does `then`. */
async function rawServer(answer: (key: string) => string | Buffer, then: (socket: net.Socket) => void = () => {}): Promise<{ port: number; close: () => void; received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = net.createServer((socket) => {
    let head = '';
    socket.on('data', (d) => {
      if (head.includes('\r\n\r\n')) return void received.push(d);
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: (\S+)/i.exec(head)?.[1] ?? '';
      socket.write(answer(key));
      then(socket);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close(), received };
}

const acceptOf = (key: string): string => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
const switching = (key: string, extra = ''): string => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptOf(key)}\r\n${extra}\r\n`;

test('parseSubprotocols: a list of tokens, each once; anything else is refused', () => {
  assert.deepEqual(parseSubprotocols(''), []);
  assert.deepEqual(parseSubprotocols(' chat, superchat '), ['chat', 'superchat']);
  assert.throws(() => parseSubprotocols('a, a'), /listed twice/);
  assert.throws(() => parseSubprotocols('a b'), /invalid subprotocol/);
  assert.throws(() => parseSubprotocols('a,,b'), /invalid subprotocol/);
});

test('against ws: the handshake with fields and subprotocol, messages both ways, pings both ways, and the worker\'s close', async () => {
  const { port, server, next } = await wsServer();
  try {
    const { client, seen, settled, closes } = connect(port, ['a', 'b'], 'x-extra: yes\r\n');
    await settled;
    assert.equal(seen.open, 'b');
    const [socket, [url, extra, host]] = await next();
    assert.deepEqual([url, extra, host], ['/path?q=1', 'yes', `127.0.0.1:${port}`]);
    const big = Buffer.alloc(3 << 20, 7);
    const got: [string, boolean][] = [];
    socket.on('message', (data: Buffer, isBinary) => got.push([isBinary ? `${data.length} bytes` : data.toString(), isBinary]));
    client.send(Buffer.from('hello'), false);
    client.send(big, true);
    socket.send('from the worker');
    socket.send(big);
    const pinged = new Promise((resolve) => socket.once('pong', resolve));
    socket.ping();
    await pinged;
    client.ping();
    while (got.length < 2 || seen.messages.length < 2 || seen.pongs < 1) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got, [['hello', false], [`${3 << 20} bytes`, true]]);
    assert.deepEqual(seen.messages[0], ['from the worker', false]);
    assert.equal(seen.messages[1]![0].length, 3 << 20);
    socket.close(4000, 'done');
    await closes;
    assert.deepEqual(seen.close, [4000, 'done']);
  } finally {
    server.close();
  }
});

test('against ws: the owner\'s close reaches the worker with its code and reason, and no event follows it', async () => {
  const { port, server, next } = await wsServer();
  try {
    const { client, seen, settled } = connect(port);
    await settled;
    const [socket] = await next();
    const closed = new Promise<[number, string]>((resolve) => socket.once('close', (code, reason) => resolve([code, reason.toString()])));
    client.close(4100, Buffer.from('owner'));
    assert.deepEqual(await closed, [4100, 'owner']);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.close, undefined);
  } finally {
    server.close();
  }
});

test('a worker that drops the connection is a 1006; one that sends a masked frame is failed with 1002 and reported as 1014', async () => {
  const dropping = await rawServer((key) => switching(key), (socket) => setTimeout(() => socket.destroy(), 20));
  const masked = await rawServer((key) => Buffer.concat([Buffer.from(switching(key)), Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x60])]));
  try {
    const a = connect(dropping.port);
    await a.closes;
    assert.deepEqual(a.seen.close, [1006, '']);
    const b = connect(masked.port);
    await b.closes;
    assert.equal(b.seen.open, '');
    assert.equal(b.seen.close![0], 1014);
    assert.match(b.seen.close![1], /masked frame/);
    while (masked.received.length === 0) await new Promise((r) => setTimeout(r, 10));
    // The worker got a masked close frame with 1002: unmask its two payload bytes.
    const frame = masked.received[0]!;
    assert.equal(frame[0], 0x88);
    assert.equal(((frame[6]! ^ frame[2]!) << 8) | (frame[7]! ^ frame[3]!), 1002);
    b.client.terminate();
  } finally {
    dropping.close();
    masked.close();
  }
});

test('frames in the same read as the 101 arrive after onOpen', async () => {
  const raw = await rawServer((key) => Buffer.concat([Buffer.from(switching(key)), Buffer.from([0x81, 0x02, 0x68, 0x69])]));
  try {
    let openedFirst = false;
    const c = connect(raw.port, [], '', OPTIONS, () => (openedFirst = c.seen.open !== undefined));
    while (c.seen.messages.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.ok(openedFirst);
    assert.deepEqual(c.seen.messages, [['hi', false]]);
    c.client.terminate();
  } finally {
    raw.close();
  }
});

test('an answer that is not a valid 101 is an error: wrong accept, an extension, a subprotocol not offered, no Upgrade, not HTTP at all', async () => {
  const answers: [string, (key: string) => string, RegExp][] = [
    ['wrong accept', () => switching('not-the-key'), /Sec-WebSocket-Accept/],
    ['extension', (key) => switching(key, 'Sec-WebSocket-Extensions: permessage-deflate\r\n'), /extensions/],
    ['subprotocol', (key) => switching(key, 'Sec-WebSocket-Protocol: other\r\n'), /subprotocol "other"/],
    ['no upgrade', (key) => switching(key).replace('Upgrade: websocket\r\n', ''), /does not upgrade/],
    ['not HTTP', () => 'SSH-2.0-OpenSSH_9.2\r\n\r\n', /invalid upstream status line/],
  ];
  for (const [name, answer, message] of answers) {
    const raw = await rawServer(answer);
    try {
      const c = connect(raw.port, ['a']);
      await c.settled;
      assert.match(c.seen.error ?? '', message, name);
      assert.equal(c.seen.open, undefined, name);
    } finally {
      raw.close();
    }
  }
});

test('a refusal comes with its status, fields and body: sized, chunked or to the connection\'s end; over the limit, cut short or idle, without a body', async () => {
  const cases: [string, string, [number, string, string | null]][] = [
    ['sized', 'HTTP/1.1 403 Forbidden\r\nX-Why: no\r\nContent-Length: 4\r\n\r\nnope', [403, 'Forbidden', 'nope']],
    ['chunked', 'HTTP/1.1 401 Unauthorized\r\nX-Why: no\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n3\r\npe!\r\n0\r\n\r\n', [401, 'Unauthorized', 'nope!']],
    ['to the end', 'HTTP/1.1 404 Not Found\r\nX-Why: no\r\nConnection: close\r\n\r\ngone', [404, 'Not Found', 'gone']],
    ['no body', 'HTTP/1.1 429 Too Many Requests\r\nX-Why: no\r\nContent-Length: 0\r\n\r\n', [429, 'Too Many Requests', '']],
    ['over the limit', `HTTP/1.1 400 Bad Request\r\nX-Why: no\r\nContent-Length: 2000\r\n\r\n${'x'.repeat(2000)}`, [400, 'Bad Request', null]],
    ['cut short', 'HTTP/1.1 400 Bad Request\r\nX-Why: no\r\nContent-Length: 100\r\n\r\nshort', [400, 'Bad Request', null]],
    ['idle', 'HTTP/1.1 400 Bad Request\r\nX-Why: no\r\nContent-Length: 100\r\n\r\nslow', [400, 'Bad Request', null]],
  ];
  for (const [name, answer, [status, reason, body]] of cases) {
    const ends = name === 'to the end' || name === 'cut short';
    const raw = await rawServer(() => answer, (socket) => ends && socket.end());
    try {
      const c = connect(raw.port);
      await c.settled;
      assert.deepEqual(c.seen.refused, [status, reason, ['X-Why', 'no', ...c.seen.refused![2].slice(2)], body], name);
    } finally {
      raw.close();
    }
  }
});

test('a worker that does not answer is an error after connectMs; a closed port at once', async () => {
  const silent = await rawServer(() => '');
  const closed = await rawServer(() => '');
  closed.close();
  try {
    const a = connect(silent.port, [], '', { ...OPTIONS, connectMs: 200 });
    await a.settled;
    assert.match(a.seen.error ?? '', /did not answer the upgrade within 200 ms/);
    const b = connect(closed.port);
    await b.settled;
    assert.match(b.seen.error ?? '', /ECONNREFUSED/);
  } finally {
    silent.close();
  }
});
