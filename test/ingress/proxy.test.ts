import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { echoUpload } from '../helpers/echo-upload.js';
import { sendRaw } from '../helpers/raw-http.js';
import { fetchRaw, startExampleWorkers, startHttpServer, startProxy, stopProcesses, type ExampleWorker } from '../helpers/servers.js';

let workers: ExampleWorker[];
let proxy: Awaited<ReturnType<typeof startProxy>>;

before(async () => {
  workers = await startExampleWorkers(2);
  proxy = await startProxy({ driver: { kind: 'static', upstreams: workers.map((w) => ({ url: w.url, id: w.id })) } });
});

after(async () => {
  await proxy?.stop();
  await stopProcesses(workers ?? []);
});

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('GET / reaches both workers and answers with their ids', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const reply = await fetchRaw(`${proxy.url}/`);
    assert.equal(reply.status, 200);
    seen.add(reply.body.toString().trim());
  }
  assert.deepEqual([...seen].sort(), ['w1', 'w2']);
});

for (const size of [0, 1, 64 * 1024, 50 * 1024 * 1024]) {
  for (const framing of ['content-length', 'chunked'] as const) {
    test(`POST /echo round-trips ${size} bytes byte-exact (${framing})`, async () => {
      const body = randomBytes(size);
      const reply = await new Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }>((resolve, reject) => {
        const req = request(`${proxy.url}/echo`, { method: 'POST', headers: framing === 'chunked' ? { 'transfer-encoding': 'chunked' } : { 'content-length': size } }, (res) => {
          const chunks: Buffer[] = [];
          let ended = false;
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            ended = true;
            resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers });
          });
          // A response cut short fails the test at once instead of leaving it waiting.
          res.on('close', () => ended || reject(new Error(`the response was cut after ${chunks.reduce((n, c) => n + c.length, 0)} of ${size} bytes`)));
        });
        req.on('error', reject);
        // Several writes, so a chunked body really arrives in chunks.
        for (let off = 0; off < size; off += 1 << 20) req.write(body.subarray(off, Math.min(size, off + (1 << 20))));
        req.end();
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.length, size);
      assert.equal(sha256(reply.body), sha256(body));
    });
  }
}

/** Body (or WebSocket message) bytes to and from all workers, from the admin API. */
async function byteTotals(): Promise<{ in: number; out: number }> {
  const list = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as { bytesIn: number; bytesOut: number }[];
  return { in: list.reduce((a, w) => a + w.bytesIn, 0), out: list.reduce((a, w) => a + w.bytesOut, 0) };
}

test('body bytes are counted per worker in both directions, as they pass', async () => {
  const before = await byteTotals();
  const body = randomBytes(3 * 1024 * 1024 + 7);
  const reply = await fetchRaw(`${proxy.url}/echo`, { method: 'POST', body });
  assert.equal(reply.body.length, body.length);
  const after = await byteTotals();
  assert.equal(after.in - before.in, body.length);
  assert.equal(after.out - before.out, body.length);
});

// Both directions back up at once: the client uploads faster than it reads the echo. This once
// stalled both ways (a paused uWS socket is not polled for writability) and broke the chunked
// framing of the response (uWS dropped a corked write that did not fit its cork buffer).
for (const framing of ['chunked', 'content-length'] as const) {
  test(`an echo read slowly while the upload continues keeps every byte and its framing (${framing})`, async () => {
    const total = 96 << 20;
    const echo = await echoUpload(`${proxy.url}/echo`, total, framing, true);
    assert.equal(echo.receivedBytes, total);
    assert.equal(echo.receivedSha256, echo.sentSha256);
  });
}

test('query strings, methods and end-to-end headers reach the worker; hop-by-hop ones do not', async () => {
  const reply = await fetchRaw(`${proxy.url}/headers?a=1&b=%20x`, {
    method: 'DELETE',
    headers: {
      connection: 'keep-alive, x-private',
      'x-private': 'must not pass',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      'proxy-connection': 'keep-alive',
      upgrade: 'foo/1',
      'x-custom': 'v1',
      // UTF-8 bytes (Node sends a header string as latin1, one byte per character).
      'x-utf8': Buffer.from('naïve café, x', 'utf8').toString('latin1'),
      'x-forwarded-for': '203.0.113.7',
      host: 'example.test:8080',
    },
  });
  assert.equal(reply.status, 200);
  const seen = JSON.parse(reply.body.toString()) as { method: string; url: string; headers: Record<string, string> };
  assert.equal(seen.method, 'DELETE');
  assert.equal(seen.url, '/headers?a=1&b=%20x');
  assert.equal(seen.headers['x-custom'], 'v1');
  assert.equal(Buffer.from(seen.headers['x-utf8']!, 'latin1').toString('utf8'), 'naïve café, x');
  assert.equal(seen.headers.host, 'example.test:8080');
  for (const gone of ['x-private', 'keep-alive', 'te', 'proxy-connection', 'upgrade']) assert.equal(seen.headers[gone], undefined, `${gone} was forwarded`);
  assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-host'], 'example.test:8080');
});

