import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { Agent as TlsAgent, request as tlsRequest } from 'node:https';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { test, type TestContext } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { seededRandom, type RandomSource } from '../../src/balancing/random.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { eventually } from '../helpers/eventually.js';
import { fetchRaw, startHttpServer, startProxy } from '../helpers/servers.js';
import { selfSignedCert } from '../helpers/tls.js';

/**
 * A seeded storm of mixed traffic through one ingress: ordinary requests of every framing beside
 * workers that reset, cut, stall or answer garbage, and clients that leave mid-upload or
 * mid-download, send garbage or read slowly, all over shared keep-alive connections. Each kind
 * of request has one right outcome, checked byte for byte; afterwards nothing may be left over:
 * no request in flight or queued, no client or worker connection the ingress forgot to close.
 * The seed is printed, and CHAOS_SEED replays a run.
 */

const LANES = 12;
const ACTIONS_PER_LANE = 40;
const MAX_BODY = 2 << 20;
/** Longer than any action takes when all is well; a request still open then is a hang. */
const ACTION_TIMEOUT_MS = 20_000;

/** Where the clients go: the plain listener, or the HTTPS one with the certificate to trust. */
interface Listener {
  url: string;
  port: number;
  ca: Buffer | undefined;
}

/** Body bytes that depend on their offset, so a byte lost, doubled or moved shows. */
function pattern(size: number, salt: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + salt + (i >> 8)) & 255;
  return b;
}

/**
 * Sends `body` in pieces of random sizes, some a tick apart, so it crosses several reads, and
 * ends the response with the last piece. Not a tick later: the ingress may send the next
 * request as soon as the body's last byte arrives, and node's server holds the answer to that
 * one back until this response has ended, so a reset-mid worker would reset it before any of it
 * left.
 */
function sendPieces(res: ServerResponse, body: Buffer, random: RandomSource, gapMs: number): void {
  let at = 0;
  const next = (): void => {
    if (res.destroyed) return;
    const size = 1 + Math.floor(random() * 65536);
    const piece = body.subarray(at, at + size);
    at += size;
    if (at >= body.length) return void res.end(piece);
    res.write(piece);
    if (gapMs > 0) setTimeout(next, gapMs);
    else if (random() < 0.3) setImmediate(next);
    else next();
  };
  next();
}

/** The workers: one path per behaviour, `/kind/size`. */
function chaosWorker(random: RandomSource): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const [, kind, arg] = (req.url ?? '/').split('/');
    const size = Number(arg ?? 0);
    if (kind !== 'echo') req.resume();
    switch (kind) {
      case 'bytes':
        res.writeHead(200, { 'content-length': size });
        return sendPieces(res, pattern(size, 1), random, 0);
      case 'chunked':
        res.writeHead(200);
        return sendPieces(res, pattern(size, 2), random, 0);
      case 'slow':
        res.writeHead(200, { 'content-length': size });
        return sendPieces(res, pattern(size, 1), random, 15);
      case 'echo':
        res.writeHead(200, req.headers['content-length'] === undefined ? {} : { 'content-length': req.headers['content-length'] });
        req.pipe(res);
        return;
      case 'status':
        res.writeHead(size);
        return res.end();
      case 'reset-early':
        return void req.socket.destroy();
      case 'reset-mid':
        res.writeHead(200, { 'content-length': size });
        res.write(pattern(size >> 1, 1));
        return void setTimeout(() => req.socket.destroy(), 5);
      case 'garbage':
        return void req.socket.end('HTTP/1.1 2x0 nope\r\nfoo\r\n\r\n');
      default:
        res.writeHead(404);
        res.end();
    }
  };
}

interface Outcome {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The response did not come whole: the request or response failed. */
  error: string | null;
}

/** One request; every way it can end is an Outcome, and an action that hangs is one too. */
function exchange(url: string, o: { ca?: Buffer | undefined; method?: string; agent: Agent | false; body?: Buffer; chunked?: boolean; headers?: Record<string, string | number>; leaveAfterBytes?: number; readSlowly?: boolean }): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: IncomingMessage['headers'] = {};
    const settle = (error: string | null): void => {
      if (settled) return;
      settled = true;
      resolve({ status, headers, body: Buffer.concat(chunks), error });
    };
    const req = (o.ca === undefined ? request : tlsRequest)(url, { method: o.method ?? 'GET', agent: o.agent, headers: o.headers, ca: o.ca }, (res) => {
      status = res.statusCode ?? 0;
      headers = res.headers;
      let received = 0;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        received += c.length;
        if (o.leaveAfterBytes !== undefined && received >= o.leaveAfterBytes) {
          req.destroy();
          settle('left');
        }
        // Long enough for the ingress's write probes to let more upstream reads in meanwhile.
        if (o.readSlowly && received % (128 << 10) < c.length) {
          res.pause();
          setTimeout(() => res.resume(), 60);
        }
      });
      res.on('end', () => settle(res.complete ? null : 'incomplete'));
      res.on('error', (e) => settle(`response: ${e.message}`));
      res.on('close', () => settle(res.complete ? null : 'closed before its end'));
    });
    req.setTimeout(ACTION_TIMEOUT_MS, () => {
      req.destroy();
      settle('hung');
    });
    req.on('error', (e) => settle(`request: ${e.message}`));
    if (o.body === undefined) return void req.end();
    if (!o.chunked) return void req.end(o.body);
    // No Content-Length: node sends the body chunked, here in two writes.
    req.write(o.body.subarray(0, o.body.length >> 1));
    setImmediate(() => req.end(o.body!.subarray(o.body!.length >> 1)));
  });
}

