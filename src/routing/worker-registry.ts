import { CapacityError, WeighbridgeError } from '../errors.js';
import type { RouteTableWriter } from '../shared/route-table.js';
import type { StatsSampler } from '../shared/stats-sampler.js';
import type { StatsTable } from '../shared/stats-table.js';
import { WORKER_STATE_NAMES, WorkerState, type WorkerDirectory, type WorkerStateValue } from '../shared/worker-directory.js';

/** A worker as the main thread tracks it. */
export interface WorkerRecord {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly slot: number;
  readonly incarnation: number;
  /** The weight its driver gave it (configuration); the scorer's weights are relative to it. */
  baseWeight: number;
  /** The weight in the route table: the base weight until the scorer sends one. */
  weight: number;
  /** A default worker (seed 000, section 3.3) is never sent to Sundown; the configured ones are. */
  readonly isDefault: boolean;
  state: WorkerStateValue;
  /** When it last became ready: slow start ramps its weight from here. */
  readyAt: number;
}

export interface WorkerView {
  id: string;
  address: string;
  state: string;
  weight: number;
  baseWeight: number;
  slot: number;
}

/** How long a removed worker's slot rests (and must show nothing in flight) before reuse. */
const SLOT_QUARANTINE_MS = 5_000;

/** Slow start begins at this share of a worker's weight (Envoy's min_weight_percent). */
const SLOW_START_MIN = 0.1;

export interface RegistryOptions {
  now?: () => number;
  /** A worker that becomes ready takes this long to reach its full weight (linearly); 0 = at once. */
  slowStartMs?: number;
}

/**
 * The main thread's membership of one pool: assigns shared-memory slots, writes worker identities
 * to the directory, and republishes the route table in O(n) whenever membership, state or weights
 * change. Only ready workers with weight > 0 are in the table.
 */
