import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { resolveConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { cookieValue, setCookieValue, stickyToken, type StickySettings } from '../../src/ingress/sticky.js';
import { eventually } from '../helpers/eventually.js';
import { fetchRaw, startHttpServer, startProxy, type Reply } from '../helpers/servers.js';

const IDS = ['a', 'b', 'c'];
const COOKIE = 'wb_worker';

/**
 * Workers that answer with their id, echo the Cookie field they got, set a cookie of their own,
 * and greet a WebSocket with their id.
 */
async function startWorkers() {
  return Promise.all(
    IDS.map(async (id) => {
      const server = await startHttpServer((req, res) => {
        res.writeHead(200, { 'x-seen-cookie': req.headers.cookie ?? '', 'set-cookie': `app=${id}; Path=/` });
        res.end(`${id}\n`);
      });
      const sockets = new WebSocketServer({ server: server.server });
      sockets.on('connection', (ws) => ws.send(id));
      return { id, ...server };
    }),
  );
}

/** Our cookie's value in a response's Set-Cookie fields, or undefined when there is none. */
function pinned(reply: Reply): string | undefined {
  const ours = (reply.headers['set-cookie'] ?? []).filter((c) => c.startsWith(`${COOKIE}=`));
  assert.ok(ours.length <= 1, `more than one ${COOKIE} cookie: ${ours.join(' | ')}`);
  return ours[0]?.slice(COOKIE.length + 1).split(';')[0];
}

// A new connection per request, so both ingress threads take part.
const get = (url: string, cookie?: string): Promise<Reply> => fetchRaw(url, { headers: cookie === undefined ? {} : { cookie }, agent: false });

function wsGreeting(url: string, cookie: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { cookie } });
    ws.once('message', (data) => {
      resolve(String(data));
      ws.close();
    });
    ws.once('error', reject);
    // A session dropped before the greeting fails here rather than hanging the test.
    ws.once('close', (code) => reject(new Error(`the WebSocket closed (${code}) before its greeting`)));
  });
}

test('a cookie pins a client to its worker over both threads and WebSockets; an unknown or stale one is replaced, a drained worker lets its clients go', async () => {
  const workers = await startWorkers();
  const proxy = await startProxy({ stickySessions: {}, driver: { kind: 'static', upstreams: workers.map((w) => ({ url: w.url, id: w.id })) } });
  try {
    // Without the cookie the policy spreads requests (so what follows is the cookie's doing).
    const spread = new Set<string>();
    for (let i = 0; i < 30; i++) spread.add((await get(proxy.url)).body.toString().trim());
    assert.ok(spread.size > 1, `30 requests without a cookie all went to ${[...spread].join()}`);

    const first = await get(proxy.url);
    const home = first.body.toString().trim();
    const token = pinned(first);
    assert.equal(token, stickyToken(home), 'the first response pins the client to the worker that answered');
    const line = first.headers['set-cookie']!.find((c) => c.startsWith(`${COOKIE}=`))!;
    assert.equal(line, `${COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax`, 'no Secure over plain HTTP');
    assert.ok(first.headers['set-cookie']!.includes(`app=${home}; Path=/`), "the worker's own cookie is kept");

    const cookie = `other=1; ${COOKIE}=${token}`;
    for (let i = 0; i < 30; i++) {
      const reply = await get(proxy.url, cookie);
      assert.equal(reply.body.toString().trim(), home, `request ${i} left the pinned worker`);
      assert.equal(pinned(reply), undefined, 'a client already pinned to its worker gets no new cookie');
      assert.equal(reply.headers['x-seen-cookie'], cookie, 'the Cookie field reaches the worker as sent');
    }
    for (let i = 0; i < 10; i++) assert.equal(await wsGreeting(`ws://127.0.0.1:${proxy.ingressPort}/`, cookie), home, 'a WebSocket follows the cookie');

    // A token that names no worker: served by the policy, and pinned to whoever answered.
    const stranger = await get(proxy.url, `${COOKIE}=0123456789abcdef`);
    assert.equal(stranger.status, 200);
    assert.equal(pinned(stranger), stickyToken(stranger.body.toString().trim()));

    // Draining the worker releases its clients: they move, get a cookie for their new worker, and stay there.
    const drained = await fetchRaw(`${proxy.adminUrl}/api/workers/drain`, { method: 'POST', body: JSON.stringify({ id: home }) });
    assert.equal(drained.status, 200);
    const moved = await eventually("the drained worker's client to move", async () => {
      const reply = await get(proxy.url, cookie);
      return reply.body.toString().trim() !== home ? reply : undefined;
    });
    const next = moved.body.toString().trim();
    assert.equal(pinned(moved), stickyToken(next), 'the moved client is pinned to its new worker');
    const ready = await fetchRaw(`${proxy.adminUrl}/api/workers/ready`, { method: 'POST', body: JSON.stringify({ id: home }) });
    assert.equal(ready.status, 200);
    for (let i = 0; i < 10; i++) assert.equal((await get(proxy.url, `${COOKIE}=${stickyToken(next)}`)).body.toString().trim(), next);
  } finally {
    await proxy.stop();
    await Promise.all(workers.map((w) => w.close()));
  }
});

