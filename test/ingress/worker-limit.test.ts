import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { startBlackhole } from '../helpers/blackhole.js';
import { eventually } from '../helpers/eventually.js';
import { fetchRaw, startExampleWorkers, startHttpServer, startProxy, stopProcesses } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp-dir.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * A worker that counts the requests it is serving at once: GET /hold?ms= answers after ms,
 * POST /echo returns the body once it has all of it.
 */
async function countingWorker() {
  const seen = { now: 0, most: 0, requests: 0 };
  const server = await startHttpServer((req: IncomingMessage, res: ServerResponse) => {
    seen.requests++;
    seen.most = Math.max(seen.most, ++seen.now);
    const done = (body: Buffer | string): void => {
      seen.now--;
      res.end(body);
    };
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => done(Buffer.concat(chunks)));
      return;
    }
    setTimeout(() => done('held\n'), Number(url.searchParams.get('ms') ?? 0));
  });
  return { ...server, seen };
}

/** One ingress thread in front of one worker that may take one request at a time. */
function oneAtATime(workerUrl: string, queueMs: number) {
  return startProxy({ threads: 1, limits: { maxRequestsPerWorker: 1 }, timeouts: { queueMs }, driver: { kind: 'static', upstreams: [{ url: workerUrl }] } });
}

async function status(adminUrl: string): Promise<{ requests: { queued: number; queueTimeouts: number; inflight: number } }> {
  return JSON.parse((await fetchRaw(`${adminUrl}/api/status`)).body.toString());
}

test('no worker gets more than maxRequestsPerWorker at once over both threads; the rest wait their turn and are all served', async () => {
  const worker = await countingWorker();
  const proxy = await startProxy({ threads: 2, limits: { maxRequestsPerWorker: 1 }, timeouts: { queueMs: 20_000 }, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    // A connection each, so the kernel spreads them over both threads: a request queued on one
    // thread must be woken by the other thread's request leaving the worker.
    const replies = await Promise.all(Array.from({ length: 12 }, () => fetchRaw(`${proxy.url}/hold?ms=40`, { agent: false })));
    assert.deepEqual(
      replies.map((r) => r.status),
      replies.map(() => 200),
    );
    assert.equal(worker.seen.most, 1);
    assert.equal(worker.seen.requests, 12);
    const threads = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/threads`)).body.toString()) as { requests: number }[];
    assert.ok(
      threads.every((t) => t.requests > 0),
      `both threads took requests: ${threads.map((t) => t.requests).join(', ')}`,
    );
    const { requests } = await status(proxy.adminUrl);
    assert.equal(requests.queued, 0);
    assert.equal(requests.queueTimeouts, 0);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('requests waiting for a full worker are served in the order they came, whichever thread took them', async () => {
  const order: number[] = [];
  const worker = await startHttpServer((req, res) => {
    order.push(Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n')));
    setTimeout(() => res.end('ok\n'), 25);
  });
  const proxy = await startProxy({ threads: 2, limits: { maxRequestsPerWorker: 1 }, timeouts: { queueMs: 20_000 }, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    // A connection each, 8 ms apart, so the kernel spreads them over both threads while the
    // worker takes one every 25 ms. Each thread used to serve its own first: whichever thread
    // woke first took the place, and 32 to 64 pairs of these 30 were served out of order.
    const replies: Promise<unknown>[] = [];
    for (let n = 0; n < 30; n++) {
      replies.push(fetchRaw(`${proxy.url}/?n=${n}`, { agent: false }));
      await new Promise((r) => setTimeout(r, 8));
    }
    await Promise.all(replies);
    assert.deepEqual(order, Array.from({ length: 30 }, (_, n) => n));
    const threads = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/threads`)).body.toString()) as { requests: number }[];
    assert.ok(
      threads.every((t) => t.requests > 0),
      `both threads took requests: ${threads.map((t) => t.requests).join(', ')}`,
    );
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('a retry that has to wait takes the place its failed worker freed', async () => {
  // Two one-at-a-time workers: /slow holds one; /drop then goes to the other, which resets the
  // connection (a stale keep-alive: safe to retry). The retry's last look avoids that worker and
  // finds the first full, so it queues; the place the failure freed had woken nobody, as no request
  // was waiting yet, and the retry waited for its queue timeout (a 503) with a worker idle.
  let dropped = false;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === '/slow') return void setTimeout(() => res.end('slow\n'), 20_000);
    if (req.url === '/drop' && !dropped) {
      dropped = true;
      return void req.socket.destroy();
    }
    res.end('ok\n');
  };
  const workers = await Promise.all([startHttpServer(handler), startHttpServer(handler)]);
  const proxy = await startProxy({ threads: 1, limits: { maxRequestsPerWorker: 1 }, timeouts: { queueMs: 10_000 }, driver: { kind: 'static', upstreams: workers.map((w) => ({ url: w.url })) } });
  const slow = request(`${proxy.url}/slow`, { agent: false });
  slow.on('error', () => undefined);
  try {
    slow.end();
    await eventually('the slow request to hold its worker', async () => ((await status(proxy.adminUrl)).requests.inflight === 1 ? true : undefined));
    const reply = await fetchRaw(`${proxy.url}/drop`, { agent: false });
    assert.ok(dropped, 'the first attempt was reset');
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(reply.body.toString(), 'ok\n');
  } finally {
    slow.destroy();
    await proxy.stop();
    await Promise.all(workers.map((w) => w.close()));
  }
});

