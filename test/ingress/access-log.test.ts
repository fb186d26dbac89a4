import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { formatAccessLine, type AccessOutcome, type AccessRecord } from '../../src/ingress/access-log.js';
import { seededRandom } from '../../src/balancing/random.js';
import { startCli } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { sendRaw } from '../helpers/raw-http.js';
import { fetchRaw, startExampleWorkers, startProxy, stopProcesses } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp-dir.js';
import { freePort } from '../../src/drivers/free-port.js';

const KEYS = ['time', 'client', 'method', 'scheme', 'target', 'status', 'worker', 'durationMs', 'bytesIn', 'bytesOut', 'outcome'];

/** The file's lines, each parsed and checked to be one whole record. */
function records(path: string): AccessRecord[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text.split('\n').filter((l) => l !== '').map((line) => {
    const r = JSON.parse(line) as AccessRecord;
    assert.deepEqual(Object.keys(r), KEYS, line);
    return r;
  });
}

/** Waits until the log holds `count` records (lines reach the file within about a second). */
const recordsWhen = (path: string, count: number) => eventually(`${count} access log lines in ${path}`, async () => {
  const r = records(path);
  return r.length >= count ? r : undefined;
});

test('a formatted line is what JSON.stringify writes, on random records with every kind of character', () => {
  const random = seededRandom(11);
  const int = (n: number) => Math.floor(random() * n);
  // Quotes, backslashes, control characters, lone surrogates, non-ASCII: all must be escaped as JSON.stringify escapes them.
  const alphabet = ['a', '/', '?', '=', '"', '\\', '\n', '\t', '\u0000', '\u001f', '\u007f', 'é', '€', '😀', '\ud800', '\udfff', ' '];
  const text = () => Array.from({ length: int(40) }, () => alphabet[int(alphabet.length)]).join('');
  const outcomes: AccessOutcome[] = ['ok', 'worker-failed', 'client-ended', 'rejected'];
  for (let i = 0; i < 20_000; i++) {
    const record = {
      client: text(), method: text(), scheme: random() < 0.5 ? ('http' as const) : ('https' as const), target: text(), status: int(600), worker: random() < 0.2 ? null : text(),
      durationMs: random() < 0.1 ? int(100) : random() * 10 ** int(7), bytesIn: int(2 ** 40), bytesOut: int(2 ** 52), outcome: outcomes[int(4)]!,
      requestId: random() < 0.5 ? '' : text(),
    };
    const time = new Date(int(2 ** 42)).toISOString();
    // An empty requestId (request ids off) is left out of the line.
    const { requestId, ...rest } = record;
    const expected = `${JSON.stringify({ time, ...rest, durationMs: Math.round(record.durationMs * 1000) / 1000, ...(requestId === '' ? {} : { requestId }) })}\n`;
    assert.equal(formatAccessLine(time, record), expected);
  }
});

