import { buildAliasTable } from '../balancing/alias-table.js';
import type { Policy } from '../balancing/policies/index.js';
import type { PolicyView } from '../balancing/policy-view.js';
import type { RandomSource } from '../balancing/random.js';
import { CapacityError } from '../errors.js';
import { align } from './layout.js';

/**
 * A pool's route table in shared memory: the ready workers (slot, incarnation) and a Vose alias
 * table over their weights, double-buffered behind a generation counter.
 *
 * One writer (the host's main thread) builds generation g+1 into buffer (g+1) & 1 while readers
 * sample buffer g & 1, then publishes with one Atomics.store. A reader loads the generation,
 * samples that buffer and re-loads the generation: if it moved, the buffer may have been
 * rewritten under it (two publishes) or the pick may name a worker the newer generation removed,
 * so it retries. Readers never lock and never return a torn or superseded pick; the writer never
 * waits.
 */

export interface RouteEntry {
  readonly slot: number;
  readonly incarnation: number;
  readonly weight: number;
}

const CTRL_GENERATION = 0;
const CTRL_INTS = 4;

interface BufferLayout {
  readonly count: Int32Array;
  readonly prob: Float64Array;
  readonly weight: Float64Array;
  readonly alias: Uint32Array;
  readonly slot: Int32Array;
  readonly incarnation: Int32Array;
}

function bufferBytes(capacity: number): number {
  return align(8 + capacity * 8 * 2 + capacity * 4 * 3, 8);
}

function mapBuffer(sab: SharedArrayBuffer, base: number, capacity: number): BufferLayout {
  let off = base;
  const count = new Int32Array(sab, off, 1);
  off += 8;
  const prob = new Float64Array(sab, off, capacity);
  off += capacity * 8;
  const weight = new Float64Array(sab, off, capacity);
  off += capacity * 8;
  const alias = new Uint32Array(sab, off, capacity);
  off += capacity * 4;
  const slot = new Int32Array(sab, off, capacity);
  off += capacity * 4;
  const incarnation = new Int32Array(sab, off, capacity);
  return { count, prob, weight, alias, slot, incarnation };
}

abstract class RouteTableView {
  readonly capacity: number;
  protected readonly ctrl: Int32Array;
  protected readonly buffers: [BufferLayout, BufferLayout];

  static byteLength(capacity: number): number {
    return CTRL_INTS * 4 + 2 * bufferBytes(capacity);
  }

  constructor(readonly buffer: SharedArrayBuffer, capacity: number) {
    if (buffer.byteLength < RouteTableView.byteLength(capacity)) throw new RangeError('route table buffer is smaller than its capacity needs');
    this.capacity = capacity;
    this.ctrl = new Int32Array(buffer, 0, CTRL_INTS);
    const first = CTRL_INTS * 4;
    this.buffers = [mapBuffer(buffer, first, capacity), mapBuffer(buffer, first + bufferBytes(capacity), capacity)];
  }

  get generation(): number {
    return Atomics.load(this.ctrl, CTRL_GENERATION);
  }
}

/** Main thread: the single writer. */
export class RouteTableWriter extends RouteTableView {
  static create(capacity: number): RouteTableWriter {
    return new RouteTableWriter(new SharedArrayBuffer(RouteTableView.byteLength(capacity)), capacity);
  }

  /**
   * O(n) publish of a new generation. Entries with weight 0 are left out (they can never be
   * drawn); an empty result publishes an empty table. Returns the new generation.
   */
  publish(entries: readonly RouteEntry[]): number {
    const live = entries.filter((e) => e.weight > 0);
    if (live.length > this.capacity) throw new CapacityError(`route table holds at most ${this.capacity} workers, got ${live.length}`);
    const current = Atomics.load(this.ctrl, CTRL_GENERATION);
    const next = (current + 1) | 0;
    const target = this.buffers[next & 1]!;
    const weights = new Float64Array(live.length);
    for (let i = 0; i < live.length; i++) {
      const e = live[i]!;
      weights[i] = e.weight;
      target.weight[i] = e.weight;
      target.slot[i] = e.slot;
      target.incarnation[i] = e.incarnation;
    }
    buildAliasTable(weights, target.prob, target.alias);
    target.count[0] = live.length;
    Atomics.store(this.ctrl, CTRL_GENERATION, next);
    return next;
  }
}

/** Live load per worker slot, for the load-aware policies (the stats table). */
export interface LoadSource {
  inflight(slot: number): number;
  peakLatencyUs(slot: number): number;
}

