import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';

/**
 * A loopback port whose connects hang, as to a host that drops packets: a listener with a
 * backlog of 1, filled, on a thread that never accepts. The kernel drops further SYNs, so a
 * connect to it ends only by the connecting side's timeout.
 */
export async function startBlackhole(): Promise<{ url: string; stop(): Promise<void> }> {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const net = require('node:net');
     const { parentPort, workerData } = require('node:worker_threads');
     const server = net.createServer();
     server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       // Blocks the thread's loop, so nothing is accepted, until stop() is called.
       while (Atomics.load(workerData, 0) === 0) Atomics.wait(workerData, 0, 0, 100);
       server.close();
     });`,
    { eval: true, workerData: stop },
  );
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  // Fills the accept queue (the backlog plus one; Node reads a backlog of 0 as its default).
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => undefined));
  await new Promise((resolve) => setTimeout(resolve, 100));
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      for (const socket of fillers) socket.destroy();
      Atomics.store(stop, 0, 1);
      Atomics.notify(stop, 0);
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}
