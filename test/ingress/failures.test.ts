import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { freePort } from '../../src/drivers/free-port.js';
import { fetchRaw, startExampleWorkers, startHttpServer, startProxy, stopProcesses, type Reply } from '../helpers/servers.js';
import { echoUpload } from '../helpers/echo-upload.js';
import { eventually } from '../helpers/eventually.js';
import { sendRaw } from '../helpers/raw-http.js';

test('idempotent requests keep succeeding while a worker is killed mid-run', async () => {
  const workers = await startExampleWorkers(3);
  const proxy = await startProxy({ driver: { kind: 'static', upstreams: workers.map((w) => ({ url: w.url, id: w.id })) } });
  try {
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let killed = false;
    const client = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const reply = await fetchRaw(`${proxy.url}/work?latency_ms=2`);
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        if (reply.status !== 200) failures.push(`${reply.status} ${reply.body.toString().trim()}`);
        if (!killed && i === 50) {
          killed = true;
          workers[1]!.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, () => client(150)));
    assert.ok(killed);
    assert.deepEqual([...statuses.entries()], [[200, 8 * 150]], failures.join('; '));
  } finally {
    await proxy.stop();
    await stopProcesses(workers);
  }
});

test('a refused connection is retried on another worker whatever the method: none of the request left', async () => {
  const [live] = await startExampleWorkers(1);
  const dead = await freePort();
  const proxy = await startProxy({
    threads: 1,
    policy: 'round-robin',
    // Retries are what this test is about; ejection would take the dead worker out first.
    outlierDetection: { consecutiveFailures: 0 },
    driver: {
      kind: 'static',
      upstreams: [
        { url: live!.url, id: 'live' },
        { url: `http://127.0.0.1:${dead}`, id: 'dead' },
      ],
    },
  });
  const worker = async (id: string): Promise<{ errors: number; bytesIn: number }> => {
    const workers = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { id: string; errors: number; bytesIn: number }[];
    return workers.find((w) => w.id === id)!;
  };
  const deadErrors = async (): Promise<number> => (await worker('dead')).errors;
  let bodyBytes = 0;
  try {
    for (let i = 0; i < 10; i++) {
      const reply = await fetchRaw(`${proxy.url}/`);
      assert.equal(reply.status, 200);
      assert.equal(reply.body.toString(), 'w1\n');
    }
    const before = await deadErrors();
    // Bodies that came with the head, in several reads, and after it: each resent byte-exact.
    for (let i = 0; i < 10; i++) {
      const reply = await fetchRaw(`${proxy.url}/echo`, { method: 'POST', body: `body ${i}` });
      bodyBytes += `body ${i}`.length;
      assert.equal(reply.status, 200, reply.body.toString());
      assert.equal(reply.body.toString(), `body ${i}`);
    }
    for (const framing of ['chunked', 'content-length'] as const) {
      for (let i = 0; i < 2; i++) {
        const echo = await echoUpload(`${proxy.url}/echo`, 3 * 1024 * 1024 + i, framing);
        bodyBytes += 3 * 1024 * 1024 + i;
        assert.equal(echo.receivedBytes, 3 * 1024 * 1024 + i, framing);
        assert.equal(echo.receivedSha256, echo.sentSha256, framing);
      }
    }
    for (let i = 0; i < 2; i++) {
      const late = await new Promise<Reply>((resolve, reject) => {
        const req = request(`${proxy.url}/echo`, { method: 'POST', headers: { 'content-length': 10 } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        req.flushHeaders();
        setTimeout(() => req.end('0123456789'), 100);
      });
      assert.equal(late.status, 200);
      assert.equal(late.body.toString(), '0123456789');
      bodyBytes += 10;
    }
    // Round robin sent half of them to the dead worker first.
    assert.ok((await deadErrors()) - before >= 10, 'requests went to the dead worker');
    // Body bytes count for the worker they reached, not the one that was never reached.
    assert.equal((await worker('dead')).bytesIn, 0);
    assert.equal((await worker('live')).bytesIn, bodyBytes);
  } finally {
    await proxy.stop();
    await stopProcesses([live!]);
  }
});

test('no response head within responseHeadersMs gives 504; a reset mid-response cuts the client', async () => {
  const silent = await startHttpServer(() => {
    // Never answers.
  });
  const proxy = await startProxy({ threads: 1, timeouts: { responseHeadersMs: 300 }, driver: { kind: 'static', upstreams: [{ url: silent.url }] } });
  try {
    const reply = await fetchRaw(`${proxy.url}/`);
    assert.equal(reply.status, 504);
    assert.match(reply.body.toString(), /no response head from upstream within 300 ms/);
  } finally {
    await proxy.stop();
    await silent.close();
  }

  const cutter = await startHttpServer((_req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('partial');
    setTimeout(() => res.socket?.destroy(), 50);
  });
  const proxy2 = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: cutter.url }] } });
  try {
    await assert.rejects(fetchRaw(`${proxy2.url}/`), /aborted|socket hang up|ECONNRESET/);
    // The failure is counted once: cutting the client must not end the request on the worker again.
    const [worker] = JSON.parse((await fetchRaw(`${proxy2.adminUrl}/api/workers`)).body.toString()) as { inflight: number; errors: number }[];
    assert.equal(worker!.inflight, 0);
    assert.equal(worker!.errors, 1);
  } finally {
    await proxy2.stop();
    await cutter.close();
  }
});

