import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { LookupAddress, lookup } from 'node:dns';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { seededRandom } from '../../src/balancing/random.js';
import { TcpSocket, type TcpSocketEvents } from '../../src/upstream/tcp-socket.js';

// TcpSocket drives Node's stream handle directly; these tests hold it to what net.Socket does on
// real loopback connections: the same bytes in the same order, drain after backpressure, and
// one close per socket with the right error.

async function listen(onConnection: (socket: Socket) => void, host = '127.0.0.1'): Promise<{ server: Server; port: number }> {
  const server = createServer(onConnection);
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/** A TcpSocket whose events are recorded, with promises for the ones a test waits on. */
class Probe implements TcpSocketEvents {
  readonly socket: TcpSocket;
  readonly log: string[] = [];
  readonly received: Buffer[] = [];
  receivedBytes = 0;
  closeError: NodeJS.ErrnoException | undefined;
  readonly closed: Promise<void>;
  private closeResolve!: () => void;
  private drainWaiter: (() => void) | null = null;
  private byteWaiter: { bytes: number; resolve: () => void } | null = null;

  constructor(host: string, port: number, resolve?: typeof lookup) {
    this.closed = new Promise((resolve) => (this.closeResolve = resolve));
    this.socket = new TcpSocket(host, port, Buffer.alloc(64 * 1024), this, resolve);
  }

  onConnect(): void {
    this.log.push('connect');
  }
  onRead(buffer: Buffer, length: number): void {
    // The buffer is reused for the next read: copy.
    this.received.push(Buffer.from(buffer.subarray(0, length)));
    this.receivedBytes += length;
    if (this.byteWaiter && this.receivedBytes >= this.byteWaiter.bytes) this.byteWaiter.resolve();
  }
  onEnd(): void {
    this.log.push('end');
  }
  onDrain(): void {
    this.log.push('drain');
    this.drainWaiter?.();
    this.drainWaiter = null;
  }
  onClose(error: NodeJS.ErrnoException | undefined): void {
    this.log.push('close');
    this.closeError = error;
    this.closeResolve();
  }

  drained(): Promise<void> {
    return this.within(new Promise((resolve) => (this.drainWaiter = resolve)), 'drain');
  }
  bytes(count: number): Promise<void> {
    if (this.receivedBytes >= count) return Promise.resolve();
    return this.within(new Promise((resolve) => (this.byteWaiter = { bytes: count, resolve })), `${count} bytes (got ${this.receivedBytes})`);
  }
  whenClosed(): Promise<void> {
    return this.within(this.closed, 'close');
  }

  /** A wait that fails the test instead of hanging it (and the open socket with it). */
  private within(wait: Promise<void>, what: string): Promise<void> {
    let timer!: NodeJS.Timeout;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.socket.destroy();
        reject(new Error(`no ${what} within 20 s; events: ${this.log.join(', ')}`));
      }, 20_000);
    });
    return Promise.race([wait, deadline]).finally(() => clearTimeout(timer));
  }
}

// Byte strings (a character per byte, written as Latin-1): ASCII, NUL, and bytes above 0x7f.
const ALPHABET = ['a', 'Z', '0', ' ', '\r\n', '\u0000', '\u0080', '\u00c3', '\u00e9', '\u00ff'];

function randomWrites(random: () => number): (string | Buffer)[] {
  const writes: (string | Buffer)[] = [];
  const count = 1 + Math.floor(random() * 40);
  for (let i = 0; i < count; i++) {
    if (random() < 0.5) {
      let s = '';
      const length = Math.floor(random() * (random() < 0.1 ? 40_000 : 200));
      for (let j = 0; j < length; j++) s += ALPHABET[Math.floor(random() * ALPHABET.length)];
      writes.push(s);
    } else {
      // Now and then large enough that the kernel does not take it at once.
      const size = Math.floor(random() * (random() < 0.25 ? 3_000_000 : 5_000));
      const b = Buffer.allocUnsafe(size);
      for (let j = 0; j < size; j++) b[j] = Math.floor(random() * 256);
      writes.push(b);
    }
  }
  return writes;
}

/** What net.Socket delivers for the same writes, through the same echo server. */
async function echoByNetSocket(port: number, writes: (string | Buffer)[]): Promise<Buffer> {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  for (const w of writes) if (!(typeof w === 'string' ? socket.write(w, 'latin1') : socket.write(w))) await once(socket, 'drain');
  socket.end();
  await once(socket, 'close');
  return Buffer.concat(chunks);
}

