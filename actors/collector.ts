import type { Actor, ActorContext, ActorSpec } from '../src/actor/actor.js';
import type { MessageOf } from '../src/bus/messages.js';
import { topics } from '../src/bus/subjects.js';

type In = { kind: 'stats'; message: MessageOf<'ingress.stats'> };

/**
 * The collector: turns what ingress hosts report into metrics.sample for the scorer. Here it
 * carries latency and in-flight counts only; CPU, memory and network (seed 000, section 3.1)
 * arrive with the scoring issue, which also adds an active probe for idle workers.
 */
class Collector implements Actor<In> {
  private ctx!: ActorContext<In>;

  start(ctx: ActorContext<In>): void {
    this.ctx = ctx;
    ctx.subscribe(topics.allIngressStats(), (message) => ({ kind: 'stats', message }), { queue: 'collectors' });
  }

  receive({ message }: In): void {
    this.ctx.bus.publish(topics.metricsSample(this.ctx.hostId), {
      type: 'metrics.sample',
      v: 1,
      host: this.ctx.hostId,
      at: message.at,
      workers: message.workers.map((w) => ({ id: w.id, cpuPct: null, memoryPct: null, networkMBps: null, latencyMs: w.p50Ms, inflight: w.inflight })),
    });
  }
}

export function collector(): ActorSpec<In> {
  return { name: 'collector', create: () => new Collector() };
}