const NO_LOAD: LoadSource = { inflight: () => 0, peakLatencyUs: () => 0 };

/** Ingress thread: one reader per thread; the last pick is left in its fields (no allocation). */
export class RouteTableReader extends RouteTableView {
  slot = -1;
  incarnation = 0;
  generationOfPick = 0;
  private readonly views: [PolicyView & { count: number }, PolicyView & { count: number }];

  constructor(
    buffer: SharedArrayBuffer,
    capacity: number,
    private readonly load: LoadSource = NO_LOAD,
  ) {
    super(buffer, capacity);
    const view = (b: BufferLayout): PolicyView & { count: number } => ({
      count: 0,
      prob: b.prob,
      alias: b.alias,
      inflight: (i) => load.inflight(b.slot[i]!),
      latencyUs: (i) => load.peakLatencyUs(b.slot[i]!),
      weight: (i) => b.weight[i]!,
    });
    this.views = [view(this.buffers[0]), view(this.buffers[1])];
  }

  /**
   * Picks a worker with the policy. False when the table is empty. `avoidSlot` (or -1) asks for
   * a different worker than a failed one when the table has another; a few redraws keep it O(1).
   */
  pick(policy: Policy, random: RandomSource, avoidSlot = -1): boolean {
    for (;;) {
      const g = Atomics.load(this.ctrl, CTRL_GENERATION);
      const buf = this.buffers[g & 1]!;
      const n = buf.count[0]!;
      if (n <= 0 || n > this.capacity) {
        if (Atomics.load(this.ctrl, CTRL_GENERATION) === g) return false;
        continue;
      }
      const view = this.views[g & 1]!;
      view.count = n;
      let i = policy(view, random);
      for (let redraw = 0; redraw < 8 && n > 1 && buf.slot[i] === avoidSlot; redraw++) i = policy(view, random);
      // Still the avoided worker (it holds most of the weight, or bad luck): any other one, so a
      // retry never goes back to the worker that just failed.
      if (n > 1 && buf.slot[i] === avoidSlot) i = (i + 1 + Math.floor(random() * (n - 1))) % n;
      const slot = buf.slot[i]!;
      const incarnation = buf.incarnation[i]!;
      if (Atomics.load(this.ctrl, CTRL_GENERATION) !== g) continue;
      if (!(i >= 0 && i < n)) throw new RangeError(`policy returned index ${i} for a table of ${n}`);
      this.slot = slot;
      this.incarnation = incarnation;
      this.generationOfPick = g;
      return true;
    }
  }

  /**
   * The first worker, from the `from`-th on (wrapping) and other than `avoidSlot`, with fewer than
   * `limit` requests in flight: O(n), for when the policy's draws found every worker full. Left
   * in slot and incarnation like a pick; false when none has room (or the table is empty).
   */
  findRoom(from: number, limit: number, avoidSlot = -1): boolean {
    for (;;) {
      const g = Atomics.load(this.ctrl, CTRL_GENERATION);
      const buf = this.buffers[g & 1]!;
      const n = Math.max(0, Math.min(buf.count[0]!, this.capacity));
      let found = -1;
      for (let k = 0; k < n && found < 0; k++) {
        const i = (from + k) % n;
        const slot = buf.slot[i]!;
        if (slot !== avoidSlot && this.load.inflight(slot) < limit) found = i;
      }
      const slot = found < 0 ? -1 : buf.slot[found]!;
      const incarnation = found < 0 ? 0 : buf.incarnation[found]!;
      if (Atomics.load(this.ctrl, CTRL_GENERATION) !== g) continue;
      if (found < 0) return false;
      this.slot = slot;
      this.incarnation = incarnation;
      this.generationOfPick = g;
      return true;
    }
  }

  /** The workers of the current generation, copied out whole (a publish meanwhile starts the copy again). */
  entries(): { generation: number; slots: Int32Array; incarnations: Int32Array } {
    for (;;) {
      const g = Atomics.load(this.ctrl, CTRL_GENERATION);
      const buf = this.buffers[g & 1]!;
      const n = Math.max(0, Math.min(buf.count[0]!, this.capacity));
      const slots = buf.slot.slice(0, n);
      const incarnations = buf.incarnation.slice(0, n);
      if (Atomics.load(this.ctrl, CTRL_GENERATION) === g) return { generation: g, slots, incarnations };
    }
  }
}