test('an upstream sending garbage or an unasked-for 101 gives 502 and the next request still works', async () => {
  let calls = 0;
  const server = createServer((socket) => {
    socket.once('data', () => {
      calls++;
      const replies = ['NOT HTTP AT ALL\r\n\r\n', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: upgrade\r\n\r\nother protocol'];
      socket.end(replies[calls - 1] ?? 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: `http://127.0.0.1:${port}` }] } });
  try {
    const bad = await fetchRaw(`${proxy.url}/x`, { method: 'POST', body: 'a' });
    assert.equal(bad.status, 502);
    assert.match(bad.body.toString(), /invalid response from upstream/);
    // A switch of protocols nobody asked for (the ingress never forwards Upgrade) is refused too.
    const switched = await fetchRaw(`${proxy.url}/x`, { method: 'POST', body: 'a' });
    assert.equal(switched.status, 502);
    assert.match(switched.body.toString(), /101 Switching Protocols/);
    const good = await fetchRaw(`${proxy.url}/`);
    assert.equal(good.status, 200);
    assert.equal(good.body.toString(), 'ok');
  } finally {
    await proxy.stop();
    server.close();
  }
});

test('a response found bad after its head but before any of its body gets 502 or 504, not a cut connection', async () => {
  // Each answer is written whole, in one write: the head and what follows arrive in one read.
  const answers: Record<string, (socket: Socket) => void> = {
    '/bad-chunk': (socket) => socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'),
    '/bad-chunk-later': (socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
      setTimeout(() => socket.end('zz\r\n'), 50);
    },
    '/reset': (socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n');
      setTimeout(() => socket.resetAndDestroy(), 50);
    },
    '/idle': (socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n'),
  };
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (head: Buffer) => answers[/^GET (\S+)/.exec(head.toString())?.[1] ?? '']?.(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const proxy = await startProxy({ threads: 1, timeouts: { idleMs: 300 }, outlierDetection: { consecutiveFailures: 0 }, driver: { kind: 'static', upstreams: [{ url: `http://127.0.0.1:${port}` }] } });
  try {
    const expected: [string, number, RegExp][] = [
      ['/bad-chunk', 502, /invalid response from upstream/],
      ['/bad-chunk-later', 502, /invalid response from upstream/],
      ['/reset', 502, /upstream closed the connection mid-response/],
      ['/idle', 504, /upstream idle for 300 ms/],
    ];
    for (const [target, status, message] of expected) {
      const reply = await fetchRaw(`${proxy.url}${target}`, { agent: false });
      assert.equal(reply.status, status, target);
      assert.match(reply.body.toString(), message, target);
    }
    const [worker] = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { inflight: number; errors: number }[];
    assert.equal(worker!.inflight, 0);
    assert.equal(worker!.errors, 4);
  } finally {
    await proxy.stop();
    server.close();
  }
});

test('an upload that goes over maxBodyBytes after the worker sent its head, but none of its body, gets 413', async () => {
  // The worker answers its head as soon as the request's head arrives, and never its body.
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n'));
    socket.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const proxy = await startProxy({ threads: 1, limits: { maxBodyBytes: 1000 }, driver: { kind: 'static', upstreams: [{ url: `http://127.0.0.1:${port}` }] } });
  const client = connect(proxy.ingressPort, '127.0.0.1');
  try {
    let got = '';
    client.on('data', (d: Buffer) => (got += d.toString('latin1')));
    client.write('POST /x HTTP/1.1\r\nHost: t\r\ntransfer-encoding: chunked\r\n\r\n');
    // The worker's head reaches the ingress before the body goes over the limit.
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 4 && !got; i++) client.write(`1f4\r\n${'a'.repeat(500)}\r\n`);
    await eventually(`a 413 (so far: ${JSON.stringify(got)})`, async () => (/request body exceeds 1000 bytes/.test(got) ? true : undefined));
    assert.match(got, /^HTTP\/1\.1 413 /);
  } finally {
    client.destroy();
    await proxy.stop();
    server.close();
  }
});

test('a head that arrives before its body is held intact while other responses pass through the thread', async () => {
  let release!: () => void;
  const later = new Promise<void>((r) => (release = r));
  const worker = await startHttpServer((req, res) => {
    if (req.url === '/slow') {
      res.writeHead(200, { 'x-which': 'slow', 'content-type': 'text/plain' });
      res.flushHeaders();
      void later.then(() => res.end('slow body'));
    } else {
      res.writeHead(200, { 'x-which': 'quick-quick-quick', 'x-other': 'other' });
      res.end('quick body');
    }
  });
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    const slow = fetchRaw(`${proxy.url}/slow`, { agent: false });
    // Let the slow head reach the ingress, then send others through before its body comes.
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 3; i++) assert.equal((await fetchRaw(`${proxy.url}/quick`, { agent: false })).headers['x-which'], 'quick-quick-quick');
    release();
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['x-which'], 'slow');
    assert.equal(reply.headers['content-type'], 'text/plain');
    assert.equal(reply.headers['x-other'], undefined);
    assert.equal(reply.body.toString(), 'slow body');
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('with no worker at all the ingress answers 503 with Retry-After', async () => {
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: 'http://127.0.0.1:9', weight: 0 }] } });
  try {
    const reply = await fetchRaw(`${proxy.url}/`);
    assert.equal(reply.status, 503);
    assert.equal(reply.headers['retry-after'], '1');
  } finally {
    await proxy.stop();
  }
});