test('a chunked body that waited whole in the queue, went to a worker that could not be reached, and waited again, reaches the next worker once', async () => {
  // Two one-at-a-time workers: one whose connects hang (to connectMs), one that holds /hold until
  // the test lets it go, and echoes /echo.
  const hole = await startBlackhole();
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const live = await startHttpServer((req, res) => {
    if (req.url === '/hold') return void released.then(() => res.end('held\n'));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(Buffer.concat(chunks)));
  });
  const proxy = await startProxy({
    threads: 1,
    outlierDetection: { consecutiveFailures: 0 },
    limits: { maxRequestsPerWorker: 1 },
    timeouts: { connectMs: 1000, queueMs: 10_000 },
    driver: { kind: 'static', upstreams: [{ url: hole.url, id: 'hole' }, { url: live.url, id: 'live' }] },
  });
  const workers = async () => JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { id: string; inflight: number; errors: number }[];
  const holeErrors = async () => (await workers()).find((w) => w.id === 'hole')!.errors;
  try {
    const holds = [fetchRaw(`${proxy.url}/hold`, { agent: false }), fetchRaw(`${proxy.url}/hold`, { agent: false })];
    await eventually('both workers busy', async () => ((await workers()).every((w) => w.inflight === 1) ? true : undefined));
    // Queued with its whole body. The hole's place goes to it when the other request's connect
    // times out; when its own does, it waits again, and the live worker is let go. The body's
    // end, forwarded once from the queue, went again after the retry's replay of the body.
    const post = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${proxy.url}/echo`, { method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.write('hello ');
      req.end('world');
    });
    await eventually('the request to fail on the unreachable worker', async () => ((await holeErrors()) >= 2 ? true : undefined));
    release();
    const reply = await post;
    assert.equal(reply.status, 200, reply.body);
    assert.equal(reply.body, 'hello world');
    await Promise.all(holds);
  } finally {
    release();
    await proxy.stop();
    await live.close();
    await hole.stop();
  }
});

test('a full worker that holds nearly all the weight does not hide the one with room', async () => {
  const [heavy, light] = await Promise.all([countingWorker(), countingWorker()]);
  const proxy = await startProxy({
    threads: 1,
    policy: 'weighted-random',
    limits: { maxRequestsPerWorker: 1 },
    timeouts: { queueMs: 300 },
    driver: { kind: 'static', upstreams: [{ url: heavy.url, weight: 1000 }, { url: light.url, weight: 1 }] },
  });
  try {
    const holding = fetchRaw(`${proxy.url}/hold?ms=3000`, { agent: false });
    await eventually('the first request to reach a worker', async () => (heavy.seen.now + light.seen.now === 1 ? true : undefined));
    // Draws land on the heavy worker a thousand times to one; waiting for it would time out.
    const second = await fetchRaw(`${proxy.url}/hold?ms=0`, { agent: false });
    assert.equal(second.status, 200);
    assert.equal(heavy.seen.requests + light.seen.requests, 2);
    assert.equal(heavy.seen.most, 1);
    assert.equal(light.seen.most, 1);
    assert.equal((await holding).status, 200);
  } finally {
    await proxy.stop();
    await Promise.all([heavy.close(), light.close()]);
  }
});

test('with several workers full, a request goes to the one with room; with all full it waits, not fails', async () => {
  const workers = await Promise.all([countingWorker(), countingWorker(), countingWorker()]);
  const proxy = await startProxy({ threads: 1, limits: { maxRequestsPerWorker: 2 }, timeouts: { queueMs: 20_000 }, driver: { kind: 'static', upstreams: workers.map((w) => ({ url: w.url })) } });
  try {
    const replies = await Promise.all(Array.from({ length: 30 }, () => fetchRaw(`${proxy.url}/hold?ms=30`, { agent: false })));
    assert.ok(replies.every((r) => r.status === 200));
    for (const w of workers) assert.ok(w.seen.most <= 2, `a worker served ${w.seen.most} at once`);
    assert.equal(
      workers.reduce((sum, w) => sum + w.seen.requests, 0),
      30,
    );
  } finally {
    await proxy.stop();
    await Promise.all(workers.map((w) => w.close()));
  }
});

test('a request that waits longer than timeouts.queueMs gets 503 with Retry-After, counted in status and metrics', async () => {
  const worker = await countingWorker();
  const proxy = await oneAtATime(worker.url, 300);
  try {
    const holding = fetchRaw(`${proxy.url}/hold?ms=2000`, { agent: false });
    await eventually('the first request to reach the worker', async () => (worker.seen.now === 1 ? true : undefined));
    const waited = await fetchRaw(`${proxy.url}/hold?ms=0`, { agent: false });
    assert.equal(waited.status, 503);
    assert.equal(waited.headers['retry-after'], '1');
    assert.match(waited.body.toString(), /no worker had room within 300 ms \(limits\.maxRequestsPerWorker\)/);
    assert.equal((await holding).status, 200);
    assert.equal(worker.seen.requests, 1);
    const { requests } = await status(proxy.adminUrl);
    assert.equal(requests.queueTimeouts, 1);
    assert.equal(requests.queued, 0);
    assert.equal(requests.inflight, 0);
    const metrics = (await fetchRaw(`${proxy.adminUrl}/metrics`)).body.toString();
    assert.match(metrics, /^weighbridge_requests_queue_timeouts_total 1$/m);
    assert.match(metrics, /^weighbridge_requests_queued 0$/m);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

for (const framing of ['content-length', 'chunked'] as const) {
  test(`a queued request's body, sent while it waits, reaches the worker byte-exact (${framing})`, async () => {
    const worker = await countingWorker();
    const proxy = await oneAtATime(worker.url, 20_000);
    try {
      const holding = fetchRaw(`${proxy.url}/hold?ms=400`, { agent: false });
      await eventually('the first request to reach the worker', async () => (worker.seen.now === 1 ? true : undefined));
      const body = randomBytes(3 * 1024 * 1024 + 11);
      const echoed = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const headers = framing === 'chunked' ? { 'transfer-encoding': 'chunked' } : { 'content-length': body.length };
        const req = request(`${proxy.url}/echo`, { method: 'POST', headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        for (let off = 0; off < body.length; off += 256 * 1024) req.write(body.subarray(off, off + 256 * 1024));
        req.end();
      });
      assert.equal((await holding).status, 200);
      assert.equal(echoed.status, 200);
      assert.equal(echoed.body.length, body.length);
      assert.equal(sha256(echoed.body), sha256(body));
      assert.equal(worker.seen.most, 1);
    } finally {
      await proxy.stop();
      await worker.close();
    }
  });
}

