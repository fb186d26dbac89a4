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
 * - Weights (`weightBy`): "score" is section 3.5, base weight x score / 100. "process-time" is
 *   seed 004, whose two criteria (process time and network delay) survive only as an abstract:
 *   a worker's share is 1 / (process time + network delay), relative to the fastest worker, with
 *   process time the busy time per completed request as the ingress sees it (smoothed over
 *   intervals) and network delay the TCP connect time. "score-and-process-time" multiplies the
 *   two: the share a worker can serve, scaled down as its score falls. A score below minScore
 *   counts as minScore: at 0 a worker would get no traffic, and traffic is what shows it has
 *   recovered. Workers in Sundown or Shutdown get weight 0.
 */

export const WEIGHT_BASES = ['score', 'process-time', 'score-and-process-time'] as const;
export type WeightBasis = (typeof WEIGHT_BASES)[number];

export interface ScoringOptions {
  weightBy: WeightBasis;
  weights: ScoreWeights;
  states: StateOptions;
  /** The availability penalty starts at thresholdFactor x BestTime (the paper's dynamic threshold). */
  thresholdFactor: number;
  /** Intervals of response times kept per worker: the window of AvgTime, BestTime and the trend. */
  historySamples: number;
  /** The least score a weight is computed from (0..100). */
  minScore: number;
  /** Network rates are compared relative to at least this (see networkChangePct). */
  networkFloorMBps: number;
}

export const DEFAULT_HISTORY_SAMPLES = 30;

export interface ScoreInput {
  id: string;
  baseWeight: number;
  isDefault: boolean;
  cpuPct: number | null;
  memoryPct: number | null;
  networkMBps: number | null;
  processTimeMs: number | null;
  networkDelayMs: number | null;
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
  /** Smoothed seed 004 process time plus network delay, ms; null before the first measurement. */
  serviceMs: number | null;
  weight: number;
}

interface Tracked {
  latencies: number[];
  lastNetworkMBps: number | null;
  processTimeMs: number | null;
  status: WorkerStatus;
}

/** Weight of a new process-time measurement against the smoothed one. */
const PROCESS_TIME_ALPHA = 0.5;

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x: number): number => Math.round(x * 1000) / 1000;
/** Four significant digits: small weights must not round to 0, which would take a worker out. */
const significant = (x: number): number => Number(x.toPrecision(4));
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

    const tracked = inputs.map((input) => {
      let t = this.workers.get(input.id);
      if (t === undefined) {
        t = { latencies: [], lastNetworkMBps: null, processTimeMs: null, status: { phase: 'init', since: now } };
        this.workers.set(input.id, t);
      }
      if (input.processTimeMs !== null) {
        t.processTimeMs = t.processTimeMs === null ? input.processTimeMs : t.processTimeMs + PROCESS_TIME_ALPHA * (input.processTimeMs - t.processTimeMs);
      }
      return t;
    });
    const capacity = capacityShares(inputs, tracked);

    const present = new Set<string>();
    const scores = inputs.map((input, i) => {
      present.add(input.id);
      const t = tracked[i]!;
      if (input.latencyMs !== null) push(t.latencies, input.latencyMs, window);
      const sub = this.subScores(input, t, bestMs);
      const score = combine(sub, this.options.weights);
      const utilization = 100 - score;
      t.status = nextState(t.status, { utilization, inflight: input.inflight, now, isDefault: input.isDefault }, this.options.states);
      const draining = t.status.phase === 'sundown' || t.status.phase === 'shutdown';
      const scoreFactor = Math.max(score, this.options.minScore) / 100;
      const by = this.options.weightBy;
      const factor = by === 'score' ? scoreFactor : by === 'process-time' ? capacity[i]! : capacity[i]! * scoreFactor;
      const weight = draining ? 0 : significant(input.baseWeight * factor);
      const serviceMs = t.processTimeMs === null ? null : round(t.processTimeMs + (input.networkDelayMs ?? 0));
      const shown = { cpu: roundOrNull(sub.cpu), memory: roundOrNull(sub.memory), network: roundOrNull(sub.network), availability: roundOrNull(sub.availability) };
      return { id: input.id, score: round(score), sub: shown, utilization: round(utilization), phase: t.status.phase, since: t.status.since, serviceMs, weight };
    });
    for (const id of this.workers.keys()) if (!present.has(id)) this.workers.delete(id);
    return scores;
  }

  private subScores(input: ScoreInput, t: Tracked, bestMs: number): WorkerScore['sub'] {
    let network: number | null = null;
    if (input.networkMBps !== null) {
      if (t.lastNetworkMBps !== null) network = usageScore(networkChangePct(input.networkMBps, t.lastNetworkMBps, this.options.networkFloorMBps));
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

/**
 * Each worker's 1 / (process time + network delay) relative to the fastest (0..1]. A worker not
 * measured yet gets the mean share of those that are (1 when none is), so it gets traffic to be
 * measured by.
 */
function capacityShares(inputs: readonly ScoreInput[], tracked: readonly Tracked[]): number[] {
  const rates = tracked.map((t, i) => (t.processTimeMs === null ? null : 1 / Math.max(1e-3, t.processTimeMs + (inputs[i]!.networkDelayMs ?? 0))));
  const known = rates.filter((r): r is number => r !== null);
  if (known.length === 0) return rates.map(() => 1);
  const fastest = Math.max(...known);
  const meanShare = known.reduce((a, r) => a + r / fastest, 0) / known.length;
  return rates.map((r) => (r === null ? meanShare : r / fastest));
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
