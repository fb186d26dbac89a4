import { HISTOGRAM_BUCKETS, quantile } from './latency-histogram.js';
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

/** The wrapping counters the sampler turns into totals. */
const COUNTERS = ['completed', 'errors', 'busyUs', 'bytesIn', 'bytesOut'] as const;
type Counter = (typeof COUNTERS)[number];

interface SlotHistory {
  /** Each counter's value at the last sample, and its total then. */
  last: Record<Counter, number>;
  total: Record<Counter, number>;
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
      this.table.readHistogram(slot, h.ring[h.next]!);
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

  private slotHistory(slot: number): SlotHistory {
    let h = this.history.get(slot);
    if (!h) {
      const c = this.table.read(slot);
      const counts = Object.fromEntries(COUNTERS.map((k) => [k, c[k]])) as Record<Counter, number>;
      h = {
        last: counts,
        total: { ...counts },
        ring: Array.from({ length: this.windowSamples }, () => new Uint32Array(HISTOGRAM_BUCKETS)),
        next: 0,
        filled: 0,
      };
      this.history.set(slot, h);
    }
    return h;
  }
}
