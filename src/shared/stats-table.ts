import { performance } from 'node:perf_hooks';
import { PEAK_EWMA_TAU_MS, peakEwma } from '../balancing/peak-ewma.js';
import { bucketOf, HISTOGRAM_BUCKETS } from './latency-histogram.js';


/** How a request ended, for a worker's counters and outlier detection. */
export const Outcome = {
  ok: 0,
  /** A 5xx, or the worker refused, reset or timed out. */
  workerFailed: 1,
  /** The client went away or broke a limit (413): neither success nor the worker's failure. */
  clientEnded: 2,
} as const;
export type OutcomeValue = (typeof Outcome)[keyof typeof Outcome];
/**
 * Per-worker request statistics in shared memory, written by every ingress thread with Atomics
 * and read by the main thread without messages.
 *
 * Counters are 32-bit and wrap; the main thread's StatsSampler reads them at least once a second
 * and accumulates the deltas into 64-bit totals, as Prometheus counters do. Body bytes are counted
 * as they pass, chunk by chunk, so they wrap like the rest: 4 GiB per worker and direction
 * between two samples (34 Gbit/s) is out of reach. (64-bit counters cost a BigInt conversion and
 * allocation per request, about 800 instructions.)
 */

const S_INFLIGHT = 0;
const S_COMPLETED = 1;
const S_ERRORS = 2;
const S_EWMA_US = 3;
/** Peak EWMA of latency (us) and when it was last updated (deciseconds since the table's epoch). */
const S_PEAK_US = 4;
const S_PEAK_AT = 5;
/** Failures (5xx, connect or reset) since the last success, for outlier detection. */
const S_CONSECUTIVE_FAILURES = 6;
/**
 * Busy time: microseconds (wrapping) during which the worker had a request in flight, and when
 * the current busy period began. Completions per busy second are the worker's service rate, the
 * "process time" of seed 004, measured from outside.
 */
const S_BUSY_US = 7;
const S_BUSY_SINCE = 8;
const S_BYTES_IN = 9;
const S_BYTES_OUT = 10;
/** Latencies summed (us, wrapping), for a Prometheus histogram's _sum beside the buckets' counts. */
const S_LATENCY_SUM_US = 11;
const S_HIST = 12;
const SLOT_INTS = S_HIST + HISTOGRAM_BUCKETS;

const G_INFLIGHT = 0;
const G_REJECTED = 1;
/** The table's epoch (Date.now() at creation), split in two, so every thread shares one clock. */
const G_EPOCH_HI = 2;
const G_EPOCH_LO = 3;
const G_LANES = 4;
/**
 * Requests waiting for a worker with room under limits.maxRequestsPerWorker, over every thread;
 * queue timeouts (a counter); and a sequence bumped when room appears for another thread's
 * waiting requests (see roomFreed, announceRoom), which waiting threads sleep on (Atomics.waitAsync).
 */
const G_QUEUED = 5;
const G_QUEUE_TIMEOUTS = 6;
const G_FREED = 7;
/** Requests and WebSocket upgrades the access lists refused (403). */
const G_FORBIDDEN = 8;
/** The last ticket given to a request that waits for room (see takeTicket). */
const G_TICKETS = 9;
const G_INTS = 10;

/**
 * Lanes: one per ingress thread, holding what that thread has in flight (its admissions, then
 * its requests per slot), written by it alone with plain stores. When a thread dies with
 * requests in flight, nothing would ever end them; the host takes them off the shared counts
 * from the dead thread's lane (reclaimLane), so the admission limit and the balancers' in-flight
 * counts do not stay off for good.
 */
const L_ADMITTED = 0;
/** Of those, the requests waiting in the thread's queue. */
const L_QUEUED = 1;
/** The ticket of the thread's oldest waiting request, 0 when none waits; read by every thread. */
const L_HEAD = 2;
const L_SLOTS = 3;
/** Ints per lane for `capacity` slots, a whole number of 64-byte cache lines apart. */
const laneInts = (capacity: number): number => Math.ceil((L_SLOTS + capacity) / 16) * 16;