test('a client that leaves while its request waits gives its place in the queue back; the request never reaches a worker, and is logged as client-ended', async () => {
  const worker = await countingWorker();
  const accessLog = join(tempDir('queue-leave'), 'access.log');
  const proxy = await startProxy({ threads: 1, accessLog, limits: { maxRequestsPerWorker: 1 }, timeouts: { queueMs: 20_000 }, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    const holding = fetchRaw(`${proxy.url}/hold?ms=600`, { agent: false });
    await eventually('the first request to reach the worker', async () => (worker.seen.now === 1 ? true : undefined));
    const leaving = request(`${proxy.url}/hold?ms=0&leaving`, { agent: false });
    leaving.on('error', () => {});
    leaving.end();
    await eventually('the second request to be queued', async () => ((await status(proxy.adminUrl)).requests.queued === 1 ? true : undefined));
    leaving.destroy();
    await eventually('the queue to empty', async () => ((await status(proxy.adminUrl)).requests.queued === 0 ? true : undefined));
    assert.equal((await holding).status, 200);
    assert.equal((await fetchRaw(`${proxy.url}/hold?ms=0`, { agent: false })).status, 200);
    assert.equal(worker.seen.requests, 2);
    assert.equal((await status(proxy.adminUrl)).requests.inflight, 0);
    const left = await eventually('the leaving request\'s access log line', async () => {
      const lines = existsSync(accessLog) ? readFileSync(accessLog, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { target: string; status: number; worker: string | null; outcome: string }) : [];
      return lines.find((l) => l.target === '/hold?ms=0&leaving');
    });
    assert.deepEqual([left.status, left.worker, left.outcome], [0, null, 'client-ended']);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('an open WebSocket holds a place on its worker: an upgrade finding every worker full gets 503, and requests wait until it closes', async () => {
  const [worker] = await startExampleWorkers(1);
  const proxy = await oneAtATime(worker!.url, 300);
  const wsUrl = proxy.url.replace('http', 'ws');
  try {
    const holding = fetchRaw(`${proxy.url}/work?latency_ms=800`, { agent: false });
    await eventually('the request to reach the worker', async () => ((await status(proxy.adminUrl)).requests.inflight === 1 ? true : undefined));
    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${wsUrl}/`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('the upgrade went through to a full worker')));
      ws.on('error', () => {});
    });
    assert.equal(refused, 503);
    assert.equal((await holding).status, 200);

    const ws = new WebSocket(`${wsUrl}/`);
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    const echo = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
    ws.send('ping');
    assert.equal(await echo, 'ping');
    const whileOpen = await fetchRaw(`${proxy.url}/`, { agent: false });
    assert.equal(whileOpen.status, 503);
    ws.close();
    await eventually('the socket to give its place back', async () => ((await status(proxy.adminUrl)).requests.inflight === 0 ? true : undefined));
    assert.equal((await fetchRaw(`${proxy.url}/`, { agent: false })).status, 200);
  } finally {
    await proxy.stop();
    await stopProcesses([worker!]);
  }
});

test("the time a request waited in the queue is not the worker's latency", async () => {
  // The worker answers /held only when the test lets it, so the wait is made, not timed.
  const held: ServerResponse[] = [];
  const worker = await startHttpServer((req, res) => {
    if (req.url === '/held') held.push(res);
    else res.end('quick\n');
  });
  const proxy = await oneAtATime(worker.url, 20_000);
  try {
    const first = fetchRaw(`${proxy.url}/held`, { agent: false });
    await eventually('the first request to reach the worker', async () => (held.length === 1 ? true : undefined));
    const second = fetchRaw(`${proxy.url}/quick`, { agent: false });
    await eventually('the second request to be queued', async () => ((await status(proxy.adminUrl)).requests.queued === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 1100));
    held[0]!.end('held\n');
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200);
    const metrics = (await fetchRaw(`${proxy.adminUrl}/metrics`)).body.toString();
    const bucket = (le: string): number => Number(new RegExp(`^weighbridge_worker_latency_seconds_bucket\\{[^}]*le="${le.replace('+', '\\+')}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    // The first held the worker over a second; the second, which waited that second in the
    // queue, took the worker a moment.
    assert.equal(bucket('+Inf'), 2);
    assert.equal(bucket('0.524288'), 1);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

/** A worker whose /held requests wait until the test answers them; anything else answers at once. */
async function heldWorker() {
  const held: ServerResponse[] = [];
  const server = await startHttpServer((req, res) => {
    if (req.url === '/held') held.push(res);
    else res.end('quick\n');
  });
  return { ...server, held };
}

test('a worker that joins the table wakes the queue: waiting requests go to it at once', async () => {
  const [a, b] = await Promise.all([heldWorker(), heldWorker()]);
  const proxy = await startProxy({ threads: 1, limits: { maxRequestsPerWorker: 1 }, timeouts: { queueMs: 20_000 }, driver: { kind: 'static', upstreams: [{ url: a.url, id: 'a' }, { url: b.url, id: 'b' }] } });
  const admin = (action: string) => fetchRaw(`${proxy.adminUrl}/api/workers/${action}`, { method: 'POST', body: JSON.stringify({ id: 'b' }), headers: { 'content-type': 'application/json' } });
  try {
    assert.equal((await admin('drain')).status, 200);
    const first = fetchRaw(`${proxy.url}/held`, { agent: false });
    await eventually('the first request to reach worker a', async () => (a.held.length === 1 ? true : undefined));
    const waiting = fetchRaw(`${proxy.url}/quick`, { agent: false });
    await eventually('the second request to be queued', async () => ((await status(proxy.adminUrl)).requests.queued === 1 ? true : undefined));
    // No request leaves a worker while a is held: only b's return can wake the queue.
    assert.equal((await admin('ready')).status, 200);
    const served = await waiting;
    assert.equal(served.status, 200);
    assert.equal(a.held.length, 1);
    a.held[0]!.end('held\n');
    assert.equal((await first).status, 200);
  } finally {
    await proxy.stop();
    await Promise.all([a.close(), b.close()]);
  }
});

test("a client paused while its request waited is not left paused by the queue timeout's 503", async () => {
  const worker = await heldWorker();
  const proxy = await oneAtATime(worker.url, 300);
  const socket = connect({ host: '127.0.0.1', port: proxy.ingressPort });
  try {
    const first = fetchRaw(`${proxy.url}/held`, { agent: false });
    await eventually('the first request to reach the worker', async () => (worker.held.length === 1 ? true : undefined));
    let received = '';
    let closed = false;
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    // A chunked body whose first chunk pauses the client while the request waits.
    socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    await eventually('the queue timeout', async () => (received.startsWith('HTTP/1.1 503') ? true : undefined));
    worker.held[0]!.end('held\n');
    assert.equal((await first).status, 200);
    // Closed, or still read: either way the connection does not hang.
    if (!closed) socket.write('GET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually('the connection to close or answer again', async () => (closed || received.split('HTTP/1.1 ').length > 2 ? true : undefined), 5_000);
  } finally {
    socket.destroy();
    await proxy.stop();
    await worker.close();
  }
});
