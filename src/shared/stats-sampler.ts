import { bucketBounds, HISTOGRAM_BUCKETS, quantile } from './latency-histogram.js';
import type { StatsTable } from './stats-table.js';

/**
 * Main-thread reader of the stats table: turns wrapping 32-bit counters into running totals and
 * keeps a ring of histogram snapshots so latency quantiles describe the recent window rather than
 * all time. Call sample() at a steady pace (once a second); it must run before any counter can
 * wrap twice (2^32 requests on one worker between samples).
 */

export interface WorkerStatsReport {
  inflight: number;
  completed: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  ewmaMs: number | null;
  /** Time with a request in flight since the worker joined, the open busy period included. */
  busyMs: number;
  /** Over the last `windowSamples` samples; null when no request completed in the window. */
  p50Ms: number | null;
  p99Ms: number | null;
}

/**
 * A worker's latencies since it joined, as a Prometheus histogram: cumulative counts of the
 * latencies up to each bound (the last one +Inf, so it is the count), and their sum.
 */
export interface LatencyHistogram {
  boundsSeconds: readonly number[];
  cumulative: number[];
  sumSeconds: number;
}

/**
 * The histogram's bounds: powers of two from 256 us to 33.6 s. Each is an edge of the
 * shared-memory buckets (bucketBounds), so every count is exact, not interpolated; and a latency
 * truncated to whole microseconds is below 2^k us exactly when the true one is.
 */
const BOUNDS_US = Array.from({ length: 18 }, (_, i) => 2 ** (i + 8));
const BOUNDS_SECONDS = [...BOUNDS_US.map((us) => us / 1e6), Infinity];
/** For each shared-memory bucket, the first bound at or above its upper edge. */
const BOUND_OF_BUCKET = Array.from({ length: HISTOGRAM_BUCKETS }, (_, b) => {
  const upper = bucketBounds(b)[1];
  const i = BOUNDS_US.findIndex((bound) => upper <= bound);
  return i === -1 ? BOUNDS_US.length : i;
});

/** The wrapping counters the sampler turns into totals. */
const COUNTERS = ['completed', 'errors', 'busyUs', 'bytesIn', 'bytesOut', 'latencySumUs'] as const;
type Counter = (typeof COUNTERS)[number];

interface SlotHistory {
  /** Each counter's value at the last sample, and its total then. */
  last: Record<Counter, number>;
  total: Record<Counter, number>;
  /** The histogram at the last sample, and each bucket's total then (the counts wrap too). */
  lastHistogram: Uint32Array;
  histogramTotal: Float64Array;
  ring: Uint32Array[];
  next: number;
  filled: number;
}

export class StatsSampler {
  private readonly history = new Map<number, SlotHistory>();
  private readonly scratch = new Uint32Array(HISTOGRAM_BUCKETS);
  private readonly window = new Float64Array(HISTOGRAM_BUCKETS);

  constructor(
    private readonly table: StatsTable,
    private readonly windowSamples = 10,
  ) {}

  sample(slots: Iterable<number>): void {
    for (const slot of slots) {
      const h = this.slotHistory(slot);
      const c = this.table.read(slot);
      for (const k of COUNTERS) {
        h.total[k] += (c[k] - h.last[k]) >>> 0;
        h.last[k] = c[k];
      }
      const snapshot = h.ring[h.next]!;
      this.table.readHistogram(slot, snapshot);
      for (let b = 0; b < HISTOGRAM_BUCKETS; b++) h.histogramTotal[b]! += (snapshot[b]! - h.lastHistogram[b]!) >>> 0;
      h.lastHistogram.set(snapshot);
      h.next = (h.next + 1) % h.ring.length;
      h.filled = Math.min(h.filled + 1, h.ring.length);
    }
  }

  /** Drop a slot's history when the slot is freed, so a new worker starts from zero. */
  forget(slot: number): void {
    this.history.delete(slot);
  }

  report(slot: number): WorkerStatsReport {
    const h = this.slotHistory(slot);
    const c = this.table.read(slot);
    // Totals include what happened since the last sample.
    const total = (k: Counter): number => h.total[k] + ((c[k] - h.last[k]) >>> 0);
    const openUs = c.busySinceUs !== 0 ? (c.nowUs - c.busySinceUs) >>> 0 : 0;
    const busyUs = total('busyUs') + openUs;
    this.table.readHistogram(slot, this.scratch);
    // Window = now minus the oldest snapshot in the ring (or minus zero before the ring fills).
    const oldest = h.filled < h.ring.length ? undefined : h.ring[h.next]!;
    for (let b = 0; b < HISTOGRAM_BUCKETS; b++) this.window[b] = (this.scratch[b]! - (oldest ? oldest[b]! : 0)) >>> 0;
    const p50 = quantile(this.window, 0.5);
    const p99 = quantile(this.window, 0.99);
    return {
      inflight: c.inflight,
      completed: total('completed'),
      errors: total('errors'),
      bytesIn: total('bytesIn'),
      bytesOut: total('bytesOut'),
      ewmaMs: c.ewmaUs > 0 ? c.ewmaUs / 1000 : null,
      busyMs: busyUs / 1000,
      p50Ms: Number.isNaN(p50) ? null : p50 / 1000,
      p99Ms: Number.isNaN(p99) ? null : p99 / 1000,
    };
  }

  /** The worker's latency histogram since it joined, what ended since the last sample included. */
  latencyHistogram(slot: number): LatencyHistogram {
    const h = this.slotHistory(slot);
    this.table.readHistogram(slot, this.scratch);
    const counts = new Array<number>(BOUNDS_SECONDS.length).fill(0);
    for (let b = 0; b < HISTOGRAM_BUCKETS; b++) counts[BOUND_OF_BUCKET[b]!]! += h.histogramTotal[b]! + ((this.scratch[b]! - h.lastHistogram[b]!) >>> 0);
    for (let i = 1; i < counts.length; i++) counts[i]! += counts[i - 1]!;
    const c = this.table.read(slot);
    const sumUs = h.total.latencySumUs + ((c.latencySumUs - h.last.latencySumUs) >>> 0);
    return { boundsSeconds: BOUNDS_SECONDS, cumulative: counts, sumSeconds: sumUs / 1e6 };
  }

  private slotHistory(slot: number): SlotHistory {
    let h = this.history.get(slot);
    if (!h) {
      const c = this.table.read(slot);
      const counts = Object.fromEntries(COUNTERS.map((k) => [k, c[k]])) as Record<Counter, number>;
      const histogram = new Uint32Array(HISTOGRAM_BUCKETS);
      this.table.readHistogram(slot, histogram);
      h = {
        last: counts,
        total: { ...counts },
        lastHistogram: histogram,
        histogramTotal: Float64Array.from(histogram),
        ring: Array.from({ length: this.windowSamples }, () => new Uint32Array(HISTOGRAM_BUCKETS)),
        next: 0,
        filled: 0,
      };
      this.history.set(slot, h);
    }
    return h;
  }
}