/** EWMA weight of a new sample: 1/8, as TCP's smoothed RTT. */
const EWMA_SHIFT = 3;

export interface SlotCounters {
  inflight: number;
  completed: number;
  errors: number;
  ewmaUs: number;
  /** Busy microseconds (wrapping), and when the open busy period began (0: none open). */
  busyUs: number;
  busySinceUs: number;
  /** The table's microsecond clock now, to close the open period at. */
  nowUs: number;
  /** Body bytes to and from the worker (wrapping). */
  bytesIn: number;
  bytesOut: number;
  /** The latencies the histogram counts, summed in microseconds (wrapping). */
  latencySumUs: number;
}

export class StatsTable {
  readonly capacity: number;
  private readonly global: Int32Array;
  private readonly slots: Int32Array;
  /** This view's lane: what its thread has in flight. */
  private readonly lane: Int32Array;
  /** Every lane, laneInts(capacity) apart, for the other threads' queue heads. */
  private readonly lanes: Int32Array;
  private readonly laneStride: number;

  static byteLength(capacity: number, lanes: number): number {
    return (G_INTS + capacity * SLOT_INTS + lanes * laneInts(capacity)) * 4;
  }

  /** A table for `lanes` writer threads, each opening its view with its own lane index. */
  static create(capacity: number, lanes = 1): StatsTable {
    const buffer = new SharedArrayBuffer(StatsTable.byteLength(capacity, lanes));
    const global = new Int32Array(buffer, 0, G_INTS);
    const now = Date.now();
    Atomics.store(global, G_EPOCH_HI, Math.floor(now / 2 ** 31));
    Atomics.store(global, G_EPOCH_LO, now % 2 ** 31);
    Atomics.store(global, G_LANES, lanes);
    return new StatsTable(buffer, capacity);
  }

  /** performance.now() plus this is now(). */
  private readonly clockOffset: number;
  /** Called when a request of this thread's leaves a worker while only this thread has requests waiting for room. */
  onLocalRoom: (() => void) | null = null;

  constructor(
    readonly buffer: SharedArrayBuffer,
    capacity: number,
    laneIndex = 0,
  ) {
    this.capacity = capacity;
    this.global = new Int32Array(buffer, 0, G_INTS);
    this.slots = new Int32Array(buffer, G_INTS * 4, capacity * SLOT_INTS);
    // The host's own view opens lane 0 too; it never admits or begins requests.
    this.lane = this.laneView(laneIndex);
    this.laneStride = laneInts(capacity);
    this.lanes = new Int32Array(buffer, (G_INTS + capacity * SLOT_INTS) * 4, Atomics.load(this.global, G_LANES) * this.laneStride);
    const epoch = Atomics.load(this.global, G_EPOCH_HI) * 2 ** 31 + Atomics.load(this.global, G_EPOCH_LO);
    // Read once: the timeOrigin getter checks its receiver and calls into C++ on every read.
    this.clockOffset = performance.timeOrigin - epoch;
  }

  /**
   * Milliseconds since the table's epoch, the same in every thread (each thread's timeOrigin plus
   * its monotonic clock). Ingress threads time requests with it, so ending one reads the clock
   * once for the latency, the busy period and the peak EWMA's timestamp.
   */
  now(): number {
    return performance.now() + this.clockOffset;
  }

  /** Microseconds on the table's shared clock, wrapping at 2^32 (about 71 minutes). */
  private static micros(nowMs: number): number {
    return (nowMs * 1000) >>> 0;
  }

  /** The table's clock in deciseconds, as the peak EWMA's timestamp is stored. */
  private static deciseconds(nowMs: number): number {
    return (nowMs / 100) | 0;
  }

