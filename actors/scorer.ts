import type { Actor, ActorContext, ActorSpec } from '../src/actor/actor.js';
import type { MessageOf } from '../src/bus/messages.js';
import { topics } from '../src/bus/subjects.js';
import { mergeSamples } from '../src/scoring/sample-merge.js';
import { ScoreBook, type ScoringOptions, type WorkerScore } from '../src/scoring/score-book.js';

type In = { kind: 'sample'; message: MessageOf<'metrics.sample'> } | { kind: 'tick' };

/** Samples older than this many intervals come from a collector that is gone. */
const STALE_INTERVALS = 3;

export interface ScorerOptions {
  pool: string;
  intervalMs: number;
  scoring: ScoringOptions;
  /** Every interval's scores, for the admin API. */
  onScores?(scores: { at: number; workers: WorkerScore[] }): void;
}

/**
 * The scorer: keeps the latest metrics.sample of every collector and, every interval, turns them
 * into scores, categories, states and weights (src/scoring/score-book.ts) and publishes
 * weights.updated (for the ingress hosts) and scores.updated (for the reconciler). Publishing every interval (not only on change) lets an ingress host that
 * starts later converge within one interval.
 */
class Scorer implements Actor<In> {
  private ctx!: ActorContext<In>;
  private readonly latest = new Map<string, MessageOf<'metrics.sample'>>();
  private readonly book: ScoreBook;
  private sequence = 0;

  constructor(private readonly options: ScorerOptions) {
    this.book = new ScoreBook(options.scoring);
  }

  start(ctx: ActorContext<In>): void {
    this.ctx = ctx;
    ctx.subscribe(topics.allMetricsSamples(), (message) => ({ kind: 'sample', message }));
    ctx.every(this.options.intervalMs, () => ({ kind: 'tick' }));
  }

  receive(message: In): void {
    if (message.kind === 'sample') this.latest.set(message.message.host, message.message);
    else this.score();
  }

  private score(): void {
    const now = Date.now();
    const cutoff = now - STALE_INTERVALS * this.options.intervalMs;
    for (const [host, sample] of this.latest) if (sample.at < cutoff) this.latest.delete(host);
    const inputs = mergeSamples(this.latest.values());
    if (inputs.length === 0) return;
    const scores = this.book.update(inputs, now);
    this.options.onScores?.({ at: now, workers: scores });
    this.ctx.bus.publish(topics.weightsUpdated(this.options.pool), {
      type: 'weights.updated',
      v: 1,
      pool: this.options.pool,
      sequence: this.sequence++,
      at: now,
      weights: scores.map((s) => ({ id: s.id, weight: s.weight })),
    });
    this.ctx.bus.publish(topics.scoresUpdated(this.options.pool), {
      type: 'scores.updated',
      v: 1,
      pool: this.options.pool,
      at: now,
      workers: scores.map((s) => ({ id: s.id, score: s.score, phase: s.phase, weight: s.weight })),
    });
  }
}

export function scorer(options: ScorerOptions): ActorSpec<In> {
  return { name: 'scorer', create: () => new Scorer(options) };
}
