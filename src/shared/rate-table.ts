import { randomInt } from 'node:crypto';

/**
 * Per-client request rate limits in shared memory, one table per host that every ingress thread
 * updates with Atomics, so a client's limit holds however its connections spread over threads.
 *
 * The algorithm is GCRA (the generic cell rate algorithm of ATM policing, as in redis-cell): a
 * token bucket's behaviour kept in one number per client, its theoretical arrival time (TAT). A
 * request at time t is admitted when max(TAT, t) - t <= burst tolerance, and then moves TAT on by
 * one emission interval (1 / rate). One number means one compare-and-swap per request, and no
 * lock: two threads racing on one client retry, and each admission consumes exactly one interval.
 *
 * Clients are found by a 64-bit key (see clientKey, seeded per table so that nobody can choose
 * addresses that crowd one part of it) in an open-addressed table probed linearly for 16 entries.
 * An entry whose TAT has passed holds nothing a fresh one would not, so a new client may take it
 * over: the table never needs sweeping. When all 16 entries a client may use hold clients inside
 * their burst, its request is admitted unchecked rather than refused for someone else's traffic
 * (counted: tableFullTotal). Taking an entry over is two steps (the key, then the TAT), so two
 * threads taking the same expired entry at the same instant can charge one request to the other
 * client: an error of one request, never more.
 */

const PROBES = 16;
const G_LIMITED = 0;
const G_TABLE_FULL = 1;
const G_SEED = 2;
const G_INTS = 3;

export interface RateLimit {
  /** Microseconds between requests at the sustained rate: 1e6 / requests per second. */
  intervalUs: bigint;
  /** How far ahead of now TAT may run: (burst - 1) intervals, so `burst` requests pass at once. */
  toleranceUs: bigint;
}

export function rateLimit(requestsPerSecond: number, burst: number): RateLimit {
  const intervalUs = BigInt(Math.max(1, Math.round(1e6 / requestsPerSecond)));
  return { intervalUs, toleranceUs: intervalUs * BigInt(burst - 1) };
}

export class RateTable {
  readonly capacity: number;
  private readonly keys: BigInt64Array;
  private readonly tats: BigInt64Array;
  private readonly global: Int32Array;

  /** Capacity is rounded up to a power of two. */
  static byteLength(capacity: number): number {
    return 16 * RateTable.slots(capacity) + 4 * G_INTS;
  }

  static create(capacity: number): RateTable {
    const table = new RateTable(new SharedArrayBuffer(RateTable.byteLength(capacity)));
    table.global[G_SEED] = randomInt(2 ** 31);
    return table;
  }

  private static slots(capacity: number): number {
    return 2 ** Math.ceil(Math.log2(Math.max(PROBES, capacity)));
  }

  /** A view of a table made by create() (its capacity follows from the buffer's size). */
  constructor(readonly buffer: SharedArrayBuffer) {
    this.capacity = (buffer.byteLength - 4 * G_INTS) / 16;
    this.keys = new BigInt64Array(buffer, 0, this.capacity);
    this.tats = new BigInt64Array(buffer, 8 * this.capacity, this.capacity);
    this.global = new Int32Array(buffer, 16 * this.capacity, G_INTS);
  }

  /**
   * Whether a request of client `key` (not 0) at `nowUs` (a clock every thread shares) is within
   * `limit`. Returns 0 if it is (and counts it), else the microseconds until it would be.
   */
  admit(key: bigint, nowUs: bigint, limit: RateLimit): number {
    const mask = this.capacity - 1;
    const start = probeStart(key) & mask;
    // The client's own entry first: taking a refilled one before reaching it would hand the
    // client a fresh bucket. Entries are never emptied, so the first empty one ends the search.
    for (let probe = 0; probe < PROBES; probe++) {
      const held = Atomics.load(this.keys, (start + probe) & mask);
      if (held === key) return this.take((start + probe) & mask, nowUs, limit);
      if (held === 0n) break;
    }
    for (let probe = 0; probe < PROBES; probe++) {
      const i = (start + probe) & mask;
      const held = Atomics.load(this.keys, i);
      // Empty (its TAT is 0), or a client's whose bucket has refilled: ours, unless another thread took it first.
      if (held === key || (Atomics.load(this.tats, i) <= nowUs && Atomics.compareExchange(this.keys, i, held, key) === held)) return this.take(i, nowUs, limit);
      if (Atomics.load(this.keys, i) === key) return this.take(i, nowUs, limit);
    }
    Atomics.add(this.global, G_TABLE_FULL, 1);
    return 0;
  }

  /** The seed clientKey() hashes addresses with for this table. */
  get seed(): number {
    return this.global[G_SEED]!;
  }

  private take(i: number, nowUs: bigint, limit: RateLimit): number {
    const furthest = nowUs + limit.toleranceUs + limit.intervalUs;
    for (;;) {
      const tat = Atomics.load(this.tats, i);
      if (tat > furthest) {
        // Further ahead than this limit ever puts it: made under a slower one (a reload raised
        // the rate). From here the client is one interval of the new limit away from its next request.
        Atomics.compareExchange(this.tats, i, tat, furthest);
        continue;
      }
      const from = tat > nowUs ? tat : nowUs;
      const ahead = from - nowUs;
      if (ahead > limit.toleranceUs) {
        Atomics.add(this.global, G_LIMITED, 1);
        return Number(ahead - limit.toleranceUs);
      }
      if (Atomics.compareExchange(this.tats, i, tat, from + limit.intervalUs) === tat) return 0;
    }
  }

  /** Requests refused over their client's limit (wraps at 2^32). */
  get limitedTotal(): number {
    return Atomics.load(this.global, G_LIMITED) >>> 0;
  }

  /** Requests admitted unchecked because the table had no room for their client. */
  get tableFullTotal(): number {
    return Atomics.load(this.global, G_TABLE_FULL) >>> 0;
  }
}

/**
 * Where a key's probe starts: its two halves mixed (MurmurHash3's finalizer), so that every bit of
 * the key, and of the seed inside it, moves the entry a client lands in.
 */
export function probeStart(key: bigint): number {
  let h = Number(BigInt.asUintN(32, key)) ^ Number(BigInt.asUintN(32, key >> 32n));
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A client's key: its address text hashed to 64 bits (two 32-bit hashes of different kinds, FNV-1a
 * and Java's string hash, both started from the table's seed), never 0.
 */
export function clientKey(address: string, seed: number): bigint {
  let fnv = 0x811c9dc5 ^ seed;
  let java = seed;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    fnv = Math.imul(fnv ^ c, 0x01000193);
    java = (Math.imul(java, 31) + c) | 0;
  }
  const key = BigInt.asIntN(64, (BigInt(fnv >>> 0) << 32n) | BigInt(java >>> 0));
  return key === 0n ? 1n : key;
}