test('differential against net.Socket: random writes (byte strings with every kind of byte, large buffers) echo back byte-exact, in order', { timeout: 60_000 }, async () => {
  // The echo server stops reading now and then, so our writes back up and drain is exercised.
  const serverRandom = seededRandom(0);
  const { server, port } = await listen((socket) => {
    socket.on('data', (chunk: Buffer) => {
      const full = !socket.write(chunk);
      if (full || serverRandom() < 0.3) {
        socket.pause();
        if (full) socket.once('drain', () => socket.resume());
        else setTimeout(() => socket.resume(), 30);
      }
    });
    socket.on('end', () => socket.end());
  });
  let allDrains = 0;
  try {
    for (let seed = 1; seed <= 12; seed++) {
      const random = seededRandom(seed);
      const writes = randomWrites(random);
      const reference = await echoByNetSocket(port, writes);
      const probe = new Probe('127.0.0.1', port);
      let drains = 0;
      for (const w of writes) {
        if (!probe.socket.write(w)) {
          await probe.drained();
          drains++;
        }
        // Stop reading for a moment, so the echo backs up towards us too.
        if (random() < 0.2) {
          probe.socket.pause();
          await new Promise((r) => setTimeout(r, 5));
          probe.socket.resume();
        }
      }
      await probe.bytes(reference.length);
      probe.socket.destroy();
      await probe.whenClosed();
      const got = Buffer.concat(probe.received);
      assert.equal(got.length, reference.length, `seed ${seed}: byte count`);
      assert.ok(got.equals(reference), `seed ${seed}: bytes differ from net.Socket's`);
      allDrains += drains;
      assert.equal(probe.log.filter((e) => e === 'close').length, 1);
      assert.equal(probe.closeError, undefined);
    }
    // Writes said false (held bytes over the limit, or the kernel full) and drain followed.
    assert.ok(allDrains >= 2, `only ${allDrains} writes had to wait for drain`);
  } finally {
    server.close();
  }
});

test('a write over the held limit says false, and drain comes once the kernel has taken it all (the peer reading)', { timeout: 60_000 }, async () => {
  let accepted!: (socket: Socket) => void;
  const peerSocket = new Promise<Socket>((resolve) => (accepted = resolve));
  const { server, port } = await listen((socket) => {
    socket.pause();
    accepted(socket);
  });
  try {
    const probe = new Probe('127.0.0.1', port);
    assert.equal(probe.socket.write('x'), true, 'a small write before the connection is held, not refused');
    const big = Buffer.alloc(16 * 1024 * 1024, 7);
    assert.equal(probe.socket.write(big), false, 'the kernel cannot take 16 MiB at once');
    const drained = probe.drained();
    const peer = await peerSocket;
    let got = 0;
    peer.on('data', (chunk: Buffer) => (got += chunk.length));
    peer.resume();
    await drained;
    for (let waited = 0; got < big.length + 1 && waited < 20_000; waited += 5) await new Promise((r) => setTimeout(r, 5));
    assert.equal(got, big.length + 1);
    probe.socket.destroy();
    await probe.whenClosed();
  } finally {
    server.close();
  }
});

test('while paused nothing is read, and resume delivers what waited', { timeout: 60_000 }, async () => {
  let accepted!: (socket: Socket) => void;
  const peerSocket = new Promise<Socket>((resolve) => (accepted = resolve));
  const { server, port } = await listen((socket) => accepted(socket));
  try {
    const probe = new Probe('127.0.0.1', port);
    probe.socket.pause(); // before the connection is up: reading starts paused
    const peer = await peerSocket;
    peer.write('first');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(probe.receivedBytes, 0, 'a socket paused before its connect read');
    probe.socket.resume();
    await probe.bytes(5);
    probe.socket.pause();
    peer.write('second');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(probe.receivedBytes, 5, 'a paused socket read');
    probe.socket.resume();
    await probe.bytes(11);
    assert.equal(Buffer.concat(probe.received).toString(), 'firstsecond');
    probe.socket.destroy();
    await probe.whenClosed();
  } finally {
    server.close();
  }
});

test('the peer ending gives end, then one close without an error', { timeout: 60_000 }, async () => {
  const { server, port } = await listen((socket) => socket.end('bye'));
  try {
    const probe = new Probe('127.0.0.1', port);
    await probe.whenClosed();
    assert.deepEqual(probe.log, ['connect', 'end', 'close']);
    assert.equal(Buffer.concat(probe.received).toString(), 'bye');
    assert.equal(probe.closeError, undefined);
  } finally {
    server.close();
  }
});

test('a reset by the peer closes with ECONNRESET and no end', { timeout: 60_000 }, async () => {
  const { server, port } = await listen((socket) => socket.on('data', () => socket.resetAndDestroy()));
  try {
    const probe = new Probe('127.0.0.1', port);
    probe.socket.write('hello');
    await probe.whenClosed();
    assert.equal(probe.closeError?.code, 'ECONNRESET');
    assert.deepEqual(probe.log.filter((e) => e !== 'drain'), ['connect', 'close']);
  } finally {
    server.close();
  }
});

