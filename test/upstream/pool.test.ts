import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { UpstreamExchange } from '../../src/upstream/connection.js';
import { sweeper } from '../../src/upstream/deadline-sweeper.js';
import { UpstreamPool } from '../../src/upstream/pool.js';
import { FailureKind, type UpstreamFailure } from '../../src/upstream/upstream-failure.js';
import { startHttpServer } from '../helpers/servers.js';

const TIMEOUTS = { connectMs: 2000, responseHeadersMs: 5000, idleMs: 5000, keepAliveMs: 30_000 };

/** An exchange that only waits for the response's end. */
function exchange(): UpstreamExchange & { done: Promise<void> } {
  let finish = (): void => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    done,
    cork: (fn) => fn(),
    onUpstreamHead: () => undefined,
    onUpstreamBody: () => undefined,
    onUpstreamComplete: () => finish(),
    onUpstreamError: (failure) => assert.fail(failure.message),
    onUpstreamDrain: () => undefined,
  };
}

test('a pool closed while a request is out (its worker left the slot) closes that connection when the response ends', async () => {
  let open = 0;
  const worker = await startHttpServer((_req, res) => setTimeout(() => res.end('ok'), 100));
  worker.server.on('connection', (socket) => (open++, socket.on('close', () => open--)));
  try {
    const pool = new UpstreamPool('w', '127.0.0.1', worker.port, TIMEOUTS, 16 * 1024);
    const [kept, busy] = [exchange(), exchange()];
    // First a pool that stays open: the finished connection waits, idle, for the next request.
    pool.acquire().start(kept, 'GET / HTTP/1.1\r\nhost: w\r\n\r\n', false, true);
    await kept.done;
    assert.equal(pool.idleCount, 1);
    pool.acquire().start(busy, 'GET / HTTP/1.1\r\nhost: w\r\n\r\n', false, true);
    pool.close();
    await busy.done;
    assert.equal(pool.idleCount, 0);
    // It went back to the closed pool and stayed open until keepAliveMs (30 s here).
    const until = Date.now() + 5000;
    while (open > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(open, 0, 'the worker still has a connection open');
  } finally {
    await worker.close();
  }
});

test('a request on a pooled connection whose worker closed it before the request left comes back unsent, body and all', async () => {
  // The worker runs on its own thread, so it can close the connection while this one is blocked.
  const worker = new Worker(
    `const net = require('node:net');
     const { parentPort } = require('node:worker_threads');
     const server = net.createServer((socket) => {
       socket.once('data', () => {
         socket.write('HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok');
         setTimeout(() => socket.destroy(), 20);
       });
     });
     server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));`,
    { eval: true },
  );
  try {
    const port = await new Promise<number>((resolve) => worker.once('message', resolve));
    const pool = new UpstreamPool('w', '127.0.0.1', port, TIMEOUTS, 16 * 1024);
    const first = exchange();
    pool.acquire().start(first, 'GET / HTTP/1.1\r\nhost: w\r\n\r\n', false, true);
    await first.done;
    assert.equal(pool.idleCount, 1);
    const failure = await new Promise<UpstreamFailure>((resolve) => {
      // From a timer, so this loop's next poll reads the worker's FIN before the request's
      // writes are flushed (at the end of that iteration): the window a busy proxy hits.
      setTimeout(() => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
        const connection = pool.acquire();
        connection.start({ ...exchange(), onUpstreamError: resolve }, 'POST /echo HTTP/1.1\r\nhost: w\r\ncontent-length: 5\r\n\r\n', false, false);
        connection.write(Buffer.from('hel'));
        connection.write('lo');
        connection.endRequest();
      }, 0);
    });
    assert.equal(failure.kind, FailureKind.reset);
    assert.deepEqual(
      failure.unsentBody?.map((data) => data.toString()),
      ['hel', 'lo'],
    );
    assert.equal(pool.idleCount, 0);
  } finally {
    await worker.terminate();
  }
});

test('a request that reached the worker before its connection failed is not reported unsent', async () => {
  const worker = await startHttpServer((req) => req.socket.destroy());
  try {
    const pool = new UpstreamPool('w', '127.0.0.1', worker.port, TIMEOUTS, 16 * 1024);
    const failure = await new Promise<UpstreamFailure>((resolve) => {
      pool.acquire().start({ ...exchange(), onUpstreamError: resolve }, 'POST / HTTP/1.1\r\nhost: w\r\ncontent-length: 0\r\n\r\n', false, true);
    });
    assert.equal(failure.kind, FailureKind.reset);
    assert.equal(failure.unsentBody, null);
  } finally {
    await worker.close();
  }
});

test("an idle connection is kept a second less than the worker's Keep-Alive timeout says, and not at all under two seconds", async () => {
  let keepAlive = '';
  const worker = await startHttpServer((_req, res) => {
    if (keepAlive !== '') res.setHeader('keep-alive', keepAlive);
    res.end('ok');
  });
  // Node's server would add its own Keep-Alive field: this one says what the test sets.
  worker.server.keepAliveTimeout = 0;
  try {
    const pool = new UpstreamPool('w', '127.0.0.1', worker.port, TIMEOUTS, 16 * 1024);
    const keptFor = async (field: string): Promise<number> => {
      keepAlive = field;
      const done = exchange();
      pool.acquire().start(done, 'GET / HTTP/1.1\r\nhost: w\r\n\r\n', false, true);
      await done.done;
      if (pool.idleCount === 0) return 0;
      const connection = pool.acquire();
      const left = connection.deadline - sweeper.now;
      pool.release(connection);
      return left;
    };
    assert.equal(await keptFor(''), TIMEOUTS.keepAliveMs);
    assert.equal(await keptFor('timeout=5, max=100'), 4000);
    assert.equal(await keptFor('timeout=300'), TIMEOUTS.keepAliveMs);
    assert.equal(await keptFor('timeout=1'), 0);
    pool.close();
  } finally {
    await worker.close();
  }
});
