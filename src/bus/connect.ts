import type { NatsConfig } from '../config/schema.js';
import { Bus, type Log } from './bus.js';
import { InProcessTransport } from './in-process-transport.js';
import { NatsTransport } from './nats-transport.js';

/**
 * The bus a host runs on: in-process without NATS settings, else NATS. Connecting to NATS waits
 * for a server to answer (a host may start before NATS does); the caller keeps serving meanwhile.
 */
export async function connectBus(nats: NatsConfig | undefined, hostId: string, log: Log, keepTrying: () => boolean): Promise<Bus> {
  if (nats === undefined) return new Bus(new InProcessTransport(), log);
  return new Bus(await NatsTransport.connect({ ...nats, name: `weighbridge ${hostId}` }, log, keepTrying), log);
}
