import { after, before } from 'node:test';
import { Bus } from '../../src/bus/bus.js';
import { InProcessTransport } from '../../src/bus/in-process-transport.js';
import { NatsTransport } from '../../src/bus/nats-transport.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { actorSuite } from './actor-suite.js';

const quiet = (): void => {};

actorSuite('in-process', async () => {
  const transport = new InProcessTransport();
  return { buses: [new Bus(transport, quiet), new Bus(transport, quiet)], close: () => transport.close() };
});

let nats: NatsServer;
before(async () => {
  nats = await startNatsServer();
});
after(async () => {
  await nats?.stop();
});

actorSuite('nats', async () => {
  const buses: [Bus, Bus] = [
    new Bus(await NatsTransport.connect({ servers: [nats.url] }, quiet), quiet),
    new Bus(await NatsTransport.connect({ servers: [nats.url] }, quiet), quiet),
  ];
  return { buses, close: async () => void (await Promise.all(buses.map((b) => b.close()))) };
});