test("a GET pinned to a worker that stopped is retried on another, which it is pinned to from then on", async () => {
  const workers = await startWorkers();
  // No outlier detection: the dead worker stays in the table, so its cookie still finds it.
  const proxy = await startProxy({ threads: 1, stickySessions: { cookie: 'route', maxAgeS: 3600 }, outlierDetection: { consecutiveFailures: 0 }, driver: { kind: 'static', upstreams: workers.map((w) => ({ url: w.url, id: w.id })) } });
  try {
    await workers[0]!.close();
    for (let i = 0; i < 5; i++) {
      const reply = await get(proxy.url, `route=${stickyToken('a')}`);
      assert.equal(reply.status, 200);
      const served = reply.body.toString().trim();
      const line = (reply.headers['set-cookie'] ?? []).find((c) => c.startsWith('route='));
      assert.equal(line, `route=${stickyToken(served)}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax`);
      // The new cookie holds: every request with it goes to the worker it names, with no new cookie.
      for (let j = 0; j < 5; j++) {
        const next = await get(proxy.url, `route=${stickyToken(served)}`);
        assert.equal(next.body.toString().trim(), served);
        assert.equal((next.headers['set-cookie'] ?? []).find((c) => c.startsWith('route=')), undefined);
      }
    }
  } finally {
    await proxy.stop();
    await Promise.all(workers.slice(1).map((w) => w.close()));
  }
});

test('with nocache, a response that sets the cookie gets Cache-Control: private beside the worker\'s own; one that does not set it is left alone', async () => {
  const worker = await startHttpServer((_req, res) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=600' });
    res.end('cached?\n');
  });
  const upstreams = [{ url: worker.url, id: 'w' }];
  const proxy = await startProxy({ threads: 1, stickySessions: { nocache: true }, driver: { kind: 'static', upstreams } });
  const plain = await startProxy({ threads: 1, stickySessions: {}, driver: { kind: 'static', upstreams } });
  try {
    const first = await get(proxy.url);
    const token = pinned(first);
    assert.ok(token !== undefined, 'no cookie set');
    // Node joins repeated Cache-Control fields with ", ".
    assert.equal(first.headers['cache-control'], 'public, max-age=600, private');
    const again = await get(proxy.url, `${COOKIE}=${token}`);
    assert.equal(pinned(again), undefined);
    assert.equal(again.headers['cache-control'], 'public, max-age=600');
    const off = await get(plain.url);
    assert.ok(pinned(off) !== undefined);
    assert.equal(off.headers['cache-control'], 'public, max-age=600', 'Cache-Control added without nocache');
  } finally {
    await proxy.stop();
    await plain.stop();
    await worker.close();
  }
});

