import type { Actor, ActorContext, ActorSpec } from '../src/actor/actor.js';
import type { MessageOf } from '../src/bus/messages.js';
import { topics } from '../src/bus/subjects.js';
import type { WorkerRegistry } from '../src/routing/worker-registry.js';
import type { StatsSampler } from '../src/shared/stats-sampler.js';

type In = { kind: 'weights'; message: MessageOf<'weights.updated'> } | { kind: 'report' };

/** What the ingress role last applied, for the admin API. */
export interface AppliedWeights {
  sequence: number;
  at: number;
  applied: number;
  unknown: number;
}

export interface IngressAgentDeps {
  registry: WorkerRegistry;
  sampler: StatsSampler;
  pool: string;
  statsIntervalMs: number;
  onApplied(applied: AppliedWeights): void;
}

/**
 * The ingress host's actor: applies weights.updated to this host's route table (workers it does
 * not know are skipped) and reports its stats table on the bus every interval. Without updates
 * (no scorer, or the bus is down) the table keeps the last weights it got.
 */
class IngressAgent implements Actor<In> {
  private ctx!: ActorContext<In>;

  constructor(private readonly deps: IngressAgentDeps) {}

  start(ctx: ActorContext<In>): void {
    this.ctx = ctx;
    ctx.subscribe(topics.weightsUpdated(this.deps.pool), (message) => ({ kind: 'weights', message }));
    ctx.every(this.deps.statsIntervalMs, () => ({ kind: 'report' }));
  }

  receive(message: In): void {
    if (message.kind === 'weights') this.apply(message.message);
    else this.report();
  }

  private apply(update: MessageOf<'weights.updated'>): void {
    const applied = this.deps.registry.setWeights(update.weights);
    this.deps.onApplied({ sequence: update.sequence, at: update.at, applied, unknown: update.weights.length - applied });
  }

  private report(): void {
    const { registry, sampler } = this.deps;
    const workers = registry.list().map((w) => {
      const r = sampler.report(w.slot);
      return {
        id: w.id,
        address: registry.view(w).address,
        baseWeight: w.baseWeight,
        weight: w.weight,
        isDefault: w.isDefault,
        inflight: r.inflight,
        completed: r.completed,
        errors: r.errors,
        bytesIn: r.bytesIn,
        bytesOut: r.bytesOut,
        busyMs: r.busyMs,
        ewmaMs: r.ewmaMs,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
      };
    });
    this.ctx.bus.publish(topics.ingressStats(this.ctx.hostId), { type: 'ingress.stats', v: 2, host: this.ctx.hostId, at: Date.now(), workers });
  }
}

export function ingressAgent(deps: IngressAgentDeps): ActorSpec<In> {
  return { name: 'ingress', create: () => new IngressAgent(deps) };
}
