import { StorageType, type KV } from 'nats';
import type { Bus } from '../bus/bus.js';
import { NatsTransport } from '../bus/nats-transport.js';

/**
 * Leadership for what only one instance may do (autoscaler, reconciler): a lease with an
 * expiry that its holder renews. RustyBalancer ran one scaler per connected balancer; with a
 * lease, two control-plane hosts never both scale.
 */
export interface Lease {
  readonly name: string;
  readonly holder: string;
  /** Takes the lease if it is free or already ours, and renews it; true while we hold it. */
  tryAcquire(): Promise<boolean>;
  /** Gives it up at once (on shutdown), so another holder need not wait for the expiry. */
  release(): Promise<void>;
}

const BUCKET = 'weighbridge-leases';

/**
 * A lease in a NATS JetStream key-value bucket whose entries expire ttlMs after their last
 * write: create() succeeds only when the key is absent (or expired), update() only at the
 * revision we wrote last, so exactly one holder renews it. The server needs JetStream (-js).
 */
class NatsKvLease implements Lease {
  private revision: number | null = null;

  constructor(
    private readonly kv: KV,
    readonly name: string,
    readonly holder: string,
  ) {}

  async tryAcquire(): Promise<boolean> {
    const value = new TextEncoder().encode(this.holder);
    if (this.revision !== null) {
      try {
        this.revision = await this.kv.update(this.name, value, this.revision);
        return true;
      } catch {
        this.revision = null; // expired and taken, or the server lost it: compete again
      }
    }
    try {
      this.revision = await this.kv.create(this.name, value);
      return true;
    } catch {
      return false; // someone else holds it (or NATS is unreachable: not leader either way)
    }
  }

  async release(): Promise<void> {
    if (this.revision === null) return;
    this.revision = null;
    await this.kv.delete(this.name).catch(() => undefined);
  }
}

/** One process: the first holder of a name has it until it releases it. */
class LocalLease implements Lease {
  private static readonly holders = new Map<string, string>();

  constructor(
    readonly name: string,
    readonly holder: string,
  ) {}

  async tryAcquire(): Promise<boolean> {
    const current = LocalLease.holders.get(this.name);
    if (current === undefined) LocalLease.holders.set(this.name, this.holder);
    return (current ?? this.holder) === this.holder;
  }

  async release(): Promise<void> {
    if (LocalLease.holders.get(this.name) === this.holder) LocalLease.holders.delete(this.name);
  }
}

/** A lease on the bus's own infrastructure: JetStream KV on NATS, process-local otherwise. */
export async function createLease(bus: Bus, name: string, holder: string, ttlMs: number): Promise<Lease> {
  if (!(bus.transport instanceof NatsTransport)) return new LocalLease(name, holder);
  const kv = await bus.transport.connection.jetstream().views.kv(BUCKET, { ttl: ttlMs, history: 1, storage: StorageType.Memory });
  return new NatsKvLease(kv, name, holder);
}
