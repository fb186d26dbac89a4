import type { Actor, ActorContext, ActorSpec } from '../src/actor/actor.js';
import type { Bus } from '../src/bus/bus.js';
import type { MessageOf, MessageType } from '../src/bus/messages.js';
import type { Topic } from '../src/bus/subjects.js';
import { createLease } from '../src/cluster/lease.js';
import { Leadership, type LeadershipStatus } from '../src/cluster/leadership.js';

type In = { kind: 'tick' } | { kind: 'observed'; deliver(): void } | { kind: 'failed'; error: unknown };

/** A bus subscription of a leader-only role; its messages arrive in the actor's mailbox. */
export interface Watch {
  subscribe(ctx: ActorContext<In>): void;
}

/** Every message on `topic` goes to `observe`, leader or not, so a standby's view is warm when it takes over. */
export function watch<T extends MessageType>(topic: Topic<T>, observe: (message: MessageOf<T>) => void): Watch {
  return { subscribe: (ctx) => ctx.subscribe(topic, (message) => ({ kind: 'observed', deliver: () => observe(message) })) };
}

export interface LeaderOnlyOptions {
  /** The role, which names the lease: "autoscaler" or "reconciler". */
  name: string;
  intervalMs: number;
  leaseTtlMs: number;
  /** Reports leadership changes, for the admin API. */
  onStatus(status: LeadershipStatus): void;
  watches?: Watch[];
  /** The role's work, run on every interval while this instance holds the lease. */
  act(bus: Bus): Promise<void> | void;
}

/**
 * A role of which exactly one instance acts in the cluster (the autoscaler and the reconciler):
 * every interval it renews or competes for the role's lease and acts only while it holds it.
 * An act runs beside the mailbox, one at a time: an act longer than the lease (a worker that
 * takes seconds to become ready) must not stop the renewals, or a standby would take the lease
 * and act on the same state at the same time. An act that fails crashes the actor, as a failed
 * receive does.
 */
class LeaderOnly implements Actor<In> {
  private ctx!: ActorContext<In>;
  private leadership: Leadership | null = null;
  private acting: Promise<void> | null = null;

  constructor(private readonly options: LeaderOnlyOptions) {}

  async start(ctx: ActorContext<In>): Promise<void> {
    this.ctx = ctx;
    const lease = await createLease(ctx.bus, this.options.name, ctx.hostId, this.options.leaseTtlMs);
    this.leadership = new Leadership(lease, ctx.log);
    for (const w of this.options.watches ?? []) w.subscribe(ctx);
    ctx.every(this.options.intervalMs, () => ({ kind: 'tick' }));
    ctx.tell({ kind: 'tick' });
  }

  async receive(message: In): Promise<void> {
    if (message.kind === 'observed') return message.deliver();
    if (message.kind === 'failed') throw message.error;
    const leadership = this.leadership!;
    const leader = await leadership.check();
    this.options.onStatus(leadership.status());
    if (leader && this.acting === null) {
      this.acting = (async () => this.options.act(this.ctx.bus))()
        .catch((error: unknown) => this.ctx.tell({ kind: 'failed', error }))
        .finally(() => (this.acting = null));
    }
  }

  async stop(): Promise<void> {
    // The lease stays ours until the act in flight is done: no other host may act beside it.
    while (this.acting !== null) {
      await this.leadership?.check();
      await Promise.race([this.acting, new Promise((r) => setTimeout(r, this.options.intervalMs))]);
    }
    await this.leadership?.release();
    if (this.leadership) this.options.onStatus(this.leadership.status());
  }
}

export function leaderOnly(options: LeaderOnlyOptions): ActorSpec<In> {
  return { name: options.name, create: () => new LeaderOnly(options) };
}