test('a refused connection closes once with ECONNREFUSED, and never connects', { timeout: 60_000 }, async () => {
  const { server, port } = await listen(() => {});
  await new Promise((r) => server.close(r));
  const probe = new Probe('127.0.0.1', port);
  assert.equal(probe.socket.write('lost'), true, 'held until the connect, which fails');
  await probe.whenClosed();
  assert.equal(probe.closeError?.code, 'ECONNREFUSED');
  assert.equal(probe.closeError?.syscall, 'connect');
  assert.deepEqual(probe.log, ['close']);
  // Nothing comes after close.
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(probe.log, ['close']);
});

test('destroy before the connection is up closes once, without an error or a connect', { timeout: 60_000 }, async () => {
  let accepted = 0;
  const { server, port } = await listen(() => accepted++);
  try {
    const probe = new Probe('127.0.0.1', port);
    probe.socket.write('never sent');
    probe.socket.destroy();
    probe.socket.destroy();
    await probe.whenClosed();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(probe.log, ['close']);
    assert.equal(probe.closeError, undefined);
    assert.equal(probe.socket.write('after close'), false);
  } finally {
    server.close();
  }
  assert.ok(accepted <= 1);
});

test('a host name is resolved, and each of its addresses is tried until one accepts', { timeout: 60_000 }, async () => {
  // Only on 127.0.0.1: if "localhost" resolves to ::1 first, that one is refused and the next tried.
  const { server, port } = await listen((socket) => socket.end('here'), '127.0.0.1');
  try {
    const probe = new Probe('localhost', port);
    await probe.whenClosed();
    assert.equal(probe.closeError, undefined);
    assert.equal(Buffer.concat(probe.received).toString(), 'here');
  } finally {
    server.close();
  }
});

test('an address that does not answer is given up after a moment for the next one', { timeout: 60_000 }, async () => {
  const { server, port } = await listen((socket) => socket.end('here'), '127.0.0.1');
  // On the same port of 127.0.0.2, a listener that never accepts (its process blocks at once)
  // with a one-slot backlog: once that is full, the kernel drops SYNs, and a connect hangs.
  const stuck = spawn(
    process.execPath,
    ['-e', `require('net').createServer().listen({ host: '127.0.0.2', port: ${port}, backlog: 1 }, () => { console.log('listening'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); })`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const fillers: Socket[] = [];
  try {
    const [line] = (await once(stuck.stdout!, 'data')) as [Buffer];
    assert.equal(line.toString().trim(), 'listening');
    for (let i = 0; i < 3; i++) fillers.push(connect(port, '127.0.0.2').on('error', () => {}));
    await new Promise((r) => setTimeout(r, 300));
    const sentinel = connect(port, '127.0.0.2').on('error', () => {});
    fillers.push(sentinel);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(sentinel.readyState, 'opening', 'the stuck listener still accepts connections: this test cannot work here');

    const addresses: LookupAddress[] = [{ address: '127.0.0.2', family: 4 }, { address: '127.0.0.1', family: 4 }];
    const resolve = ((_host: string, _options: unknown, callback: (err: null, found: LookupAddress[]) => void) => callback(null, addresses)) as unknown as typeof lookup;
    const probe = new Probe('worker.test', port, resolve);
    await probe.whenClosed();
    assert.equal(probe.closeError, undefined);
    assert.equal(Buffer.concat(probe.received).toString(), 'here');
  } finally {
    for (const socket of fillers) socket.destroy();
    stuck.kill('SIGKILL');
    server.close();
  }
});

test('an IPv6 literal connects over IPv6', { timeout: 60_000 }, async (t) => {
  let listening: { server: Server; port: number };
  try {
    listening = await listen((socket) => socket.end(socket.remoteAddress ?? ''), '::1');
  } catch {
    t.skip('no IPv6 loopback on this machine');
    return;
  }
  try {
    const probe = new Probe('::1', listening.port);
    await probe.whenClosed();
    assert.equal(Buffer.concat(probe.received).toString(), '::1');
  } finally {
    listening.server.close();
  }
});

test('a name that does not resolve closes with the resolver error', { timeout: 60_000 }, async () => {
  const probe = new Probe('no-such-host.invalid', 80);
  await probe.whenClosed();
  assert.match(probe.closeError?.code ?? '', /^(ENOTFOUND|EAI_AGAIN)$/);
  assert.deepEqual(probe.log, ['close']);
});
