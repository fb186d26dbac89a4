import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { StateStoreError } from '../../src/errors.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { planReconcile } from '../../src/state/reconcile.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { entryId, type StateStore, type WorkerEntry } from '../../src/state/state-store.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { selfSignedCert } from '../helpers/tls.js';

const entry = (name: string, extra: Partial<WorkerEntry> = {}): WorkerEntry => ({ name, host: '127.0.0.1', port: 4000, image: null, category: null, score: null, state: 'init', updatedAt: 1, ...extra });

let redis: RedisServer;
let secured: RedisServer;
let overTls: RedisServer;
const certs = selfSignedCert();
before(async () => {
  [redis, secured, overTls] = await Promise.all([startRedisServer(), startRedisServer({ password: 's3cret' }), startRedisServer({ password: 't1s', tls: certs })]);
});
after(async () => {
  await Promise.all([redis?.stop(), secured?.stop(), overTls?.stop()]);
});

/** The same contract for both stores. */
function contract(name: string, open: (app: string) => Promise<StateStore>): void {
  test(`${name}: entries round-trip, stay within their application, and go when removed`, async () => {
    const [a, b] = [await open('app-a'), await open('app-b')];
    try {
      await a.put(entry('w1', { image: 'weighbridge-worker:1', category: 'MU', score: 61.5, state: 'MU' }));
      await a.put(entry('w2', { port: 4001 }));
      await b.put(entry('w1', { port: 5000 }));
      const listed = (await a.list()).sort((x, y) => x.name.localeCompare(y.name));
      assert.deepEqual(listed, [entry('w1', { image: 'weighbridge-worker:1', category: 'MU', score: 61.5, state: 'MU' }), entry('w2', { port: 4001 })]);
      await a.remove('w1');
      assert.deepEqual((await a.list()).map((e) => e.name), ['w2']);
      assert.deepEqual(await b.list(), [entry('w1', { port: 5000 })], "another application's entries are untouched");
      assert.equal(await a.getDefaultCount(), null);
      await a.setDefaultCount(3);
      assert.equal(await a.getDefaultCount(), 3);
      assert.equal(await b.getDefaultCount(), null);
    } finally {
      await Promise.all([a.remove('w2'), b.remove('w1')]);
      await Promise.all([a.close(), b.close()]);
    }
  });
}

contract('memory', async (app) => new MemoryStateStore(app));
contract('redis', (app) => RedisStateStore.connect(redis.url, app));
contract('redis with a password', (app) => RedisStateStore.connect(secured.url, app));
contract('redis over TLS with a password, the server checked against a CA file', (app) => RedisStateStore.connect(overTls.url, app, { tls: { caFile: certs.cert } }));

test('redis over TLS: a server certificate no CA vouches for, plain redis:// to a TLS port, or an unreadable CA file is one clear error', async () => {
  assert.match(overTls.url, /^rediss:/);
  await assert.rejects(RedisStateStore.connect(overTls.url, 'app', { timeoutMs: 2_000 }), (err: unknown) => {
    assert.ok(err instanceof StateStoreError);
    assert.equal(err.code, 'ERR_STATE_UNAVAILABLE');
    assert.match(err.message, /self[- ]signed certificate/);
    return true;
  });
  await assert.rejects(RedisStateStore.connect(overTls.url.replace('rediss:', 'redis:'), 'app', { timeoutMs: 1_000 }), (err: unknown) => err instanceof StateStoreError && err.code === 'ERR_STATE_UNAVAILABLE');
  await assert.rejects(RedisStateStore.connect(overTls.url, 'app', { tls: { caFile: '/nonexistent/ca.pem' } }), /cannot read the TLS CA file \/nonexistent\/ca.pem/);
});

test('redis: keys are md5 of (application, name), scoped under the application', () => {
  assert.equal(entryId('app', 'w1'), entryId('app', 'w1'));
  assert.notEqual(entryId('app', 'w1'), entryId('app2', 'w1'));
  assert.notEqual(entryId('a","b', 'c'), entryId('a', 'b","c'), 'no separator to collide on');
  assert.match(entryId('app', 'w1'), /^[0-9a-f]{32}$/);
});

test('redis: a wrong password or no server is one clear error', async () => {
  await assert.rejects(RedisStateStore.connect(`redis://:wrong@127.0.0.1:${secured.port}`, 'app', { timeoutMs: 2_000 }), (err: unknown) => {
    assert.ok(err instanceof StateStoreError);
    assert.equal(err.code, 'ERR_STATE_AUTH');
    assert.match(err.message, /authentication failed/);
    assert.doesNotMatch(err.message, /wrong/, 'the password stays out of the message');
    return true;
  });
  const closed = await startRedisServer();
  await closed.stop();
  await assert.rejects(RedisStateStore.connect(closed.url, 'app', { timeoutMs: 1_000 }), (err: unknown) => err instanceof StateStoreError && err.code === 'ERR_STATE_UNAVAILABLE');
});

test('redis: while the server is down calls fail at once with ERR_STATE_UNAVAILABLE; they work again once it is back', async () => {
  const own = await startRedisServer();
  const store = await RedisStateStore.connect(own.url, 'app');
  try {
    await store.put(entry('w1'));
    await own.stop();
    const started = Date.now();
    await assert.rejects(store.list(), (err: unknown) => err instanceof StateStoreError && err.code === 'ERR_STATE_UNAVAILABLE');
    assert.ok(Date.now() - started < 2_000, 'no waiting on a dead server');
    await own.start();
    // The client reconnects by itself; the data did not persist (no save), so the store is empty.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        assert.deepEqual(await store.list(), []);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await store.close();
    await own.stop();
  }
});

test('reconcile plan: stray entries go, unknown running workers come, moved ones are corrected', () => {
  const entries = [entry('kept'), entry('gone'), entry('moved', { port: 4002, image: 'img:1' })];
  const running = [
    { name: 'kept', host: '127.0.0.1', port: 4000, image: null },
    { name: 'moved', host: '127.0.0.1', port: 4005, image: 'img:2' },
    { name: 'new', host: '127.0.0.1', port: 4010, image: 'img:2' },
  ];
  const plan = planReconcile(entries, running, 99);
  assert.deepEqual(plan.remove.map((e) => e.name), ['gone']);
  assert.deepEqual(plan.add, [{ name: 'new', host: '127.0.0.1', port: 4010, image: 'img:2', category: null, score: null, state: 'init', updatedAt: 99 }]);
  assert.deepEqual(plan.update, [entry('moved', { port: 4005, image: 'img:2', updatedAt: 99 })]);
  assert.deepEqual(planReconcile(running.map((r) => entry(r.name, r)), running, 1), { add: [], remove: [], update: [] });
});