test('the access log has a JSON line per request: worker answers, failures, refusals, and a WebSocket', async () => {
  const workers = await startExampleWorkers(1);
  const path = join(tempDir('access'), 'access.log');
  const proxy = await startProxy({ accessLog: path, limits: { maxHeaderBytes: 1024 }, driver: { kind: 'static', upstreams: [{ url: workers[0]!.url, id: 'w1' }] } });
  try {
    const started = Date.now();
    // X-Forwarded-For from the client is forwarded, but the log names the socket's address. Node's
    // client sends the quotes percent-encoded; the log keeps the target as sent.
    assert.equal((await fetchRaw(`${proxy.url}/?q="quoted"`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status, 200);
    const body = Buffer.alloc(1000, 'a');
    assert.equal((await fetchRaw(`${proxy.url}/echo`, { method: 'POST', body })).status, 200);
    assert.equal((await fetchRaw(`${proxy.url}/work?status=503`)).status, 503);
    assert.equal((await fetchRaw(`${proxy.url}/`, { headers: { 'x-big': 'b'.repeat(2000) } })).status, 431);
    // Garbage is not a request: uWS closes the connection before anything reaches the ingress.
    await sendRaw(proxy.ingressPort, Buffer.from('\x00\x01 not http\r\n\r\n'));

    // Raw UTF-8 bytes in a target (clients percent-encode, not all of them) are logged as that text.
    // (Node's HTTP server, the example worker, answers such a target 400: the status is the worker's.)
    const utf8Status = Number(/^HTTP\/1\.1 (\d{3})/.exec((await sendRaw(proxy.ingressPort, Buffer.from('GET /?name=caf\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n', 'latin1'), 300)).response)?.[1]);

    const ws = new WebSocket(`ws://127.0.0.1:${proxy.ingressPort}/chat`);
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    const echoed = new Promise((resolve) => ws.once('message', resolve));
    ws.send('hello');
    await echoed;
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.close(1000);
    await closed;

    const logged = await recordsWhen(path, 6);
    // Found by what they are, not where: each ingress thread writes its lines out on its own,
    // up to a second after its requests end, so the two threads' lines may come in any order.
    const line = (test: (r: AccessRecord) => boolean): AccessRecord | undefined => logged.find(test);
    const utf8 = line((r) => r.target.startsWith('/?name='));
    const get = line((r) => r.target.startsWith('/?q='));
    const post = line((r) => r.method === 'POST');
    const failed = line((r) => r.target.startsWith('/work'));
    const refused = line((r) => r.status === 431);
    const socket = line((r) => r.target === '/chat');
    assert.deepEqual({ ...get!, time: undefined, durationMs: undefined }, {
      time: undefined, client: '127.0.0.1', method: 'GET', scheme: 'http', target: '/?q=%22quoted%22', status: 200, worker: 'w1', durationMs: undefined, bytesIn: 0, bytesOut: 3, outcome: 'ok',
    });
    assert.ok(get!.durationMs >= 0 && get!.durationMs < 60_000);
    const at = Date.parse(get!.time);
    assert.ok(at >= started - 1000 && at <= Date.now(), get!.time);
    assert.deepEqual([post!.method, post!.target, post!.status, post!.bytesIn, post!.bytesOut, post!.outcome], ['POST', '/echo', 200, 1000, 1000, 'ok']);
    assert.deepEqual([failed!.target, failed!.status, failed!.worker, failed!.outcome], ['/work?status=503', 503, 'w1', 'worker-failed']);
    assert.deepEqual([refused!.status, refused!.worker, refused!.outcome], [431, null, 'rejected']);
    assert.deepEqual([socket!.method, socket!.target, socket!.status, socket!.worker, socket!.bytesIn, socket!.bytesOut, socket!.outcome], ['GET', '/chat', 101, 'w1', 5, 5, 'ok']);
    assert.deepEqual([utf8!.target, utf8!.status, utf8!.worker], ['/?name=caf\u00e9', utf8Status, 'w1']);
    assert.equal(records(path).length, 6);
  } finally {
    await proxy.stop();
    await stopProcesses(workers);
  }
});

test('SIGUSR2 reopens the access log after rotation moved it; a path that cannot be written stops the start', async () => {
  const workers = await startExampleWorkers(1);
  const dir = tempDir('access');
  const path = join(dir, 'access.log');
  const cli = await startCli(['--port', '0', '--admin-port', '0', '--threads', '2', '--roles', 'ingress', '--upstreams', workers[0]!.url, '--access-log', path]);
  try {
    const url = `http://127.0.0.1:${cli.ingressPort}`;
    // New connections, so both threads are likely to write; either way every line must land.
    for (let i = 0; i < 6; i++) assert.equal((await fetchRaw(`${url}/?before=${i}`, { agent: false })).status, 200);
    await recordsWhen(path, 6);
    renameSync(path, `${path}.1`);
    // Before the reopen, lines still go to the moved file (the threads hold it open).
    assert.equal((await fetchRaw(`${url}/?moved`, { agent: false })).status, 200);
    await recordsWhen(`${path}.1`, 7);
    cli.child.kill('SIGUSR2');
    await eventually('the reopen', async () => (cli.stderr().includes('SIGUSR2: access log reopened') ? true : undefined));
    for (let i = 0; i < 4; i++) assert.equal((await fetchRaw(`${url}/?after=${i}`, { agent: false })).status, 200);
    const fresh = await recordsWhen(path, 4);
    assert.deepEqual(fresh.map((r) => r.target).sort(), ['/?after=0', '/?after=1', '/?after=2', '/?after=3']);
    assert.deepEqual(records(`${path}.1`).map((r) => r.target).sort(), [...Array.from({ length: 6 }, (_, i) => `/?before=${i}`), '/?moved'].sort());
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exited;
    await stopProcesses(workers);
  }
  // A directory that does not exist: one error naming the field, and nothing runs.
  await assert.rejects(
    startProxy({ accessLog: join(dir, 'missing', 'access.log'), driver: { kind: 'static', upstreams: [{ url: workers[0]!.url }] } }),
    /accessLog: cannot append to .*missing\/access\.log/,
  );
});

test('a request whose worker failed is logged as worker-failed under that worker, whatever the ingress then answered', async () => {
  const path = join(tempDir('access-failed'), 'access.log');
  // Nothing listens on the port: each attempt is refused, and the retry finds the same worker.
  const port = await freePort('127.0.0.1');
  const proxy = await startProxy({ threads: 1, accessLog: path, outlierDetection: { consecutiveFailures: 0 }, driver: { kind: 'static', upstreams: [{ url: `http://127.0.0.1:${port}`, id: 'gone' }] } });
  try {
    assert.equal((await fetchRaw(`${proxy.url}/x`)).status, 502);
    const [line] = await recordsWhen(path, 1);
    assert.deepEqual([line!.status, line!.worker, line!.outcome], [502, 'gone', 'worker-failed']);
  } finally {
    await proxy.stop();
  }
});

test('a worker that dies mid-body is logged as worker-failed, with the status the client got, though the client is cut', async () => {
  const path = join(tempDir('access-cut'), 'access.log');
  const worker = createServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc', () => socket.destroy())));
  await new Promise<void>((resolve) => worker.listen(0, '127.0.0.1', resolve));
  const proxy = await startProxy({ threads: 1, accessLog: path, outlierDetection: { consecutiveFailures: 0 }, driver: { kind: 'static', upstreams: [{ url: `http://127.0.0.1:${(worker.address() as AddressInfo).port}`, id: 'dies' }] } });
  try {
    const cut = await sendRaw(proxy.ingressPort, 'GET /cut HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.match(cut.response, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nabc$/);
    assert.equal(cut.closed, true);
    const [line] = await recordsWhen(path, 1);
    assert.deepEqual([line!.target, line!.status, line!.worker, line!.bytesOut, line!.outcome], ['/cut', 200, 'dies', 3, 'worker-failed']);
  } finally {
    await proxy.stop();
    worker.close();
  }
});