/** One upload that the client gives up on halfway, on a connection of its own. */
function leaveMidUpload(l: Listener, size: number): Promise<void> {
  return new Promise((resolve) => {
    const req = (l.ca === undefined ? request : tlsRequest)(`${l.url}/echo`, { method: 'POST', agent: false, ca: l.ca, headers: { 'content-length': size } });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.on('response', (res) => res.resume());
    req.write(pattern(size >> 1, 3), () => setTimeout(() => req.destroy(), 5));
  });
}

/** Bytes that are no request, on a connection of their own (inside TLS on the HTTPS listener); what came back within 300 ms. */
function sendGarbage(l: Listener, payload: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = l.ca === undefined ? connect(l.port, '127.0.0.1') : tlsConnect({ host: '127.0.0.1', port: l.port, ca: l.ca });
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, 300);
    socket.once(l.ca === undefined ? 'connect' : 'secureConnect', () => socket.write(payload));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', done);
    socket.on('error', () => undefined);
  });
}

/**
 * A WebSocket session through the ingress: messages of random sizes, each echoed back intact and
 * in order, then a close handshake or a dropped connection. Returns what went wrong, or null.
 */
function webSocketSession(l: Listener, random: RandomSource): Promise<string | null> {
  const messages = Array.from({ length: 1 + Math.floor(random() * 6) }, (_, i) => pattern(Math.floor(random() * 100_000), 10 + i));
  const drop = random() < 0.4;
  return new Promise((resolve) => {
    const ws = new WebSocket(`${l.url.replace(/^http/, 'ws')}/ws`, { ca: l.ca });
    let echoed = 0;
    let problem: string | null = null;
    const timer = setTimeout(() => {
      problem ??= `hung after ${echoed} of ${messages.length} echoes`;
      ws.terminate();
    }, ACTION_TIMEOUT_MS);
    ws.on('open', () => {
      for (const m of messages) ws.send(m, { binary: true });
    });
    ws.on('message', (data: Buffer) => {
      if (!data.equals(messages[echoed]!)) problem ??= `echo ${echoed} of ${data.length} bytes differs from the ${messages[echoed]!.length} sent`;
      if (++echoed < messages.length) return;
      if (drop) ws.terminate();
      else ws.close(1000);
    });
    ws.on('error', (e) => (problem ??= `error ${e.message}`));
    ws.on('close', (code) => {
      clearTimeout(timer);
      if (echoed < messages.length) problem ??= `closed (${code}) after ${echoed} of ${messages.length} echoes`;
      else if (!drop && code !== 1000) problem ??= `closed with ${code}, not 1000`;
      resolve(problem);
    });
  });
}

type Check = (o: Outcome) => string | null;
const whole =
  (expected: Buffer, status = 200): Check =>
  (o) =>
    o.error !== null ? `failed: ${o.error}` : o.status !== status ? `status ${o.status}` : o.body.equals(expected) ? null : `body of ${o.body.length} bytes differs from the ${expected.length} expected`;
const statusOnly =
  (status: number): Check =>
  (o) =>
    o.error !== null ? `failed: ${o.error}` : o.status !== status ? `status ${o.status}, expected ${status}` : null;
/** A response cut after its head went out: the client must see it cut, never whole. */
const cut: Check = (o) => (o.error !== null ? null : `came whole (${o.status}, ${o.body.length} bytes${o.body.length < 200 ? `: ${JSON.stringify(o.body.toString())}` : ''})`);

/** Which sockets in this network namespace are in `states` (hex, as /proc/net/tcp writes them). */
function sockets(match: (local: number, remote: number) => boolean, states: string[]): number {
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      const port = (address: string): number => parseInt(address.slice(address.lastIndexOf(':') + 1), 16);
      if (states.includes(f[3]!) && match(port(f[1]!), port(f[2]!))) n++;
    }
  }
  return n;
}
const ESTABLISHED = '01';
const CLOSE_WAIT = '08';