test('cookieValue finds the named cookie only as a whole name, first one first, quotes removed', () => {
  assert.equal(cookieValue('wb_worker=abc', 'wb_worker'), 'abc');
  assert.equal(cookieValue('a=1; wb_worker=abc; b=2', 'wb_worker'), 'abc');
  assert.equal(cookieValue('a=1;wb_worker=abc', 'wb_worker'), 'abc');
  assert.equal(cookieValue('a=1 ;  wb_worker = x', 'wb_worker'), '', 'a space before = is another name');
  assert.equal(cookieValue('xwb_worker=1; wb_worker=2', 'wb_worker'), '2', 'a longer name ending in ours is not ours');
  assert.equal(cookieValue('a=wb_worker=1; wb_worker=2', 'wb_worker'), '2', 'our name inside a value is not ours');
  assert.equal(cookieValue('wb_worker="abc"; wb_worker=def', 'wb_worker'), 'abc');
  assert.equal(cookieValue('wb_worker=', 'wb_worker'), '');
  assert.equal(cookieValue('wb_workers=1', 'wb_worker'), '');
  assert.equal(cookieValue('', 'wb_worker'), '');
});

test('setCookieValue: attributes as configured, Secure over HTTPS with secure auto', () => {
  const settings: StickySettings = { cookie: 'srv', path: '/app', maxAgeS: 0, httpOnly: true, secure: 'auto', sameSite: 'lax', nocache: false };
  assert.equal(setCookieValue(settings, 't', 'http'), 'srv=t; Path=/app; HttpOnly; SameSite=Lax');
  assert.equal(setCookieValue(settings, 't', 'https'), 'srv=t; Path=/app; HttpOnly; SameSite=Lax; Secure');
  assert.equal(setCookieValue({ ...settings, secure: false }, 't', 'https'), 'srv=t; Path=/app; HttpOnly; SameSite=Lax');
  assert.equal(setCookieValue({ ...settings, maxAgeS: 60, httpOnly: false, secure: true, sameSite: 'none' }, 't', 'http'), 'srv=t; Path=/app; Max-Age=60; SameSite=None; Secure');
  assert.equal(setCookieValue({ ...settings, sameSite: 'strict' }, 't', 'http'), 'srv=t; Path=/app; HttpOnly; SameSite=Strict');
});

test('stickyToken is 16 hex digits, the same for the same id, and does not show the id', () => {
  assert.match(stickyToken('127.0.0.1:8001'), /^[0-9a-f]{16}$/);
  assert.equal(stickyToken('w1'), stickyToken('w1'));
  assert.notEqual(stickyToken('w1'), stickyToken('w2'));
});

test('stickySessions: defaults, and a bad name, path or SameSite=None without Secure is one error naming the field', () => {
  assert.deepEqual(resolveConfig({ stickySessions: {} }).stickySessions, { cookie: 'wb_worker', path: '/', maxAgeS: 0, httpOnly: true, secure: 'auto', sameSite: 'lax', nocache: false });
  assert.equal(resolveConfig({}).stickySessions, undefined);
  const refused = (input: object, field: string): void =>
    assert.throws(
      () => resolveConfig({ stickySessions: input }),
      (err: unknown) => err instanceof ConfigError && err.message.includes(field),
    );
  refused({ cookie: 'a b' }, 'stickySessions.cookie');
  refused({ cookie: 'a;b' }, 'stickySessions.cookie');
  refused({ path: 'app' }, 'stickySessions.path');
  refused({ path: '/a;b' }, 'stickySessions.path');
  refused({ sameSite: 'none' }, 'stickySessions.secure');
  assert.equal(resolveConfig({ stickySessions: { sameSite: 'none', secure: true } }).stickySessions?.sameSite, 'none');
});
