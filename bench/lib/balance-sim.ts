/**
 * A discrete-event simulation of one balancer in front of single-server FIFO workers, for
 * bench:balance (b). Deterministic from its seed. The balancer sees what the data plane sees:
 * live in-flight counts, peak-EWMA latency per worker, and weights that a scorer refreshes every
 * interval from what it measured (so they are stale in between, as in the real system).
 */
import { buildAliasTable } from '../../src/balancing/alias-table.js';
import { PEAK_EWMA_TAU_MS, peakEwma } from '../../src/balancing/peak-ewma.js';
import type { PolicyView } from '../../src/balancing/policy-view.js';
import { seededRandom, type RandomSource } from '../../src/balancing/random.js';

export type SimPolicy = (view: PolicyView, random: RandomSource) => number;

export interface SimConfig {
  /** Relative worker speeds; a worker of speed s serves in baseServiceMs / s on average. */
  speeds: number[];
  baseServiceMs: number;
  /** Offered load as a share of the initial total capacity. */
  load: number;
  arrivals: 'poisson' | 'bursty';
  durationMs: number;
  /** This worker becomes slowFactor times slower at slowAtMs. */
  slowWorker: number;
  slowFactor: number;
  slowAtMs: number;
  scorerIntervalMs: number;
  seed: number;
}

export interface SimResult {
  requests: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** The longest queue (in service included) any worker had. */
  maxQueue: number;
}

/** A min-heap of events by time. */
class EventQueue {
  private readonly times: number[] = [];
  private readonly kinds: number[] = [];

  push(time: number, kind: number): void {
    const t = this.times;
    const k = this.kinds;
    let i = t.length;
    t.push(time);
    k.push(kind);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p]! <= time) break;
      t[i] = t[p]!;
      k[i] = k[p]!;
      i = p;
    }
    t[i] = time;
    k[i] = kind;
  }

  /** Removes the earliest event; returns its kind, its time in `time`. */
  time = 0;
  pop(): number {
    const t = this.times;
    const k = this.kinds;
    this.time = t[0]!;
    const kind = k[0]!;
    const lastT = t.pop()!;
    const lastK = k.pop()!;
    if (t.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= t.length) break;
        const c = l + 1 < t.length && t[l + 1]! < t[l]! ? l + 1 : l;
        if (t[c]! >= lastT) break;
        t[i] = t[c]!;
        k[i] = k[c]!;
        i = c;
      }
      t[i] = lastT;
      k[i] = lastK;
    }
    return kind;
  }

  get size(): number {
    return this.times.length;
  }
}

const ARRIVAL = -1;
const SCORE = -2;
const SWITCH = -3;

export function simulate(policy: SimPolicy, c: SimConfig): SimResult {
  const random = seededRandom(c.seed);
  const policyRandom = seededRandom(c.seed ^ 0x5bd1e995);
  const exp = (mean: number): number => -Math.log(1 - random()) * mean;
  const n = c.speeds.length;
  const queues: number[][] = Array.from({ length: n }, () => []); // arrival times, head in service
  const ewma = new Float64Array(n);
  const ewmaAt = new Float64Array(n);
  const weights = Float64Array.from(c.speeds);
  const busySince = new Float64Array(n).fill(-1);
  const busyInWindow = new Float64Array(n);
  const doneInWindow = new Float64Array(n);
  const prob = new Float64Array(n);
  const alias = new Uint32Array(n);
  buildAliasTable(weights, prob, alias);
  const view: PolicyView = {
    count: n,
    prob,
    alias,
    inflight: (i) => queues[i]!.length,
    latencyUs: (i) => ewma[i]! * 1000,
    weight: (i) => weights[i]!,
  };
  const capacityPerMs = c.speeds.reduce((a, s) => a + s, 0) / c.baseServiceMs;
  const rate = c.load * capacityPerMs;
  let high = true; // bursty: alternate 1.6x and 0.4x the mean rate, 250 ms on average each
  const currentRate = (): number => (c.arrivals === 'poisson' ? rate : high ? 1.6 * rate : 0.4 * rate);
  const latencies: number[] = [];
  let maxQueue = 0;

  const events = new EventQueue();
  const serviceTime = (w: number, now: number): number => exp(c.baseServiceMs / c.speeds[w]!) * (w === c.slowWorker && now >= c.slowAtMs ? c.slowFactor : 1);
  events.push(exp(1 / currentRate()), ARRIVAL);
  events.push(c.scorerIntervalMs, SCORE);
  if (c.arrivals === 'bursty') events.push(exp(250), SWITCH);

  while (events.size > 0) {
    const kind = events.pop();
    const now = events.time;
    if (kind === ARRIVAL) {
      if (now >= c.durationMs) continue;
      const w = policy(view, policyRandom);
      const q = queues[w]!;
      q.push(now);
      maxQueue = Math.max(maxQueue, q.length);
      if (q.length === 1) {
        busySince[w] = now;
        events.push(now + serviceTime(w, now), w);
      }
      events.push(now + exp(1 / currentRate()), ARRIVAL);
    } else if (kind === SWITCH) {
      high = !high;
      if (now < c.durationMs) events.push(now + exp(250), SWITCH);
    } else if (kind === SCORE) {
      // The scorer: each worker's measured service rate over the window becomes its weight.
      for (let w = 0; w < n; w++) {
        let busy = busyInWindow[w]!;
        if (busySince[w]! >= 0) busy += now - busySince[w]!;
        if (doneInWindow[w]! > 0 && busy > 0) weights[w] = doneInWindow[w]! / busy;
        busyInWindow[w] = 0;
        doneInWindow[w] = 0;
        if (busySince[w]! >= 0) busySince[w] = now;
      }
      buildAliasTable(weights, prob, alias);
      if (now < c.durationMs) events.push(now + c.scorerIntervalMs, SCORE);
    } else {
      const w = kind;
      const q = queues[w]!;
      const arrived = q.shift()!;
      const latency = now - arrived;
      latencies.push(latency);
      ewma[w] = peakEwma(ewma[w]!, ewmaAt[w]!, latency, now, PEAK_EWMA_TAU_MS);
      ewmaAt[w] = now;
      doneInWindow[w]!++;
      busyInWindow[w]! += now - busySince[w]!;
      if (q.length > 0) {
        busySince[w] = now;
        events.push(now + serviceTime(w, now), w);
      } else {
        busySince[w] = -1;
      }
    }
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { requests: latencies.length, p50Ms: at(0.5), p99Ms: at(0.99), p999Ms: at(0.999), maxQueue };
}
