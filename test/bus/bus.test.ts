import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Bus } from '../../src/bus/bus.js';
import { InProcessTransport } from '../../src/bus/in-process-transport.js';
import { NatsTransport } from '../../src/bus/nats-transport.js';
import { topics } from '../../src/bus/subjects.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { busSuite } from './bus-suite.js';

busSuite('in-process', async (log) => {
  const transport = new InProcessTransport();
  const a = new Bus(transport, log);
  const b = new Bus(transport, log);
  return { a, b, close: () => a.close() };
});

let nats: NatsServer;
before(async () => {
  nats = await startNatsServer();
});
after(async () => {
  await nats?.stop();
});

busSuite('nats', async (log) => {
  const quiet = (): void => {};
  const a = new Bus(await NatsTransport.connect({ servers: [nats.url], name: 'test a' }, quiet), log);
  const b = new Bus(await NatsTransport.connect({ servers: [nats.url], name: 'test b' }, quiet), log);
  return {
    a,
    b,
    async close() {
      await a.close();
      await b.close();
    },
  };
});

test('nats: after nats-server restarts, the bus reconnects by itself and delivery resumes', async () => {
  const logs: string[] = [];
  const log = (line: string): void => void logs.push(line);
  const a = new Bus(await NatsTransport.connect({ servers: [nats.url] }, log), log);
  const b = new Bus(await NatsTransport.connect({ servers: [nats.url] }, log), log);
  try {
    const got: number[] = [];
    b.subscribe(topics.weightsUpdated('default'), (m) => void got.push(m.sequence));
    await b.flush();
    const send = (sequence: number): void => a.publish(topics.weightsUpdated('default'), { type: 'weights.updated', v: 1, pool: 'default', sequence, at: Date.now(), weights: [] });
    send(1);
    await until(() => got.includes(1));
    await nats.restart();
    await until(() => a.state === 'connected' && b.state === 'connected' && logs.filter((l) => l.includes('reconnected')).length === 2, 15_000);
    assert.ok(logs.some((l) => l.includes('NATS connection lost')), 'the outage was not logged');
    await b.flush();
    send(2);
    await until(() => got.includes(2), 10_000);
  } finally {
    await a.close();
    await b.close();
  }
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
