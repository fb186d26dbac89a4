import type { NatsConfig } from '../config/schema.js';
import { Bus, type Log } from './bus.js';
import { InProcessTransport } from './in-process-transport.js';
import { NatsTransport } from './nats-transport.js';

/**
 * The bus a host runs on: in-process without NATS settings, else NATS. Connecting to NATS waits
 * for a server to answer (a host may start before NATS does); the caller keeps serving meanwhile.
 */
export async function connectBus(nats: NatsConfig | undefined, hostId: string, log: Log): Promise<Bus> {
  if (nats === undefined) return new Bus(new InProcessTransport(), log);
  const waiting = setTimeout(() => log(`bus: waiting for NATS at ${nats.servers.join(', ')}`), 2_000);
  try {
    const transport = await NatsTransport.connect({ ...nats, name: `weighbridge ${hostId}` }, log);
    return new Bus(transport, log);
  } finally {
    clearTimeout(waiting);
  }
}
