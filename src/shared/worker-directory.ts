import { CapacityError } from '../errors.js';
import { align } from './layout.js';

/**
 * Per-slot worker identity in shared memory: id, host, port, state and an incarnation number.
 *
 * The main thread writes a slot's identity before any route table that names the slot is
 * published, and rewrites it only after the slot has left every table and drained (see
 * SlotAllocator), so an ingress thread reads it without locks. Route entries carry the
 * incarnation; a reader whose entry and directory disagree retries.
 */

export const WorkerState = {
  free: 0,
  ready: 1,
  draining: 2,
  down: 3,
  /** Taken out of the table by outlier detection for a while. */
  ejected: 4,
  /** Taken out of the table for failing active health checks, until it passes them again. */
  unhealthy: 5,
} as const;
export type WorkerStateValue = (typeof WorkerState)[keyof typeof WorkerState];
export const WORKER_STATE_NAMES: Record<number, string> = { 0: 'free', 1: 'ready', 2: 'draining', 3: 'down', 4: 'ejected', 5: 'unhealthy' };

const F_INCARNATION = 0;
const F_STATE = 1;
const F_PORT = 2;
const F_HOST_LEN = 3;
const F_ID_LEN = 4;
const INT_FIELDS = 5;
export const MAX_HOST_BYTES = 255;
export const MAX_ID_BYTES = 127;
const BYTES_PER_SLOT = align(INT_FIELDS * 4, 8) + align(MAX_HOST_BYTES + MAX_ID_BYTES, 8);

export interface WorkerIdentity {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export class WorkerDirectory {
  readonly capacity: number;
  private readonly ints: Int32Array[];
  private readonly bytes: Buffer[];

  static byteLength(capacity: number): number {
    return capacity * BYTES_PER_SLOT;
  }

  static create(capacity: number): WorkerDirectory {
    return new WorkerDirectory(new SharedArrayBuffer(WorkerDirectory.byteLength(capacity)), capacity);
  }

  constructor(readonly buffer: SharedArrayBuffer, capacity: number) {
    this.capacity = capacity;
    this.ints = [];
    this.bytes = [];
    for (let s = 0; s < capacity; s++) {
      const base = s * BYTES_PER_SLOT;
      this.ints.push(new Int32Array(buffer, base, INT_FIELDS));
      this.bytes.push(Buffer.from(buffer, base + align(INT_FIELDS * 4, 8), MAX_HOST_BYTES + MAX_ID_BYTES));
    }
  }

  /** Main thread: write a slot's identity and bump its incarnation. Returns the new incarnation. */
  write(slot: number, worker: WorkerIdentity, state: WorkerStateValue): number {
    const ints = this.slotInts(slot);
    const hostLen = Buffer.byteLength(worker.host);
    const idLen = Buffer.byteLength(worker.id);
    if (hostLen > MAX_HOST_BYTES) throw new CapacityError(`worker host is longer than ${MAX_HOST_BYTES} bytes: ${worker.host}`);
    if (idLen > MAX_ID_BYTES) throw new CapacityError(`worker id is longer than ${MAX_ID_BYTES} bytes: ${worker.id}`);
    const bytes = this.bytes[slot]!;
    bytes.write(worker.host, 0, 'utf8');
    bytes.write(worker.id, MAX_HOST_BYTES, 'utf8');
    ints[F_PORT] = worker.port;
    ints[F_HOST_LEN] = hostLen;
    ints[F_ID_LEN] = idLen;
    Atomics.store(ints, F_STATE, state);
    // The store of the incarnation is the release point for the fields above.
    return Atomics.add(ints, F_INCARNATION, 1) + 1;
  }

  setState(slot: number, state: WorkerStateValue): void {
    Atomics.store(this.slotInts(slot), F_STATE, state);
  }

  state(slot: number): WorkerStateValue {
    return Atomics.load(this.slotInts(slot), F_STATE) as WorkerStateValue;
  }

  incarnation(slot: number): number {
    return Atomics.load(this.slotInts(slot), F_INCARNATION);
  }

  /** Any thread: the identity, or undefined if the slot no longer holds that incarnation. */
  read(slot: number, incarnation: number): WorkerIdentity | undefined {
    const ints = this.slotInts(slot);
    if (Atomics.load(ints, F_INCARNATION) !== incarnation) return undefined;
    const bytes = this.bytes[slot]!;
    const identity = {
      host: bytes.toString('utf8', 0, ints[F_HOST_LEN]!),
      id: bytes.toString('utf8', MAX_HOST_BYTES, MAX_HOST_BYTES + ints[F_ID_LEN]!),
      port: ints[F_PORT]!,
    };
    return Atomics.load(ints, F_INCARNATION) === incarnation ? identity : undefined;
  }

  private slotInts(slot: number): Int32Array {
    const ints = this.ints[slot];
    if (ints === undefined) throw new RangeError(`slot ${slot} is outside the directory (capacity ${this.capacity})`);
    return ints;
  }
}
