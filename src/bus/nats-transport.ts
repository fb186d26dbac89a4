import { connect, DebugEvents, Events, type ConnectionOptions, type NatsConnection } from 'nats';
import { BusConnectError } from '../errors.js';
import type { Log } from './bus.js';
import type { RawMessage, Transport, TransportState } from './transport.js';

/** Connection errors that waiting does not fix: the server refused the credentials. */
const FINAL_CONNECT_ERRORS = new Set(['AUTHORIZATION_VIOLATION', 'BAD_AUTHENTICATION', 'AUTHENTICATION_EXPIRED', 'BAD_CREDS']);

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

  /**
   * Connects, retrying while no server answers (a host may start before NATS) and saying why in
   * the log; a rejected credential is final and throws BusConnectError. `keepTrying` ends the
   * wait when the host stops first.
   */
  static async connect(options: NatsOptions, log: Log, keepTrying: () => boolean = () => true): Promise<NatsTransport> {
    const connectionOptions: ConnectionOptions = {
      servers: options.servers,
      name: options.name,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      reconnectJitter: 250,
      pingInterval: 5_000,
      maxPingOut: 3,
    };
    if (options.user !== undefined) Object.assign(connectionOptions, { user: options.user, pass: options.pass });
    if (options.token !== undefined) connectionOptions.token = options.token;
    if (options.tls !== undefined) connectionOptions.tls = options.tls;
    const where = options.servers.join(', ');
    let nc: NatsConnection;
    for (let attempt = 1; ; attempt++) {
      try {
        nc = await connect(connectionOptions);
        break;
      } catch (cause) {
        const err = cause as Error & { code?: string };
        if (FINAL_CONNECT_ERRORS.has(err.code ?? '')) throw new BusConnectError(`cannot connect to NATS at ${where}: ${err.message}`, { cause });
        if (!keepTrying()) throw new BusConnectError(`gave up connecting to NATS at ${where}: ${err.message}`, { cause });
        if (attempt === 1 || attempt % 20 === 0) log(`bus: cannot reach NATS at ${where} (${err.code ?? err.message}: ${err.message}); retrying`);
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
      }
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
