import type { Actor, ActorContext, ActorSpec } from '../src/actor/actor.js';
import type { Bus } from '../src/bus/bus.js';
import { createLease } from '../src/cluster/lease.js';
import { Leadership, type LeadershipStatus } from '../src/cluster/leadership.js';

type In = { kind: 'tick' };

export interface LeaderOnlyOptions {
  /** The role, which names the lease: "autoscaler" or "reconciler". */
  name: string;
  intervalMs: number;
  leaseTtlMs: number;
  /** Reports leadership changes, for the admin API. */
  onStatus(status: LeadershipStatus): void;
  /** The role's work, run on every interval while this instance holds the lease. */
  act(bus: Bus): Promise<void> | void;
}

/**
 * A role of which exactly one instance acts in the cluster (the autoscaler and the reconciler):
 * every interval it renews or competes for the role's lease and acts only while it holds it.
 * The roles' logic arrives with the autoscaling issue; here they only keep their leadership.
 */
class LeaderOnly implements Actor<In> {
  private ctx!: ActorContext<In>;
  private leadership: Leadership | null = null;

  constructor(private readonly options: LeaderOnlyOptions) {}

  async start(ctx: ActorContext<In>): Promise<void> {
    this.ctx = ctx;
    const lease = await createLease(ctx.bus, this.options.name, ctx.hostId, this.options.leaseTtlMs);
    this.leadership = new Leadership(lease, ctx.log);
    ctx.every(this.options.intervalMs, () => ({ kind: 'tick' }));
    ctx.tell({ kind: 'tick' });
  }

  async receive(): Promise<void> {
    const leadership = this.leadership!;
    const leader = await leadership.check();
    this.options.onStatus(leadership.status());
    if (leader) await this.options.act(this.ctx.bus);
  }

  async stop(): Promise<void> {
    await this.leadership?.release();
    if (this.leadership) this.options.onStatus(this.leadership.status());
  }
}

export function leaderOnly(options: LeaderOnlyOptions): ActorSpec<In> {
  return { name: options.name, create: () => new LeaderOnly(options) };
}