export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerRecord>();
  /** Drained through the admin API: see hold(). */
  private readonly held = new Set<string>();
  private readonly freeSlots: number[] = [];
  private readonly quarantined: { slot: number; since: number }[] = [];
  private readonly now: () => number;
  private readonly slowStartMs: number;
  private ramping = false;

  constructor(
    private readonly routes: RouteTableWriter,
    private readonly directory: WorkerDirectory,
    private readonly stats: StatsTable,
    private readonly sampler: StatsSampler,
    options: RegistryOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.slowStartMs = options.slowStartMs ?? 0;
    for (let s = routes.capacity - 1; s >= 0; s--) this.freeSlots.push(s);
  }

  /** Republishes while a worker is in slow start, so its weight keeps rising; call it often. */
  tick(): void {
    if (this.ramping) this.publish();
  }

  add(worker: { id: string; host: string; port: number; weight: number; state?: WorkerStateValue; isDefault?: boolean }): WorkerRecord {
    if (this.workers.has(worker.id)) throw new WeighbridgeError('ERR_DUPLICATE_WORKER', `a worker with id ${worker.id} is already registered`);
    this.reclaimSlots();
    const slot = this.freeSlots.pop();
    if (slot === undefined) throw new CapacityError(`no free worker slot: limits.maxWorkers is ${this.routes.capacity}`);
    const state = worker.state ?? WorkerState.ready;
    this.stats.reset(slot);
    this.sampler.forget(slot);
    const incarnation = this.directory.write(slot, worker, state);
    const record: WorkerRecord = { id: worker.id, host: worker.host, port: worker.port, slot, incarnation, baseWeight: worker.weight, weight: worker.weight, isDefault: worker.isDefault ?? true, state, readyAt: this.now() };
    this.workers.set(worker.id, record);
    this.publish();
    return record;
  }

  /** Takes the worker out of the table at once; its slot is reused only after it drains. */
  remove(id: string): void {
    const record = this.workers.get(id);
    if (!record) return;
    this.workers.delete(id);
    this.held.delete(id);
    this.publish();
    this.directory.setState(record.slot, WorkerState.free);
    this.quarantined.push({ slot: record.slot, since: this.now() });
  }

  /**
   * Drains a worker for the admin API, and keeps it so: whatever would make it ready again (its
   * process restarted, health checks passing, a readmission) leaves it draining, until release().
   * HAProxy's `set server state drain` holds across a server's restarts likewise.
   */
  hold(id: string): void {
    if (!this.workers.has(id)) return;
    this.held.add(id);
    this.setState(id, WorkerState.draining);
  }

  /** Ends a hold(): a draining worker is ready again (one down meanwhile comes back as usual); false if it was not held. */
  release(id: string): boolean {
    if (!this.held.delete(id)) return false;
    if (this.workers.get(id)?.state === WorkerState.draining) this.setState(id, WorkerState.ready);
    return true;
  }

  setState(id: string, requested: WorkerStateValue): void {
    const record = this.workers.get(id);
    const state = requested === WorkerState.ready && this.held.has(id) ? WorkerState.draining : requested;
    if (!record || record.state === state) return;
    if (state === WorkerState.ready) record.readyAt = this.now();
    record.state = state;
    this.directory.setState(record.slot, state);
    this.publish();
  }

  /**
   * A new configured weight: the table's weight moves in proportion (the scorer's factor kept)
   * until the scorer's next weights, which it computes from the new base.
   */
  setBaseWeight(id: string, baseWeight: number): void {
    const record = this.workers.get(id);
    if (!record || record.baseWeight === baseWeight) return;
    record.weight = record.baseWeight > 0 ? (record.weight * baseWeight) / record.baseWeight : baseWeight;
    record.baseWeight = baseWeight;
    this.publish();
  }

  /** New weights for known workers (others are skipped), in one republish; returns how many were known. */
  setWeights(weights: readonly { id: string; weight: number }[]): number {
    let known = 0;
    let changed = false;
    for (const { id, weight } of weights) {
      const record = this.workers.get(id);
      if (!record) continue;
      known++;
      if (record.weight === weight) continue;
      record.weight = weight;
      changed = true;
    }
    if (changed) this.publish();
    return known;
  }

  get(id: string): WorkerRecord | undefined {
    return this.workers.get(id);
  }

  list(): WorkerRecord[] {
    return [...this.workers.values()];
  }

  /** Requests in flight on the worker over all ingress threads (0 for an unknown one). */
  inflight(id: string): number {
    const record = this.workers.get(id);
    return record === undefined ? 0 : this.stats.inflight(record.slot);
  }

  view(record: WorkerRecord): WorkerView {
    return {
      id: record.id,
      address: `${record.host.includes(':') ? `[${record.host}]` : record.host}:${record.port}`,
      state: WORKER_STATE_NAMES[record.state] ?? 'unknown',
      weight: record.weight,
      baseWeight: record.baseWeight,
      slot: record.slot,
    };
  }

  /** Slots in use, for the stats sampler: members plus removed ones still draining. */
  activeSlots(): number[] {
    return [...[...this.workers.values()].map((w) => w.slot), ...this.quarantined.map((q) => q.slot)];
  }

  private publish(): void {
    const now = this.now();
    const entries = [];
    let ramping = false;
    for (const w of this.workers.values()) {
      if (w.state !== WorkerState.ready || w.weight <= 0) continue;
      const age = now - w.readyAt;
      let weight = w.weight;
      if (age < this.slowStartMs) {
        weight *= Math.max(SLOW_START_MIN, age / this.slowStartMs);
        ramping = true;
      }
      entries.push({ slot: w.slot, incarnation: w.incarnation, weight });
    }
    this.ramping = ramping;
    this.routes.publish(entries);
    // A worker that joined (or came back) has room no request leaving a worker announces.
    this.stats.announceRoom();
  }

  private reclaimSlots(): void {
    const now = this.now();
    for (let i = this.quarantined.length - 1; i >= 0; i--) {
      const q = this.quarantined[i]!;
      if (now - q.since >= SLOT_QUARANTINE_MS && this.stats.inflight(q.slot) === 0) {
        this.quarantined.splice(i, 1);
        this.freeSlots.push(q.slot);
      }
    }
  }
}
