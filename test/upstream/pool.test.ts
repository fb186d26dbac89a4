import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UpstreamExchange } from '../../src/upstream/connection.js';
import { UpstreamPool } from '../../src/upstream/pool.js';
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
