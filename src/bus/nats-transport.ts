import { connect, DebugEvents, Events, type ConnectionOptions, type NatsConnection } from 'nats';
import { BusConnectError } from '../errors.js';
import type { Log } from './bus.js';
import type { RawMessage, Transport, TransportState } from './transport.js';

/** What a cluster needs to reach its NATS servers. */
export interface NatsOptions {
  /** One or more server URLs, e.g. nats://10.0.0.5:4222; the client fails over between them. */
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Shown by the server's monitoring, e.g. "weighbridge host-a". */
  name?: string;
}

/**
 * The cluster transport. It reconnects forever (with jittered backoff); while the bus is down
 * publishes are buffered by the client and the state says 'disconnected', which the logs and
 * the admin API report. Subscriptions are re-established by the client on reconnect.
 */
export class NatsTransport implements Transport {
  readonly kind = 'nats';
  private connected = true;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly log: Log,
  ) {
    void this.watch();
  }

  /** Connects (waiting while no server answers yet, as a host may start before NATS). */
  static async connect(options: NatsOptions, log: Log): Promise<NatsTransport> {
    const connectionOptions: ConnectionOptions = {
      servers: options.servers,
      name: options.name,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      reconnectJitter: 250,
      waitOnFirstConnect: true,
      pingInterval: 5_000,
      maxPingOut: 3,
    };
    if (options.user !== undefined) Object.assign(connectionOptions, { user: options.user, pass: options.pass });
    if (options.token !== undefined) connectionOptions.token = options.token;
    if (options.tls !== undefined) connectionOptions.tls = options.tls;
    let nc: NatsConnection;
    try {
      nc = await connect(connectionOptions);
    } catch (cause) {
      // Unreachable servers are waited for; what ends up here is final (credentials, TLS, bad URL).
      throw new BusConnectError(`cannot connect to NATS at ${options.servers.join(', ')}: ${(cause as Error).message}`, { cause });
    }
    log(`bus: connected to NATS at ${nc.getServer()}`);
    return new NatsTransport(nc, log);
  }

  /** The client connection, for what rides on NATS beyond subjects (the lease's key-value bucket). */
  get connection(): NatsConnection {
    return this.nc;
  }

  get state(): TransportState {
    if (this.nc.isClosed()) return 'closed';
    return this.connected ? 'connected' : 'disconnected';
  }

  publish(subject: string, data: Uint8Array, reply?: string): void {
    if (this.nc.isClosed()) return;
    this.nc.publish(subject, data, reply === undefined ? undefined : { reply });
  }

  subscribe(subject: string, queue: string | undefined, onMessage: (message: RawMessage) => void): () => void {
    const sub = this.nc.subscribe(subject, {
      ...(queue === undefined ? {} : { queue }),
      callback: (err, msg) => {
        if (err === null) onMessage({ subject: msg.subject, data: msg.data, reply: msg.reply || undefined });
      },
    });
    return () => {
      if (!this.nc.isClosed()) sub.unsubscribe();
    };
  }

  flush(): Promise<void> {
    return this.nc.flush();
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }

  private async watch(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === Events.Disconnect) {
        this.connected = false;
        this.log(`bus: NATS connection lost (${String(status.data)}); reconnecting`);
      } else if (status.type === Events.Reconnect) {
        this.connected = true;
        this.log(`bus: reconnected to NATS at ${String(status.data)}`);
      } else if (status.type === Events.Error) {
        this.log(`bus: NATS error: ${String(status.data)}`);
      } else if (status.type === DebugEvents.Reconnecting) {
        this.connected = false;
      }
    }
  }
}