test('limits: 503 over the concurrency limit, 413 over the body limit, 431 over the header limit', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const upstream = await startHttpServer((req, res) => {
    req.resume();
    if (req.url === '/hold') void gate.then(() => res.end('held'));
    else res.end('ok');
  });
  const proxy = await startProxy({
    threads: 1,
    limits: { maxConcurrentRequests: 1, maxBodyBytes: 1000, maxHeaderBytes: 1024 },
    driver: { kind: 'static', upstreams: [{ url: upstream.url }] },
  });
  try {
    const held = fetchRaw(`${proxy.url}/hold`, { agent: false });
    // Wait until the held request is really in flight.
    for (let i = 0; i < 200; i++) {
      const status = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/status`)).body.toString()) as { requests: { inflight: number } };
      if (status.requests.inflight === 1) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const over = await fetchRaw(`${proxy.url}/`, { agent: false });
    assert.equal(over.status, 503);
    assert.equal(over.headers['retry-after'], '1');
    release();
    assert.equal((await held).body.toString(), 'held');

    const sized = await fetchRaw(`${proxy.url}/`, { method: 'POST', body: Buffer.alloc(1001), agent: false });
    assert.equal(sized.status, 413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${proxy.url}/`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write(Buffer.alloc(600));
      req.end(Buffer.alloc(600));
    }).catch((e: Error) => e.message);
    assert.ok(chunked === 413 || /reset|hang up/.test(String(chunked)), `chunked over the limit: ${chunked}`);
    const fits = await fetchRaw(`${proxy.url}/`, { method: 'POST', body: Buffer.alloc(1000), agent: false });
    assert.equal(fits.status, 200);

    const big = await fetchRaw(`${proxy.url}/`, { headers: { 'x-big': 'a'.repeat(2000) }, agent: false });
    assert.equal(big.status, 431);
    assert.equal((await fetchRaw(`${proxy.url}/`, { agent: false })).status, 200);
  } finally {
    release();
    await proxy.stop();
    await upstream.close();
  }
});

