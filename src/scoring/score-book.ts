import { availabilityScore, networkChangePct, totalScore, usageScore, type ScoreWeights, type SubScores } from './scores.js';
import { nextState, type Phase, type StateOptions, type WorkerStatus } from './worker-state.js';

/**
 * The scorer's memory: per worker a window of response times and its state, and the pool's best
 * response time per interval. Each update turns one interval's measurements into seed 000
 * section 3.1 scores, section 3.3 categories and states, and section 3.5 weights. Pure: the
 * caller passes the time.
 *
 * Interpretations, where the paper leaves room:
 * - BestTime ("the average of the best response times") is the pool's: the mean, over the window,
 *   of the fastest worker's response time in each interval. Measured against its own best, a
 *   worker that is always slow would score as well as a fast one, and weights could not steer
 *   traffic between workers of different speeds.
 * - A sub-score whose measurement is missing (CPU and memory of workers on hosts without a
 *   collector, a worker not yet measured) is left out and the other weights are scaled up; with
 *   nothing measured a worker scores 100, the paper's initial assumption of no load.
 * - Weight = base weight x score / 100 (section 3.5 picks in proportion to the score), but never
 *   below minScore: a worker at score 0 would get no traffic, and traffic is what shows it has
 *   recovered. Workers in Sundown or Shutdown get weight 0.
 */

export interface ScoringOptions {
  weights: ScoreWeights;
  states: StateOptions;
  /** The availability penalty starts at thresholdFactor x BestTime (the paper's dynamic threshold). */
  thresholdFactor: number;
  /** Intervals of response times kept per worker: the window of AvgTime, BestTime and the trend. */
  historySamples: number;
  /** The least score a weight is computed from (0..100). */
  minScore: number;
}

export const DEFAULT_HISTORY_SAMPLES = 30;

export interface ScoreInput {
  id: string;
  baseWeight: number;
  isDefault: boolean;
  cpuPct: number | null;
  memoryPct: number | null;
  networkMBps: number | null;
  latencyMs: number | null;
  inflight: number;
}

export interface WorkerScore {
  id: string;
  score: number;
  sub: { [K in keyof SubScores]: number | null };
  /** U(t) = 100 - score. */
  utilization: number;
  phase: Phase;
  since: number;
  weight: number;
}

interface Tracked {
  latencies: number[];
  lastNetworkMBps: number | null;
  status: WorkerStatus;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x: number): number => Math.round(x * 1000) / 1000;
const roundOrNull = (x: number | null): number | null => (x === null ? null : round(x));

export class ScoreBook {
  private readonly workers = new Map<string, Tracked>();
  private readonly poolBest: number[] = [];

  constructor(private readonly options: ScoringOptions) {}

  update(inputs: readonly ScoreInput[], now: number): WorkerScore[] {
    const window = this.options.historySamples;
    let fastest = Infinity;
    for (const input of inputs) if (input.latencyMs !== null) fastest = Math.min(fastest, input.latencyMs);
    if (fastest < Infinity) push(this.poolBest, fastest, window);
    const bestMs = this.poolBest.length > 0 ? mean(this.poolBest) : 0;

    const present = new Set<string>();
    const scores = inputs.map((input) => {
      present.add(input.id);
      let t = this.workers.get(input.id);
      if (t === undefined) {
        t = { latencies: [], lastNetworkMBps: null, status: { phase: 'init', since: now } };
        this.workers.set(input.id, t);
      }
      if (input.latencyMs !== null) push(t.latencies, input.latencyMs, window);
      const sub = this.subScores(input, t, bestMs);
      const score = combine(sub, this.options.weights);
      const utilization = 100 - score;
      t.status = nextState(t.status, { utilization, inflight: input.inflight, now, isDefault: input.isDefault }, this.options.states);
      const draining = t.status.phase === 'sundown' || t.status.phase === 'shutdown';
      const weight = draining ? 0 : round((input.baseWeight * Math.max(score, this.options.minScore)) / 100);
      const shown = { cpu: roundOrNull(sub.cpu), memory: roundOrNull(sub.memory), network: roundOrNull(sub.network), availability: roundOrNull(sub.availability) };
      return { id: input.id, score: round(score), sub: shown, utilization: round(utilization), phase: t.status.phase, since: t.status.since, weight };
    });
    for (const id of this.workers.keys()) if (!present.has(id)) this.workers.delete(id);
    return scores;
  }

  private subScores(input: ScoreInput, t: Tracked, bestMs: number): WorkerScore['sub'] {
    let network: number | null = null;
    if (input.networkMBps !== null) {
      if (t.lastNetworkMBps !== null) network = usageScore(networkChangePct(input.networkMBps, t.lastNetworkMBps));
      t.lastNetworkMBps = input.networkMBps;
    }
    let availability: number | null = null;
    const l = t.latencies;
    if (l.length > 0) {
      const half = l.length >> 1;
      availability = availabilityScore(
        {
          currentMs: l[l.length - 1]!,
          averageMs: mean(l),
          bestMs,
          olderAverageMs: half > 0 ? mean(l.slice(0, half)) : 0,
          recentAverageMs: half > 0 ? mean(l.slice(half)) : 0,
        },
        this.options.thresholdFactor,
      );
    }
    return {
      cpu: input.cpuPct === null ? null : usageScore(input.cpuPct),
      memory: input.memoryPct === null ? null : usageScore(input.memoryPct),
      network,
      availability,
    };
  }
}

/** s = w_c s_c + w_m s_m + w_n s_n + w_a s_a over the measured sub-scores, weights rescaled to their sum. */
function combine(sub: WorkerScore['sub'], w: ScoreWeights): number {
  const used: ScoreWeights = { cpu: 0, memory: 0, network: 0, availability: 0 };
  const values: SubScores = { cpu: 0, memory: 0, network: 0, availability: 0 };
  let total = 0;
  for (const k of ['cpu', 'memory', 'network', 'availability'] as const) {
    const v = sub[k];
    if (v === null) continue;
    used[k] = w[k];
    values[k] = v;
    total += w[k];
  }
  return total > 0 ? totalScore(values, used) / total : 100;
}

function push(ring: number[], value: number, max: number): void {
  ring.push(value);
  if (ring.length > max) ring.shift();
}