async function storm(t: TestContext, settings: Pick<ConfigInput, 'threads' | 'limits' | 'timeouts'>, overTls = false): Promise<void> {
  const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`seed ${seed} (CHAOS_SEED=${seed} replays it)`);
  const workerRandom = seededRandom(seed ^ 0x9e3779b9);
  const workers = await Promise.all([0, 1].map(() => startHttpServer(chaosWorker(workerRandom))));
  const echoes = workers.map(({ server }) => new WebSocketServer({ server }).on('connection', (ws) => ws.on('message', (m: Buffer) => ws.send(m, { binary: true }))));
  const cert = overTls ? selfSignedCert() : null;
  const proxy = await startProxy({
    ...settings,
    ...(cert === null ? {} : { tls: { port: 0, certFile: cert.cert, keyFile: cert.key } }),
    // Every failure here is the test's doing: ejecting a worker for it would turn the ordinary
    // requests into 503s.
    outlierDetection: { consecutiveFailures: 0 },
    driver: { kind: 'static', upstreams: workers.map((w, i) => ({ url: w.url, id: `w${i}` })) },
  });
  const perWorkerLimit = (settings.limits?.maxRequestsPerWorker ?? 0) > 0;
  const tlsPort = proxy.dataPlane?.ingressTlsPort ?? 0;
  const listener: Listener = cert === null ? { url: proxy.url, port: proxy.ingressPort, ca: undefined } : { url: `https://127.0.0.1:${tlsPort}`, port: tlsPort, ca: readFileSync(cert.cert) };
  const agent = cert === null ? new Agent({ keepAlive: true, maxSockets: LANES }) : new TlsAgent({ keepAlive: true, maxSockets: LANES, ca: listener.ca });
  /** One request to the listener, at `path`. */
  const ex = (path: string, o: Parameters<typeof exchange>[1]): Promise<Outcome> => exchange(`${listener.url}${path}`, { ...o, ca: listener.ca });
  const failures: string[] = [];
  const counts = new Map<string, number>();
  try {
    const act = async (random: RandomSource, label: string): Promise<void> => {
      const r = random();
      const size = (max: number): number => (random() < 0.1 ? Math.floor(random() * 2) : Math.floor(random() * max));
      const count = (kind: string): void => void counts.set(kind, (counts.get(kind) ?? 0) + 1);
      const run = async (kind: string, outcome: Promise<Outcome>, check: Check): Promise<void> => {
        count(kind);
        const problem = check(await outcome);
        if (problem !== null) failures.push(`${label} ${kind}: ${problem}`);
      };
      if (r < 0.22) {
        const n = size(200_000);
        return run('sized download', ex(`/bytes/${n}`, { agent }), whole(pattern(n, 1)));
      }
      if (r < 0.3) {
        const n = size(200_000);
        return run('chunked download', ex(`/chunked/${n}`, { agent }), whole(pattern(n, 2)));
      }
      if (r < 0.4) {
        const body = pattern(size(300_000), 4);
        const chunked = random() < 0.5;
        return run(`${chunked ? 'chunked' : 'sized'} echo`, ex('/echo', { method: 'POST', agent, body, chunked }), whole(body));
      }
      if (r < 0.44) {
        const n = size(100_000);
        return run('HEAD', ex(`/bytes/${n}`, { method: 'HEAD', agent }), (o) => whole(Buffer.alloc(0))(o) ?? (o.headers['content-length'] === String(n) ? null : `content-length ${o.headers['content-length']}`));
      }
      if (r < 0.49) {
        const status = [204, 304, 404, 500, 503][Math.floor(random() * 5)]!;
        return run(`status ${status}`, ex(`/status/${status}`, { agent }), whole(Buffer.alloc(0), status));
      }
      if (r < 0.54) {
        // Retried on the other worker when idempotent, which resets too.
        const method = random() < 0.5 ? 'GET' : 'POST';
        return run(`${method} reset before any response`, ex('/reset-early/0', { method, agent, body: method === 'POST' ? pattern(1000, 5) : undefined }), statusOnly(502));
      }
      if (r < 0.58) return run('reset mid-body', ex('/reset-mid/100000', { agent }), cut);
      if (r < 0.61) return run('garbage response', ex('/garbage/0', { agent }), statusOnly(502));
      if (r < 0.67) {
        const n = 20_000 + size(100_000);
        return run('slow download', ex(`/slow/${n}`, { agent }), whole(pattern(n, 1)));
      }
      if (r < 0.71) {
        const n = 1_000_000 + size(1_000_000);
        const chunked = random() < 0.5;
        return run(`slow reader, ${chunked ? 'chunked' : 'sized'}`, ex(`/${chunked ? 'chunked' : 'bytes'}/${n}`, { agent, readSlowly: true }), whole(pattern(n, chunked ? 2 : 1)));
      }
      if (r < 0.76) return run('client leaves mid-download', ex('/slow/500000', { agent: false, leaveAfterBytes: 1 }), (o) => (o.error === 'left' ? null : `ended as ${o.error ?? o.status}`));
      if (r < 0.81) {
        count('client leaves mid-upload');
        return leaveMidUpload(listener, 200_000 + size(1_000_000));
      }
      if (r < 0.85) {
        const body = pattern(MAX_BODY + 1 + size(100_000), 6);
        // The 413 goes out at the head, with Connection: close; the rest of the body then meets a
        // closed socket, whose reset can reach the client before it has read the 413.
        return run('sized upload over the limit', ex('/echo', { method: 'POST', agent, body }), (o) => (o.error !== null && /ECONNRESET|EPIPE|hang up/.test(o.error) ? null : statusOnly(413)(o)));
      }
      if (r < 0.9) {
        count('client garbage');
        const garbage = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 2000) }, () => Math.floor(random() * 256)));
        const response = await sendGarbage(listener, Buffer.concat([garbage, Buffer.from('\r\n\r\n')]));
        // Nothing, or a refusal: a 4xx, or the framing check's 501 or 505 for garbage that starts
        // like a request line with an unknown method or version.
        if (response !== '' && !/^HTTP\/1\.1 (4\d\d|501|505) /.test(response)) failures.push(`${label} client garbage: answered ${JSON.stringify(response.slice(0, 40))}`);
        return;
      }
      if (r < 0.95) {
        count('WebSocket session');
        const problem = await webSocketSession(listener, random);
        // Upgrades do not wait in the queue: with every worker full, the answer is 503.
        if (problem !== null && !(perWorkerLimit && problem === 'error Unexpected server response: 503')) failures.push(`${label} WebSocket session: ${problem}`);
        return;
      }
      const n = size(5000);
      return run('small GET', ex(`/bytes/${n}`, { agent }), whole(pattern(n, 1)));
    };
    await Promise.all(
      Array.from({ length: LANES }, async (_, lane) => {
        const random = seededRandom(seed + lane);
        for (let i = 0; i < ACTIONS_PER_LANE; i++) await act(random, `lane ${lane} action ${i}:`);
      }),
    );
    t.diagnostic([...counts.entries()].map(([k, v]) => `${k} ${v}`).join(', '));
    assert.deepEqual(failures, [], `seed ${seed}`);

    // Nothing left over: no request in flight or queued, on the ingress or any worker.
    agent.destroy();
    const leftover = async (): Promise<string> => {
      const status = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/status`, { agent: false })).body.toString()) as { requests: { inflight: number; queued: number } };
      const perWorker = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`, { agent: false })).body.toString()) as { id: string; inflight: number }[];
      const ports = new Set(workers.map((w) => w.port));
      return JSON.stringify({
        inflight: status.requests.inflight,
        queued: status.requests.queued,
        workers: perWorker.map((w) => w.inflight),
        // Client connections the ingress still holds, though every client has closed.
        clientConnections: sockets((local) => local === listener.port, [ESTABLISHED, CLOSE_WAIT]),
        // Worker connections the worker closed and the ingress did not.
        halfClosedUpstreams: sockets((_, remote) => ports.has(remote), [CLOSE_WAIT]),
      });
    };
    const clean = JSON.stringify({ inflight: 0, queued: 0, workers: [0, 0], clientConnections: 0, halfClosedUpstreams: 0 });
    let last = '';
    await eventually('nothing left over', async () => ((last = await leftover()) === clean ? true : undefined), 20_000).catch(() => assert.equal(last, clean, `seed ${seed}`));

    // And it still serves.
    for (let i = 0; i < 20; i++) assert.equal(whole(pattern(1000, 1))(await ex('/bytes/1000', { agent: false })), null);
  } finally {
    agent.destroy();
    await proxy.stop();
    for (const echo of echoes) for (const ws of echo.clients) ws.terminate();
    await Promise.all(workers.map((w) => w.close()));
  }
}

test('a seeded storm of ordinary, failing and abandoned requests over two threads is answered right and leaves nothing behind', { timeout: 120_000 }, (t) =>
  storm(t, { threads: 2, limits: { maxBodyBytes: MAX_BODY } }),
);

test('the same storm over HTTPS', { timeout: 120_000 }, (t) => storm(t, { threads: 2, limits: { maxBodyBytes: MAX_BODY } }, true));

test('the same storm on one thread, with two requests at most per worker and the rest queued', { timeout: 120_000 }, (t) =>
  // Clients then also leave while their request waits; a queue wait long enough that no request
  // times out in it, since those would get 503s.
  storm(t, { threads: 1, limits: { maxBodyBytes: MAX_BODY, maxRequestsPerWorker: 2 }, timeouts: { queueMs: 60_000 } }),
);
