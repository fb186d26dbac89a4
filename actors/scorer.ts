import type { Actor, ActorContext, ActorSpec } from '../src/actor/actor.js';
import type { MessageOf } from '../src/bus/messages.js';
import { topics } from '../src/bus/subjects.js';
import { latencyWeights, type LatencyInput } from '../src/scoring/latency-weights.js';

type In = { kind: 'stats'; message: MessageOf<'ingress.stats'> } | { kind: 'tick' };

/** Stats older than this many intervals come from a host that is gone. */
const STALE_INTERVALS = 3;

/**
 * The scorer: keeps the latest stats of every ingress host and publishes weights for the pool
 * every interval. Publishing every interval (not only on change) lets an ingress host that
 * starts later converge within one interval. Its weights are the interim latency weights until
 * the paper's scores arrive (the scoring issue); several scorers compute the same weights from
 * the same stats, so their updates agree.
 */
class Scorer implements Actor<In> {
  private ctx!: ActorContext<In>;
  private readonly latest = new Map<string, MessageOf<'ingress.stats'>>();
  private sequence = 0;

  constructor(private readonly options: { pool: string; intervalMs: number }) {}

  start(ctx: ActorContext<In>): void {
    this.ctx = ctx;
    ctx.subscribe(topics.allIngressStats(), (message) => ({ kind: 'stats', message }));
    ctx.every(this.options.intervalMs, () => ({ kind: 'tick' }));
  }

  receive(message: In): void {
    if (message.kind === 'stats') this.latest.set(message.message.host, message.message);
    else this.publish();
  }

  private publish(): void {
    const cutoff = Date.now() - STALE_INTERVALS * this.options.intervalMs;
    const merged = new Map<string, LatencyInput & { samples: number[] }>();
    for (const [host, stats] of this.latest) {
      if (stats.at < cutoff) {
        this.latest.delete(host);
        continue;
      }
      for (const w of stats.workers) {
        const m = merged.get(w.id) ?? { id: w.id, baseWeight: w.baseWeight, p50Ms: null, samples: [] };
        if (w.p50Ms !== null) m.samples.push(w.p50Ms);
        merged.set(w.id, m);
      }
    }
    if (merged.size === 0) return;
    const inputs = [...merged.values()].map((m) => ({ id: m.id, baseWeight: m.baseWeight, p50Ms: m.samples.length > 0 ? m.samples.reduce((a, b) => a + b, 0) / m.samples.length : null }));
    inputs.sort((a, b) => a.id.localeCompare(b.id));
    this.ctx.bus.publish(topics.weightsUpdated(this.options.pool), {
      type: 'weights.updated',
      v: 1,
      pool: this.options.pool,
      sequence: this.sequence++,
      at: Date.now(),
      weights: latencyWeights(inputs),
    });
  }
}

export function scorer(options: { pool: string; intervalMs: number }): ActorSpec<In> {
  return { name: 'scorer', create: () => new Scorer(options) };
}