test('responses keep status, reason and end-to-end headers; hop-by-hop ones are dropped', async () => {
  const upstream = await startHttpServer((req, res) => {
    res.writeHead(418, 'Short And Stout', { 'x-one': 'a', connection: 'x-secret', 'x-secret': 'hidden', 'set-cookie': ['a=1', 'b=2'] });
    res.end('teapot');
  });
  const p = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: upstream.url }] } });
  try {
    const raw = await new Promise<string>((resolve, reject) => {
      const req = request(`${p.url}/`, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(`${res.statusCode} ${res.statusMessage}|${JSON.stringify(res.headers)}|${body}`));
      });
      req.on('error', reject);
      req.end();
    });
    const [statusLine, headersJson, body] = raw.split('|');
    const headers = JSON.parse(headersJson!) as Record<string, unknown>;
    assert.equal(statusLine, '418 Short And Stout');
    assert.equal(body, 'teapot');
    assert.equal(headers['x-one'], 'a');
    assert.deepEqual(headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(headers['x-secret'], undefined);
  } finally {
    await p.stop();
    await upstream.close();
  }
});

test("a client's Connection: close is answered with Connection: close, on proxied and refused requests, and the connection ends", async () => {
  const port = Number(new URL(proxy.url).port);
  // Alone (uWS closes by itself), in a list or a second field (uWS would leave those open: the
  // ingress closes them, RFC 9112 section 9.6), and a 5-character option uWS closes on too.
  const closing: [fields: string, uwsCloses: boolean][] = [
    ['Connection: close', true],
    ['Connection: Close', true],
    ['Connection: xyzzy', true],
    ['Connection: TE, close', false],
    ['Connection: keep-alive\r\nConnection: CLOSE', false],
  ];
  for (const [fields, uwsCloses] of closing) {
    // A sized answer, and a streamed one (the example worker's GET /), after which the ingress
    // cannot close (uWS.js 20.30 has no way to once a body went out in parts): it says close, and
    // leaves the closing to the client that asked for it.
    for (const [target, sized] of [['/work?bytes=3', true], ['/', false]] as const) {
      const proxied = await sendRaw(port, `GET ${target} HTTP/1.1\r\nHost: a\r\n${fields}\r\n\r\n`, 300);
      assert.match(proxied.response, /^HTTP\/1\.1 200 /);
      assert.equal(proxied.response.match(/\r\nconnection: close\r\n/gi)?.length, 1, proxied.response);
      if (sized || uwsCloses) assert.equal(proxied.closed, true, `${target} ${fields}`);
    }
  }
  // Refused by the ingress itself (two Host fields), which closes either way: one field says so.
  for (const fields of ['Connection: close\r\n', 'Connection: TE, close\r\n', '']) {
    const refused = await sendRaw(port, `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n${fields}\r\n`);
    assert.match(refused.response, /^HTTP\/1\.1 400 /);
    assert.equal(refused.response.match(/\r\nconnection: close\r\n/gi)?.length, 1, refused.response);
    assert.equal(refused.closed, true);
  }
  // Without it, the connection stays and the response does not say close.
  for (const fields of ['', 'Connection: keep-alive\r\n', 'Connection: TE, enclosed\r\n']) {
    const kept = await sendRaw(port, `GET / HTTP/1.1\r\nHost: a\r\n${fields}\r\n`, 300);
    assert.match(kept.response, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(kept.response, /connection: close/i);
    assert.equal(kept.closed, false);
  }
});

test('while draining, responses on kept connections say close, and those that end before their body goes out close', { timeout: 20_000 }, async () => {
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const worker = await startHttpServer((req, res) => {
    if (req.url === '/hold') return void held.then(() => res.end('held'));
    if (req.url === '/empty') return void res.end();
    if (req.url === '/stream') {
      res.write('a');
      return void setTimeout(() => res.end('b'), 20);
    }
    res.end('sized');
  });
  const draining = await startProxy({ threads: 1, timeouts: { shutdownMs: 30_000 }, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  const events: string[] = [];
  /** A kept connection that logs its responses' status and close field, and its end. */
  const open = async (name: string): Promise<Socket> => {
    const socket = connect({ host: '127.0.0.1', port: draining.ingressPort });
    // A head may come in pieces: the heads are found in all received so far (no body here holds one).
    let received = '';
    let heads = 0;
    socket.on('data', (c: Buffer) => {
      received += c.toString('latin1');
      for (const head of (received.match(/HTTP\/1\.1 \d+[^]*?\r\n\r\n/g) ?? []).slice(heads)) {
        events.push(`${name} ${head.slice(9, 12)} ${(head.match(/\r\nconnection: close\r\n/gi) ?? []).length}`);
        heads++;
      }
    });
    socket.on('close', () => events.push(`${name} closed`));
    await new Promise((resolve) => socket.once('connect', resolve));
    return socket;
  };
  const responses = async (name: string, n: number): Promise<void> => {
    while (events.filter((e) => e.startsWith(`${name} `) && e !== `${name} closed`).length < n) await new Promise((r) => setTimeout(r, 10));
  };
  let stopped: Promise<void> | null = null;
  try {
    const [sized, empty, stream, nobody, hold] = await Promise.all(['sized', 'empty', 'stream', 'nobody', 'hold'].map(open));
    sized!.write('GET /sized HTTP/1.1\r\nHost: a\r\n\r\n');
    await responses('sized', 1);
    // A request in flight holds the drain open.
    hold!.write('GET /hold HTTP/1.1\r\nHost: a\r\n\r\n');
    const inflight = async (): Promise<number> => (JSON.parse((await fetchRaw(`${draining.adminUrl}/api/status`)).body.toString()) as { requests: { inflight: number } }).requests.inflight;
    while ((await inflight()) === 0) await new Promise((r) => setTimeout(r, 10));
    stopped = draining.stop();
    await new Promise((r) => setTimeout(r, 200));
    sized!.write('GET /sized HTTP/1.1\r\nHost: a\r\n\r\n');
    empty!.write('GET /empty HTTP/1.1\r\nHost: a\r\n\r\n');
    nobody!.write('HEAD /sized HTTP/1.1\r\nHost: a\r\n\r\n');
    stream!.write('GET /stream HTTP/1.1\r\nHost: a\r\n\r\n');
    await Promise.all([responses('sized', 2), responses('empty', 1), responses('stream', 1), responses('nobody', 1)]);
    while (!events.includes('sized closed') || !events.includes('empty closed')) await new Promise((r) => setTimeout(r, 10));
    // Closed by the ingress while the held request still runs: the drain has not ended.
    assert.equal(events.includes('hold 200 1'), false, events.join(', '));
    release();
    await stopped;
    // Each says close exactly once; before the drain, nothing did.
    // A streamed body and a HEAD response (204 and 304 alike) say close, and close with the drain.
    for (const expected of ['sized 200 0', 'sized 200 1', 'empty 200 1', 'stream 200 1', 'nobody 200 1', 'hold 200 1', 'stream closed', 'nobody closed', 'hold closed']) {
      assert.ok(events.includes(expected), `${expected} in ${events.join(', ')}`);
    }
    assert.equal(events.length, 11, events.join(', '));
    // Those closed with the drain's end, after the held response (uWS's idle timeout would close
    // them too, after about 10 s: well after the others close, or they would not have).
    const at = (event: string): number => events.indexOf(event);
    assert.ok(at('sized closed') < at('hold 200 1') && at('empty closed') < at('hold 200 1'), events.join(', '));
    assert.ok(at('stream closed') > at('hold 200 1') && at('nobody closed') > at('hold 200 1'), events.join(', '));
  } finally {
    release();
    await (stopped ?? draining.stop());
    await worker.close();
  }
});

test('a response body in a transfer coding beside chunked is refused with 502, not passed on undecoded', async () => {
  const upstream = createNetServer((socket) =>
    socket.on('data', (d) => {
      const coding = d.toString('latin1').startsWith('HEAD') || d.toString('latin1').includes('/gzip') ? 'gzip, chunked' : 'chunked';
      socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\n\r\n${d.toString('latin1').startsWith('HEAD') ? '' : '4\r\nbody\r\n0\r\n\r\n'}`);
    }),
  );
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const p = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: `http://127.0.0.1:${port}` }] } });
  try {
    const coded = await fetchRaw(`${p.url}/gzip`, { agent: false });
    assert.equal(coded.status, 502);
    assert.match(coded.body.toString(), /Transfer-Encoding other than chunked/);
    assert.equal((await fetchRaw(`${p.url}/plain`, { agent: false })).body.toString(), 'body');
    // No body, nothing lost: a HEAD response's coding describes a body it does not have.
    assert.equal((await fetchRaw(`${p.url}/gzip`, { method: 'HEAD', agent: false })).status, 200);
  } finally {
    await p.stop();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test('a 40 KiB response head and a latin1 field value pass intact', async () => {
  const big = Array.from({ length: 20 }, (_, i) => [`x-big-${i}`, String.fromCharCode(97 + i).repeat(2000)] as const);
  // Raw bytes: Node's own server would send the value as UTF-8.
  const head = Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK\r\n${big.map(([n, v]) => `${n}: ${v}\r\n`).join('')}x-latin1: caf`),
    Buffer.from([0xe9]),
    Buffer.from('\r\ncontent-length: 2\r\n\r\nok'),
  ]);
  const upstream = createNetServer((socket) => socket.on('data', () => socket.write(head)));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const p = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: `http://127.0.0.1:${port}` }] } });
  try {
    const reply = await fetchRaw(`${p.url}/`);
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'ok');
    for (const [name, value] of big) assert.equal(reply.headers[name], value, name);
    // Node's client decodes field values as latin1.
    assert.deepEqual(Buffer.from(String(reply.headers['x-latin1']), 'latin1'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  } finally {
    await p.stop();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test('a read holding thousands of small chunks reaches the client whole and in order', async () => {
  // The ingress writes a read's chunks to the client together, not one send() each.
  const pieces = Array.from({ length: 5000 }, (_, i) => `${i},`);
  const chunked = pieces.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join('');
  const upstream = createNetServer((socket) => socket.on('data', () => socket.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${chunked}0\r\n\r\n`)));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const p = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: `http://127.0.0.1:${port}` }] } });
  try {
    for (let i = 0; i < 3; i++) {
      const reply = await fetchRaw(`${p.url}/`);
      assert.equal(reply.status, 200);
      assert.equal(reply.body.toString(), pieces.join(''));
    }
  } finally {
    await p.stop();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

test('HEAD, 204 and 304 responses carry no body', async () => {
  const upstream = await startHttpServer((req, res) => {
    if (req.url === '/204') res.writeHead(204).end();
    else if (req.url === '/304') res.writeHead(304, { etag: '"x"' }).end();
    else res.writeHead(200, { 'content-length': '11' }).end(req.method === 'HEAD' ? undefined : 'hello world');
  });
  const p = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: upstream.url }] } });
  try {
    const head = await fetchRaw(`${p.url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '11');
    assert.equal(head.body.length, 0);
    const noContent = await fetchRaw(`${p.url}/204`);
    assert.equal(noContent.status, 204);
    assert.equal(noContent.body.length, 0);
    const notModified = await fetchRaw(`${p.url}/304`);
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, '"x"');
    // The same keep-alive connection still works after bodiless responses.
    const after = await fetchRaw(`${p.url}/`);
    assert.equal(after.body.toString(), 'hello world');
  } finally {
    await p.stop();
    await upstream.close();
  }
});

test('the first chunk of a slow chunked response reaches the client before the worker finishes', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const upstream = await startHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first\n');
    // The worker finishes only after the client has seen the first chunk.
    void released.then(() => res.end('last\n'));
  });
  const p = await startProxy({ threads: 1, driver: { kind: 'static', upstreams: [{ url: upstream.url }] } });
  try {
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = request(`${p.url}/`, (res) => {
        assert.equal(res.headers['transfer-encoding'], 'chunked');
        res.on('data', (c: Buffer) => {
          events.push(c.toString());
          if (events.length === 1) release();
        });
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(events.join(''), 'first\nlast\n');
    assert.equal(events[0], 'first\n');
  } finally {
    release();
    await p.stop();
    await upstream.close();
  }
});

test('WebSocket messages echo through the proxy, text and binary', async () => {
  const before = await byteTotals();
  const ws = new WebSocket(`ws://127.0.0.1:${proxy.ingressPort}/chat?room=1`);
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  const received: { data: Buffer; isBinary: boolean }[] = [];
  const got = new Promise<void>((resolve) =>
    ws.on('message', (data, isBinary) => {
      received.push({ data: data as Buffer, isBinary });
      if (received.length === 3) resolve();
    }),
  );
  const big = randomBytes(200_000);
  ws.send('hello');
  ws.send(Buffer.from([1, 2, 3]), { binary: true });
  ws.send(big, { binary: true });
  await got;
  assert.equal(received[0]!.data.toString(), 'hello');
  assert.equal(received[0]!.isBinary, false);
  assert.deepEqual([...received[1]!.data], [1, 2, 3]);
  assert.equal(received[1]!.isBinary, true);
  assert.equal(sha256(received[2]!.data), sha256(big));
  // Message bytes count as the worker's traffic, both ways.
  const after = await byteTotals();
  assert.equal(after.in - before.in, 5 + 3 + big.length);
  assert.equal(after.out - before.out, 5 + 3 + big.length);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.close(4001, 'bye');
  assert.equal(await closed, 4001);
});

test("a worker refusing a WebSocket upgrade gives the client its answer; one with a body over 64 KiB a 502", async () => {
  const upstream = await startHttpServer((req, res) => {
    if (req.url === '/big') return void res.writeHead(403).end(Buffer.alloc(65 * 1024, 97));
    res.writeHead(401, 'Who Are You', { 'www-authenticate': 'Bearer realm="ws"', connection: 'close', 'x-why': 'no token' }).end('no sockets here');
  });
  // A Content-Type the rules set replaces the worker's, as on any proxied response.
  const p = await startProxy({ threads: 1, headers: { response: { set: { 'content-type': 'text/x-rule', 'x-frame-options': 'DENY' } } }, driver: { kind: 'static', upstreams: [{ url: upstream.url }] } });
  try {
    const refusal = (path: string) =>
      new Promise<{ status: number; reason: string; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${p.ingressPort}${path}`);
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', headers: res.headers, body }));
        });
        ws.once('error', reject);
      });
    // A 401 read as a 502 looked like an outage to the client and its monitoring.
    const refused = await refusal('/');
    assert.equal(refused.status, 401);
    assert.equal(refused.reason, 'Who Are You');
    assert.equal(refused.headers['www-authenticate'], 'Bearer realm="ws"');
    assert.equal(refused.headers['x-why'], 'no token');
    assert.equal(refused.headers.connection, 'close');
    assert.equal(refused.body, 'no sockets here');
    assert.equal(refused.headers['content-type'], 'text/x-rule');
    assert.equal(refused.headers['x-frame-options'], 'DENY');
    const big = await refusal('/big');
    assert.equal(big.status, 502);
    assert.match(big.body, /refused the WebSocket upgrade with status 403, and its body did not come whole within 65536 bytes/);
  } finally {
    await p.stop();
    await upstream.close();
  }
});

test('the admin API lists workers with their counters and latency quantiles', async () => {
  for (let i = 0; i < 20; i++) await fetchRaw(`${proxy.url}/`);
  const status = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/status`)).body.toString()) as { ingress: { threads: number }; workers: { ready: number } };
  assert.equal(status.ingress.threads, 2);
  assert.equal(status.workers.ready, 2);
  const list = JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/workers`)).body.toString()) as Record<string, unknown>[];
  assert.equal(list.length, 2);
  for (const w of list) {
    for (const field of ['id', 'address', 'state', 'weight', 'inflight', 'completed', 'errors', 'p50Ms', 'p99Ms']) assert.ok(field in w, `missing ${field}`);
    assert.equal(w.state, 'ready');
    assert.ok((w.completed as number) > 0);
    assert.ok((w.p99Ms as number) >= (w.p50Ms as number));
  }
  const missing = await fetchRaw(`${proxy.adminUrl}/api/nope`);
  assert.equal(missing.status, 404);
});

test('idle upstream connections that time out leave the pool, not only those a burst reaches again', async () => {
  let open = 0;
  const worker = await startHttpServer((_req, res) => setTimeout(() => res.end('ok'), 100));
  worker.server.on('connection', (socket) => (open++, socket.on('close', () => open--)));
  const proxy = await startProxy({ threads: 1, timeouts: { keepAliveMs: 1000 }, driver: { kind: 'static', upstreams: [{ url: worker.url }] } });
  const idle = async (): Promise<number> => JSON.parse((await fetchRaw(`${proxy.adminUrl}/api/threads`)).body.toString())[0].idleUpstreamConnections;
  try {
    await Promise.all(Array.from({ length: 50 }, () => fetchRaw(`${proxy.url}/`, { agent: false })));
    assert.ok((await idle()) >= 40, 'the burst left its connections idle in the pool');
    // One request at a time for 2.5 s: the newest connection is reused, the rest time out.
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      await fetchRaw(`${proxy.url}/`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(open <= 2, `the worker has ${open} connections open`);
    // They were counted (and kept) as idle until a burst popped them: 50 here before the fix.
    assert.ok((await idle()) <= 2, `idle upstream connections: ${await idle()}`);
  } finally {
    await proxy.stop();
    await worker.close();
  }
});