/** Requests (and WebSockets) holding an admission, from the admin API. */
async function inflight(adminUrl: string): Promise<number> {
  return (JSON.parse((await fetchRaw(`${adminUrl}/api/status`)).body.toString()) as { requests: { inflight: number } }).requests.inflight;
}

/** Opens a WebSocket through the proxy: 'open', or the status of a refused upgrade. */
function openWebSocket(url: string): Promise<{ ws: WebSocket; status: number }> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, status: 101 }));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ ws, status: res.statusCode ?? 0 });
    });
    ws.once('error', reject);
  });
}

test('an open WebSocket holds one admission under maxConcurrentRequests until it closes', async () => {
  const [worker] = await startExampleWorkers(1);
  const refusing = await startHttpServer((_req, res) => res.writeHead(404).end('no sockets here'));
  const proxy = await startProxy({ threads: 1, limits: { maxConcurrentRequests: 1 }, driver: { kind: 'static', upstreams: [{ url: worker!.url }] } });
  const refusingProxy = await startProxy({ threads: 1, limits: { maxConcurrentRequests: 1 }, driver: { kind: 'static', upstreams: [{ url: refusing.url }] } });
  try {
    const wsUrl = `ws://127.0.0.1:${proxy.ingressPort}/`;
    const first = await openWebSocket(wsUrl);
    assert.equal(first.status, 101);
    assert.equal(await inflight(proxy.adminUrl), 1);
    const over = await fetchRaw(`${proxy.url}/`, { agent: false });
    assert.equal(over.status, 503);
    assert.equal(over.headers['retry-after'], '1');
    assert.equal((await openWebSocket(wsUrl)).status, 503);

    const closed = new Promise((resolve) => first.ws.once('close', resolve));
    first.ws.close(1000);
    await closed;
    await eventually('the admission to come back', async () => ((await inflight(proxy.adminUrl)) === 0 ? true : undefined));
    assert.equal((await fetchRaw(`${proxy.url}/`, { agent: false })).status, 200);
    // An upgrade the worker could not be sent (a repeated subprotocol) gets a 400, gives its
    // admission back and leaves the thread serving.
    const bad = await sendRaw(proxy.ingressPort, 'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, a\r\n\r\n');
    assert.match(bad.response, /^HTTP\/1\.1 400 /);
    assert.equal(await inflight(proxy.adminUrl), 0);
    const again = await openWebSocket(wsUrl);
    assert.equal(again.status, 101);
    again.ws.terminate();

    // A refused upgrade gives its admission back too: with a limit of 1, a leak would turn the
    // second refusal into a 503.
    const refusedUrl = `ws://127.0.0.1:${refusingProxy.ingressPort}/`;
    assert.equal((await openWebSocket(refusedUrl)).status, 404);
    assert.equal((await openWebSocket(refusedUrl)).status, 404);
    assert.equal(await inflight(refusingProxy.adminUrl), 0);
  } finally {
    await proxy.stop();
    await refusingProxy.stop();
    await refusing.close();
    await stopProcesses([worker!]);
  }
});