  /**
   * The slot's peak-EWMA latency in microseconds, decayed towards 0 for the time since its last
   * sample, as Finagle does, so a worker that stopped getting traffic is tried again.
   */
  peakLatencyUs(slot: number): number {
    const base = slot * SLOT_INTS;
    const value = Atomics.load(this.slots, base + S_PEAK_US);
    if (value === 0) return 0;
    const idleMs = (StatsTable.deciseconds(this.now()) - Atomics.load(this.slots, base + S_PEAK_AT)) * 100;
    return idleMs > 0 ? value * Math.exp(-idleMs / PEAK_EWMA_TAU_MS) : value;
  }

  /** Admission against a global concurrency limit (seed 000, section 5); 0 means unlimited. */
  tryAdmit(limit: number): boolean {
    const now = Atomics.add(this.global, G_INFLIGHT, 1) + 1;
    if (limit > 0 && now > limit) {
      Atomics.sub(this.global, G_INFLIGHT, 1);
      Atomics.add(this.global, G_REJECTED, 1);
      return false;
    }
    this.lane[L_ADMITTED]!++;
    return true;
  }

  release(): void {
    Atomics.sub(this.global, G_INFLIGHT, 1);
    this.lane[L_ADMITTED]!--;
  }

  get inflightTotal(): number {
    return Atomics.load(this.global, G_INFLIGHT);
  }

  get rejectedTotal(): number {
    return Atomics.load(this.global, G_REJECTED) >>> 0;
  }

  /**
   * Begins a request on the slot unless `limit` (above 0) are in flight there already, counted
   * over every thread: a compare-and-swap, so two threads never both take the last place.
   */
  tryBegin(slot: number, limit: number): boolean {
    const s = this.slots;
    const at = slot * SLOT_INTS + S_INFLIGHT;
    let before: number;
    if (limit <= 0) {
      before = Atomics.add(s, at, 1);
    } else {
      do {
        before = Atomics.load(s, at);
        if (before >= limit) return false;
      } while (Atomics.compareExchange(s, at, before, before + 1) !== before);
    }
    if (before === 0) Atomics.store(s, slot * SLOT_INTS + S_BUSY_SINCE, StatsTable.micros(this.now()) | 1);
    this.lane[L_SLOTS + slot]!++;
    return true;
  }

  /** A request of this thread starts (+1) or stops (-1) waiting for a worker with room. */
  queue(delta: 1 | -1): void {
    Atomics.add(this.global, G_QUEUED, delta);
    this.lane[L_QUEUED]! += delta;
  }

  get queuedTotal(): number {
    return Atomics.load(this.global, G_QUEUED);
  }

  /** Some other thread has requests waiting for room. */
  get othersWaiting(): boolean {
    return Atomics.load(this.global, G_QUEUED) > this.lane[L_QUEUED]!;
  }

  /**
   * A waiting request's place in the one line over every thread: tickets rise by one per request
   * and wrap (compared by difference, so 2^31 may be out at once); never 0, which marks no head.
   */
  takeTicket(): number {
    const ticket = (Atomics.add(this.global, G_TICKETS, 1) + 1) | 0;
    return ticket !== 0 ? ticket : this.takeTicket();
  }

  /** Shows the other threads this thread's oldest waiting request (0: none waits). */
  setQueueHead(ticket: number): void {
    Atomics.store(this.lane, L_HEAD, ticket);
  }

  /** No thread has a request waiting that took its ticket before this one. */
  isFirstInLine(ticket: number): boolean {
    const lanes = this.lanes;
    for (let at = L_HEAD; at < lanes.length; at += this.laneStride) {
      const head = Atomics.load(lanes, at);
      if (head !== 0 && ((head - ticket) | 0) < 0) return false;
    }
    return true;
  }

  countQueueTimeout(): void {
    Atomics.add(this.global, G_QUEUE_TIMEOUTS, 1);
  }

  get queueTimeoutsTotal(): number {
    return Atomics.load(this.global, G_QUEUE_TIMEOUTS) >>> 0;
  }

  countForbidden(): void {
    Atomics.add(this.global, G_FORBIDDEN, 1);
  }

  get forbiddenTotal(): number {
    return Atomics.load(this.global, G_FORBIDDEN) >>> 0;
  }

