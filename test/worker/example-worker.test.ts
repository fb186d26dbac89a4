import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fetchRaw, startExampleWorkers, stopProcesses, type ExampleWorker } from '../helpers/servers.js';

let worker: ExampleWorker;
before(async () => {
  worker = (await startExampleWorkers(1))[0]!;
});
after(async () => {
  await stopProcesses([worker]);
});

test('/queue serves one request at a time, first come first served', async () => {
  const done: number[] = [];
  await Promise.all(
    Array.from({ length: 5 }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 25)); // arrive in order
      const reply = await fetchRaw(`${worker.url}/queue?service_ms=200`, { agent: false });
      assert.equal(reply.status, 200);
      done.push(i);
    }),
  );
  assert.deepEqual(done, [0, 1, 2, 3, 4]);
});

test('/speed takes a factor above 0 and nothing else', async () => {
  assert.equal((await fetchRaw(`${worker.url}/speed?factor=0`, { method: 'POST' })).status, 400);
  assert.equal((await fetchRaw(`${worker.url}/speed?factor=abc`, { method: 'POST' })).status, 400);
  assert.equal((await fetchRaw(`${worker.url}/speed?factor=2&reset=1`, { method: 'POST' })).status, 204);
});
