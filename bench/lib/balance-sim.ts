/**
 * A discrete-event simulation of one balancer in front of single-server FIFO workers, for
 * bench:balance (b). Deterministic from its seed. The balancer sees what the data plane sees:
 * live in-flight counts, peak-EWMA latency per worker, and weights that a scorer refreshes every
 * interval from what it measured (so they are stale in between, as in the real system).
 *
 * Every policy gets the same trace (arrival times and request sizes, drawn once from the seed):
 * common random numbers, so that two policies differ only by their choices. Drawing arrivals and
 * service times from one stream as requests were routed let each policy's choices reshuffle the
 * bursts, and made the bursty comparisons mostly noise.
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

/** The requests of one run: when each arrives and its size (service time at speed 1, in units of baseServiceMs). */
export interface Trace {
  arrivals: Float64Array;
  sizes: Float64Array;
}

/** Poisson arrivals at the configured load, or bursty ones: alternately 1.6x and 0.4x the mean rate, 250 ms on average each. */
export function makeTrace(c: SimConfig): Trace {
  const stream = (k: number) => seededRandom((c.seed ^ Math.imul(0x9e3779b9, k)) >>> 0);
  const [arrivalRandom, phaseRandom, sizeRandom] = [stream(1), stream(2), stream(3)];
  const exp = (random: () => number, mean: number): number => -Math.log(1 - random()) * mean;
  const rate = (c.load * c.speeds.reduce((a, s) => a + s, 0)) / c.baseServiceMs;
  const arrivals: number[] = [];
  const sizes: number[] = [];
  let high = true;
  let phaseEnds = c.arrivals === 'bursty' ? exp(phaseRandom, 250) : Infinity;
  // Exponential gaps are memoryless, so a gap drawn at the current rate and cut at a phase switch is redrawn at the new one.
  let t = 0;
  for (;;) {
    const current = c.arrivals === 'poisson' ? rate : high ? 1.6 * rate : 0.4 * rate;
    const next = t + exp(arrivalRandom, 1 / current);
    if (next >= phaseEnds) {
      t = phaseEnds;
      high = !high;
      phaseEnds += exp(phaseRandom, 250);
      continue;
    }
    if (next >= c.durationMs) break;
    t = next;
    arrivals.push(t);
    sizes.push(exp(sizeRandom, 1));
  }
  return { arrivals: Float64Array.from(arrivals), sizes: Float64Array.from(sizes) };
}

/** How long a request of this size takes on worker w, starting at `now`. */
function serviceMs(c: SimConfig, w: number, size: number, now: number): number {
  return ((size * c.baseServiceMs) / c.speeds[w]!) * (w === c.slowWorker && now >= c.slowAtMs ? c.slowFactor : 1);
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

function summarize(latencies: number[], maxQueue: number): SimResult {
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { requests: latencies.length, p50Ms: at(0.5), p99Ms: at(0.99), p999Ms: at(0.999), maxQueue };
}

export function simulate(policy: SimPolicy, c: SimConfig, trace: Trace): SimResult {
  const policyRandom = seededRandom(c.seed ^ 0x5bd1e995);
  const n = c.speeds.length;
  const queues: number[][] = Array.from({ length: n }, () => []); // request indices, head in service
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
  const { arrivals, sizes } = trace;
  const latencies: number[] = [];
  let maxQueue = 0;
  let next = 0; // the next request to arrive

  const events = new EventQueue();
  const startService = (w: number, now: number): void => {
    busySince[w] = now;
    events.push(now + serviceMs(c, w, sizes[queues[w]![0]!]!, now), w);
  };
  if (arrivals.length > 0) events.push(arrivals[0]!, ARRIVAL);
  events.push(c.scorerIntervalMs, SCORE);

  while (events.size > 0) {
    const kind = events.pop();
    const now = events.time;
    if (kind === ARRIVAL) {
      const w = policy(view, policyRandom);
      const q = queues[w]!;
      q.push(next++);
      maxQueue = Math.max(maxQueue, q.length);
      if (q.length === 1) startService(w, now);
      if (next < arrivals.length) events.push(arrivals[next]!, ARRIVAL);
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
      const latency = now - arrivals[q.shift()!]!;
      latencies.push(latency);
      ewma[w] = peakEwma(ewma[w]!, ewmaAt[w]!, latency, now, PEAK_EWMA_TAU_MS);
      ewmaAt[w] = now;
      doneInWindow[w]!++;
      busyInWindow[w]! += now - busySince[w]!;
      if (q.length > 0) startService(w, now);
      else busySince[w] = -1;
    }
  }
  return summarize(latencies, maxQueue);
}

/**
 * A reference, not a policy: a clairvoyant balancer that knows every worker's speed (the
 * slowdown included), every request's size and every queue, and sends each request, in arrival
 * order, to the worker that will finish it first. No per-request routing without that knowledge
 * does better by much; against it, a target shows whether it is reachable at all.
 */
export function simulateClairvoyant(c: SimConfig, trace: Trace): SimResult {
  const n = c.speeds.length;
  const freeAt = new Float64Array(n);
  const queues: number[][] = Array.from({ length: n }, () => []); // completion times of what each worker holds
  const { arrivals, sizes } = trace;
  const latencies: number[] = [];
  let maxQueue = 0;
  for (let k = 0; k < arrivals.length; k++) {
    const arrived = arrivals[k]!;
    let w = 0;
    let done = Infinity;
    for (let i = 0; i < n; i++) {
      const start = Math.max(arrived, freeAt[i]!);
      const t = start + serviceMs(c, i, sizes[k]!, start);
      if (t < done) [w, done] = [i, t];
    }
    freeAt[w] = done;
    latencies.push(done - arrived);
    const q = queues[w]!;
    while (q.length > 0 && q[0]! <= arrived) q.shift();
    q.push(done);
    maxQueue = Math.max(maxQueue, q.length);
  }
  return summarize(latencies, maxQueue);
}