test('a Transfer-Encoding other than chunked, or two Host fields, get 400 and a closed connection; Connection cannot take Host away', async () => {
  const seen: string[] = [];
  const worker = await startHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method} host=${req.headers.host} body=${Buffer.concat(chunks).toString()}`);
      res.end('ok');
    });
  });
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    // uWS reads a chunked body whatever the codings; the ingress forwarded such a POST without
    // its body (gzip, or chunked not last) or re-framed it as plain chunked. The worker and the
    // ingress read two Host fields differently (its Host against X-Forwarded-Host).
    const refused: [string, string][] = [
      ['gzip', 'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
      ['chunked then gzip', 'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
      ['gzip then chunked', 'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
      ['two fields', 'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
      ['two Host fields', 'GET / HTTP/1.1\r\nHost: good.example\r\nHost: evil.example\r\n\r\n'],
    ];
    for (const [what, request] of refused) {
      const { response, closed } = await sendRaw(proxy.ingressPort, request);
      assert.match(response, /^HTTP\/1\.1 400 /, what);
      assert.ok(closed, `${what}: the connection closes`);
    }
    assert.deepEqual(seen, [], 'no refused request reached the worker');
    const chunked = await sendRaw(proxy.ingressPort, 'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.match(chunked.response, /^HTTP\/1\.1 200 /);
    // A client naming Host in Connection stripped it from the worker's request (Node answered 400).
    const named = await sendRaw(proxy.ingressPort, 'GET / HTTP/1.1\r\nHost: a.example\r\nConnection: host\r\n\r\n');
    assert.match(named.response, /^HTTP\/1\.1 200 /);
    assert.deepEqual(seen, ['POST host=a body=hello', 'GET host=a.example body=']);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('malformed requests, oversized heads and garbage get an error or a closed connection; serving goes on', async () => {
  const [worker] = await startExampleWorkers(1);
  const proxy = await startProxy({ threads: 2, driver: { kind: 'static', upstreams: [{ url: worker!.url }] } });
  try {
    const cases: [string, Buffer | string][] = [
      ['garbage', Buffer.from([0, 1, 2, 3, 255, 13, 10, 13, 10])],
      ['not a request line', 'HELLO THERE\r\n\r\n'],
      ['bad version', 'GET / HTTP/9.9\r\nHost: a\r\n\r\n'],
      ['both framings', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
      ['bad content-length', 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 12abc\r\n\r\n'],
      ['header without colon', 'GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n'],
      ['too many headers', `GET / HTTP/1.1\r\nHost: a\r\n${Array.from({ length: 200 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`],
      ['one huge header', `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`],
      ['1 MiB of random bytes', Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 2654435761) >>> 24))],
      ['bad chunk size', 'POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n'],
    ];
    // uWS answers some of these at once and drops others only at its 10 s idle timeout, so the
    // cases run side by side, each given up to 15 s, while normal requests keep being served.
    const outcomes = await Promise.all(cases.map(([, payload]) => sendRaw(proxy.ingressPort, payload, 15_000)));
    outcomes.forEach(({ response, closed }, i) => {
      const name = cases[i]![0];
      const status = /^HTTP\/1\.1 (\d{3})/.exec(response)?.[1];
      assert.ok(closed, `${name}: the connection stayed open (${JSON.stringify(response.slice(0, 80))})`);
      assert.ok(status === undefined || Number(status) >= 400, `${name}: accepted with ${status}`);
    });
    const after = await fetchRaw(`${proxy.url}/`, { agent: false });
    assert.equal(after.status, 200, 'serving stopped');
  } finally {
    await proxy.stop();
    await stopProcesses([worker!]);
  }
});

test('a client that leaves while both directions are backed up is ended after idleMs, as its own doing', async () => {
  // A chunked upload to an echo worker by a client that reads nothing: the ingress pauses the
  // client (so uWS no longer notices it leave) and probes it. Then the client resets.
  const echo = await startHttpServer((req, res) => (res.writeHead(200), req.pipe(res)));
  const proxy = await startProxy({ threads: 1, timeouts: { idleMs: 1500 }, driver: { kind: 'static', upstreams: [{ url: echo.url }] } });
  const adminJson = async <T>(path: string): Promise<T> => JSON.parse((await fetchRaw(`${proxy.adminUrl}${path}`, { agent: false })).body.toString()) as T;
  try {
    const client = connect({ host: '127.0.0.1', port: proxy.ingressPort });
    client.on('error', () => undefined);
    client.pause();
    client.write('POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n');
    const block = Buffer.alloc(1 << 16, 7);
    let stop = false;
    const pump = (): void => {
      while (!stop) if (!(client.write('10000\r\n'), client.write(block), client.write('\r\n'))) return void client.once('drain', pump);
    };
    pump();
    await new Promise((r) => setTimeout(r, 2000));
    stop = true;
    client.destroy(); // unread data: the kernel sends a reset
    // Before the fix this took 28-113 s and could count as the worker's failure.
    const deadline = Date.now() + 20_000;
    let worker: { inflight: number; errors: number } | undefined;
    let inflight: number;
    do {
      await new Promise((r) => setTimeout(r, 250));
      [worker] = await adminJson<{ inflight: number; errors: number }[]>('/api/workers');
      inflight = (await adminJson<{ requests: { inflight: number } }>('/api/status')).requests.inflight;
    } while ((worker!.inflight !== 0 || inflight !== 0) && Date.now() < deadline);
    assert.equal(worker!.inflight, 0, 'the request of the client that left is still in flight on the worker');
    assert.equal(inflight, 0, 'the request of the client that left still holds an admission slot');
    assert.equal(worker!.errors, 0, 'the client leaving was counted as the worker failing');
  } finally {
    await proxy.stop();
    await echo.close();
  }
});

test('a client that reads a chunked echo slowly but steadily while it uploads is not cut as stalled', async () => {
  // Both directions back up; the client takes about 512 KiB a second, far less than the worker
  // sends, but much more in every idleMs than the kernel's buffers release at a time (a receive
  // window reopens once a sixteenth of the buffer is free; a socket reads as writable once a
  // third is). uWS 20.30 gives no offset for chunked writes: before the probes measured progress
  // (a 1-byte write goes through only once uWS's buffer has drained), the client was cut after
  // about 9 s.
  const echo = await startHttpServer((req, res) => (res.writeHead(200), req.pipe(res)));
  const proxy = await startProxy({ threads: 1, timeouts: { idleMs: 3000 }, driver: { kind: 'static', upstreams: [{ url: echo.url }] } });
  try {
    const total = 6 << 20;
    const block = Buffer.alloc(1 << 16, 7);
    const received = await new Promise<number>((resolve, reject) => {
      let got = 0;
      const req = request(`${proxy.url}/echo`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.on('data', (c: Buffer) => {
          got += c.length;
          res.pause();
          setTimeout(() => res.resume(), Math.ceil(c.length / 512)); // 512 bytes a millisecond
        });
        res.on('end', () => resolve(got));
        res.on('error', reject);
      });
      req.on('error', reject);
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent += block.length;
          if (!req.write(block)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    assert.equal(received, total);
  } finally {
    await proxy.stop();
    await echo.close();
  }
});

test('the end of a burst a slow client fell behind on reaches it while the worker is silent', async () => {
  // A stream of events: a burst larger than the socket buffers, then nothing. The last write to a
  // client that is behind can fail on the last bytes the ingress has; uWS keeps them, and while
  // onWritable is registered its writable event leaves them for the next write. They waited for
  // the worker's next event (here none comes) in 5 of 6 runs before the drain on that event.
  const size = 8_000_000;
  const worker = await startHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(Buffer.alloc(size, 97));
  });
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  try {
    for (let round = 0; round < 2; round++) {
      const received = await new Promise<number>((resolve, reject) => {
        let got = 0;
        const req = request(`${proxy.url}/`, (res) => {
          // A generous bound: reading at the pace below takes about 4 s.
          const timer = setTimeout(() => (resolve(got), req.destroy()), 30_000);
          res.on('data', (c: Buffer) => {
            got += c.length;
            if (got === size) return (clearTimeout(timer), req.destroy(), resolve(got));
            res.pause();
            setTimeout(() => res.resume(), Math.ceil(c.length / 2048)); // 2 KiB a millisecond
          });
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(received, size, `round ${round + 1}: ${size - received} bytes of the burst did not arrive while the worker was silent`);
    }
  } finally {
    await proxy.stop();
    await worker.close();
  }
});

test('a worker answering before it read the upload does not leave the client connection stuck', { timeout: 60_000 }, async () => {
  // The worker reads no body, so the ingress pauses the client for backpressure; the worker's
  // 413 then completes the exchange. The client stayed paused (the rest of its body unread, its
  // connection useless) until uWS's idle timeout closed it about 12 s later.
  const sockets = new Set<Socket>();
  const worker = createServer((socket) => {
    sockets.add(socket);
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.pause();
      setTimeout(() => socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nbig!'), 500);
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => worker.listen(0, '127.0.0.1', resolve));
  const { port } = worker.address() as { port: number };
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: `http://127.0.0.1:${port}` }] } });
  const client = connect(proxy.ingressPort, '127.0.0.1');
  client.on('error', () => undefined);
  try {
    let received = '';
    let closed = false;
    let progress = (): void => undefined;
    client.on('data', (d: Buffer) => ((received += d.toString('latin1')), progress()));
    client.once('close', () => ((closed = true), progress()));
    const answers = (n: number): Promise<boolean> =>
      new Promise((resolve) => {
        progress = () => {
          if (received.split('HTTP/1.1 413').length - 1 >= n) resolve(true);
          else if (closed) resolve(false);
        };
        progress();
      });
    const size = 64 << 20;
    client.write(`POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: ${size}\r\n\r\n`);
    const block = Buffer.alloc(1 << 20, 97);
    for (let sent = 0; sent < size && !closed; sent += block.length) {
      if (!client.write(block)) await new Promise((resolve) => (client.once('drain', resolve), client.once('close', resolve)));
    }
    assert.equal(await answers(1), true, 'the 413');
    // The rest of the body was read and dropped: the connection takes the next request.
    client.write('GET /next HTTP/1.1\r\nhost: x\r\n\r\n');
    assert.equal(await answers(2), true, `a second answer on the same connection; got ${JSON.stringify(received.slice(0, 200))}`);
  } finally {
    client.destroy();
    await proxy.stop();
    // Paused, the worker's sockets would not see the proxy's FIN, and close() would wait for them.
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => worker.close(resolve));
  }
});

test('a chunked response to a client that reads nothing stops being read from the worker', async () => {
  // One 8 KiB chunk per upstream read: a failed write then falls on a read's last piece, the
  // probe resumes upstream reads, and each failed write must pause them again. It did not once,
  // and the held response grew by the worker's whole rate until idleMs.
  let sent = (): number => 0;
  let stop = false;
  const chunk = Buffer.alloc(8 * 1024, 97);
  const worker = await startHttpServer((_req, res) => {
    res.writeHead(200);
    const socket = res.socket!;
    sent = () => socket.bytesWritten - socket.writableLength;
    const pump = (): void => {
      if (stop) return;
      if (!res.write(chunk)) return void res.once('drain', () => setTimeout(pump, 1));
      setTimeout(pump, 1);
    };
    pump();
  });
  const proxy = await startProxy({ threads: 1, timeouts: { idleMs: 60_000 }, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  const client = connect(proxy.ingressPort, '127.0.0.1');
  client.on('error', () => undefined);
  try {
    client.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    client.pause();
    await new Promise((r) => setTimeout(r, 3000)); // every buffer on the way fills
    const before = sent();
    await new Promise((r) => setTimeout(r, 3000));
    const grew = sent() - before;
    assert.ok(before > 0, 'the worker sent nothing');
    assert.ok(grew < 1 << 20, `the ingress went on reading from the worker: ${grew} bytes in 3 s after the buffers filled`);
  } finally {
    stop = true;
    client.destroy();
    await proxy.stop();
    await worker.close();
  }
});

test('while the ingress drains, responses on open keep-alive connections say Connection: close', async () => {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const worker = await startHttpServer((req, res) => {
    if (req.url === '/hold') return void held.then(() => res.end('held\n'));
    res.end('ok\n');
  });
  const proxy = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  const socket = connect(proxy.ingressPort, '127.0.0.1');
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const answer = async (count: number): Promise<void> =>
    void (await eventually(`answer ${count}`, async () => ((received.match(/HTTP\/1\.1 200/g) ?? []).length >= count ? true : undefined)));
  try {
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /one HTTP/1.1\r\nHost: a\r\n\r\n');
    await answer(1);
    assert.doesNotMatch(received, /connection: close/i);
    // A request in flight keeps the drain going.
    const hold = fetchRaw(`${proxy.url}/hold`, { agent: false });
    await eventually('the held request at its worker', async () => (JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/status`)).body.toString()).requests.inflight === 1 ? true : undefined));
    const stopped = proxy.stop();
    await new Promise((r) => setTimeout(r, 300));
    socket.write('GET /two HTTP/1.1\r\nHost: a\r\n\r\n');
    await answer(2);
    const second = received.slice(received.lastIndexOf('HTTP/1.1 200'));
    assert.match(second, /\r\nconnection: close\r\n/i);
    // The client takes the hint and closes; uWS closes its side in turn.
    socket.end();
    await closed;
    release();
    assert.equal((await hold).status, 200);
    await stopped;
  } finally {
    release();
    socket.destroy();
    await worker.close();
  }
});