  /** The sequence a waiting thread reads before it looks for room, then sleeps on (waitForRoom). */
  get freedSequence(): number {
    return Atomics.load(this.global, G_FREED);
  }

  /**
   * Resolves once room was announced after `sequence` was read; null if it already was. Every
   * announcement wakes every sleeping thread, this one included.
   */
  waitForRoom(sequence: number): Promise<unknown> | null {
    const wait = Atomics.waitAsync(this.global, G_FREED, sequence);
    return wait.async ? wait.value : null;
  }

  /** Body bytes sent to the worker on the slot: a chunk, so less than 2^31. */
  countBytesIn(slot: number, bytes: number): void {
    Atomics.add(this.slots, slot * SLOT_INTS + S_BYTES_IN, bytes);
  }

  /** Body bytes received from the worker on the slot: a chunk, so less than 2^31. */
  countBytesOut(slot: number, bytes: number): void {
    Atomics.add(this.slots, slot * SLOT_INTS + S_BYTES_OUT, bytes);
  }

  /** Ends a request begun on the slot: latency in microseconds, how it ended, and now() if known. */
  end(slot: number, latencyUs: number, outcome: OutcomeValue, nowMs = this.now()): void {
    this.lane[L_SLOTS + slot]!--;
    this.leave(slot, 1, nowMs);
    this.roomFreed();
    // The client's doing says nothing about the worker: no count, no failure, no latency sample.
    if (outcome === Outcome.clientEnded) return;
    const base = slot * SLOT_INTS;
    const s = this.slots;
    const ok = outcome === Outcome.ok;
    Atomics.add(s, base + (ok ? S_COMPLETED : S_ERRORS), 1);
    // Counters need Atomics.add, or two threads lose increments. The rest are plain reads and
    // writes of int32 elements, which cannot tear, and spare an Atomics call (about 50
    // instructions) each on every request.
    if (!ok) Atomics.add(s, base + S_CONSECUTIVE_FAILURES, 1);
    else if (s[base + S_CONSECUTIVE_FAILURES] !== 0) Atomics.store(s, base + S_CONSECUTIVE_FAILURES, 0);
    Atomics.add(s, base + S_HIST + bucketOf(latencyUs), 1);
    const sample = latencyUs > 0x7fffffff ? 0x7fffffff : latencyUs | 0;
    Atomics.add(s, base + S_LATENCY_SUM_US, sample);
    // Two threads ending requests at once may each write their own update of the averages; the
    // last one wins, which is as good as either for a balancing signal.
    const old = s[base + S_EWMA_US]!;
    s[base + S_EWMA_US] = old === 0 ? sample : old + ((sample - old) >> EWMA_SHIFT);
    const now = StatsTable.deciseconds(nowMs);
    const peak = peakEwma(s[base + S_PEAK_US]!, s[base + S_PEAK_AT]! * 100, sample, now * 100, PEAK_EWMA_TAU_MS);
    s[base + S_PEAK_US] = peak | 0;
    s[base + S_PEAK_AT] = now;
  }

  consecutiveFailures(slot: number): number {
    return Atomics.load(this.slots, slot * SLOT_INTS + S_CONSECUTIVE_FAILURES);
  }

  resetConsecutiveFailures(slot: number): void {
    Atomics.store(this.slots, slot * SLOT_INTS + S_CONSECUTIVE_FAILURES, 0);
  }

  inflight(slot: number): number {
    return Atomics.load(this.slots, slot * SLOT_INTS + S_INFLIGHT);
  }

  /** Takes `count` requests off the slot's in-flight count, closing its busy period at 0. */
  private leave(slot: number, count: number, nowMs: number): void {
    const base = slot * SLOT_INTS;
    const s = this.slots;
    if (Atomics.sub(s, base + S_INFLIGHT, count) === count) {
      // The busy period ends. Another thread may begin the next one at the same moment and its
      // start may be read here instead: that period is then undercounted, rarely and slightly.
      const since = Atomics.exchange(s, base + S_BUSY_SINCE, 0);
      if (since !== 0) Atomics.add(s, base + S_BUSY_US, (StatsTable.micros(nowMs) - (since >>> 0)) | 0);
    }
  }

  /**
   * After a place on a worker freed up: wakes the requests waiting for room. A waiter counts
   * itself in G_QUEUED before its last look for room, and this reads G_QUEUED after freeing the
   * place (both sequentially consistent), so either it saw the room or it is woken here. When
   * only this thread has requests waiting, they are called at once (onLocalRoom), sparing the
   * runtime call and the task hop of a wake through shared memory.
   */
  private roomFreed(): void {
    const queued = Atomics.load(this.global, G_QUEUED);
    if (queued === 0) return;
    // With other threads waiting too, every thread is woken, and the first in line takes it.
    if (queued > this.lane[L_QUEUED]!) this.announceRoom();
    else this.onLocalRoom?.();
  }

  /** Wakes every thread with requests waiting for room, if any: a worker joined, or a dead thread's places were given back. */
  announceRoom(): void {
    if (Atomics.load(this.global, G_QUEUED) > 0) {
      Atomics.add(this.global, G_FREED, 1);
      Atomics.notify(this.global, G_FREED);
    }
  }

  private laneView(index: number): Int32Array {
    const lanes = Atomics.load(this.global, G_LANES);
    if (!(Number.isInteger(index) && index >= 0 && index < lanes)) throw new RangeError(`stats table lane ${index} of ${lanes}`);
    return new Int32Array(this.buffer, (G_INTS + this.capacity * SLOT_INTS + index * laneInts(this.capacity)) * 4, L_SLOTS + this.capacity);
  }

  /**
   * Host, once the lane's thread has exited: ends what it left in flight (its admissions, and its
   * requests per slot, counted as neither success nor failure) and clears the lane for the thread
   * that replaces it. Returns the number of admissions it gave back.
   */
  reclaimLane(index: number): number {
    const lane = this.laneView(index);
    const admitted = lane[L_ADMITTED]!;
    if (admitted !== 0) Atomics.sub(this.global, G_INFLIGHT, admitted);
    const queued = lane[L_QUEUED]!;
    if (queued !== 0) Atomics.sub(this.global, G_QUEUED, queued);
    const now = this.now();
    for (let slot = 0; slot < this.capacity; slot++) {
      const count = lane[L_SLOTS + slot]!;
      if (count !== 0) this.leave(slot, count, now);
    }
    lane.fill(0);
    this.announceRoom();
    return admitted;
  }

  read(slot: number): SlotCounters {
    const base = slot * SLOT_INTS;
    return {
      inflight: Atomics.load(this.slots, base + S_INFLIGHT),
      completed: Atomics.load(this.slots, base + S_COMPLETED) >>> 0,
      errors: Atomics.load(this.slots, base + S_ERRORS) >>> 0,
      ewmaUs: Atomics.load(this.slots, base + S_EWMA_US),
      busyUs: Atomics.load(this.slots, base + S_BUSY_US) >>> 0,
      busySinceUs: Atomics.load(this.slots, base + S_BUSY_SINCE) >>> 0,
      nowUs: StatsTable.micros(this.now()),
      bytesIn: Atomics.load(this.slots, base + S_BYTES_IN) >>> 0,
      bytesOut: Atomics.load(this.slots, base + S_BYTES_OUT) >>> 0,
      latencySumUs: Atomics.load(this.slots, base + S_LATENCY_SUM_US) >>> 0,
    };
  }

  /** Copies the slot's cumulative (wrapping) histogram counts into out. */
  readHistogram(slot: number, out: Uint32Array): void {
    const base = slot * SLOT_INTS + S_HIST;
    for (let b = 0; b < HISTOGRAM_BUCKETS; b++) out[b] = Atomics.load(this.slots, base + b);
  }

  /** Main thread, for a slot about to be reused: only once nothing is in flight on it. */
  reset(slot: number): void {
    const base = slot * SLOT_INTS;
    for (let i = 0; i < SLOT_INTS; i++) Atomics.store(this.slots, base + i, 0);
  }
}
