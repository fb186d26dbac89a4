import { z } from 'zod';

/**
 * The message catalogue: every message on the bus is a versioned member of one discriminated
 * union, validated by its runtime schema at every transport boundary. A message type changes
 * shape only with a new version; until a reader knows it, a message of another version is
 * rejected as invalid, never half-understood.
 */

const id = z.string().min(1).max(128);
const finite = z.number().finite();
const nonNegative = finite.min(0);
const timestamp = nonNegative; // ms since the epoch
const count = z.number().int().min(0);

/** The scorer's verdict, applied by every ingress host to its route table. */
export const weightsUpdatedV1 = z.strictObject({
  type: z.literal('weights.updated'),
  v: z.literal(1),
  pool: id,
  /** Counts a scorer's updates; the admin API shows the last one applied. */
  sequence: z.number().int().min(0),
  at: timestamp,
  weights: z.array(z.strictObject({ id, weight: nonNegative.max(1e9) })).max(100_000),
});

/** A host's periodic report on its workers; reports differ in what they carry per worker. */
const workerReport = <T extends string, W extends z.ZodRawShape>(type: T, version: number, worker: W) =>
  z.strictObject({
    type: z.literal(type),
    v: z.literal(version),
    host: id,
    at: timestamp,
    workers: z.array(z.strictObject({ id, ...worker })).max(100_000),
  });

const baseWeight = nonNegative.max(1e9);

/**
 * One ingress host's view of its workers, from its shared-memory stats table. v2 added the byte
 * counters (the collector's network rate), the latency EWMA and the default flag.
 */
export const ingressStatsV2 = workerReport('ingress.stats', 2, {
  address: z.string().max(300),
  /** The weight its driver gave it, and the one in this host's route table now. */
  baseWeight,
  weight: baseWeight,
  /** A default worker (seed 000, section 3.3) is never sent to Sundown. */
  isDefault: z.boolean(),
  inflight: count,
  completed: count,
  errors: count,
  /** Body bytes since the host started, both directions. */
  bytesIn: nonNegative,
  bytesOut: nonNegative,
  /** Time with a request of this host's in flight, since it started (the worker's busy time as this host sees it). */
  busyMs: nonNegative,
  /** Recent latency: the EWMA over requests, and quantiles over the last window. */
  ewmaMs: nonNegative.nullable(),
  p50Ms: nonNegative.nullable(),
  p99Ms: nonNegative.nullable(),
});

/** The collector's measurements of the workers (seed 000, section 3.1 inputs); null: not measured. */
export const metricsSampleV2 = workerReport('metrics.sample', 2, {
  baseWeight,
  isDefault: z.boolean(),
  /** Of one core (seed 000, section 3.1); above 100 on several cores. */
  cpuPct: nonNegative.nullable(),
  memoryPct: nonNegative.nullable(),
  networkMBps: nonNegative.nullable(),
  /** Seed 004's criteria: busy time per completed request, and the TCP connect time to the worker. */
  processTimeMs: nonNegative.nullable(),
  networkDelayMs: nonNegative.nullable(),
  latencyMs: nonNegative.nullable(),
  /** Where latencyMs came from: proxied traffic, or the collector's probe of an idle worker. */
  latencySource: z.enum(['traffic', 'probe']).nullable(),
  inflight: count,
});

/** The scorer's verdicts behind the weights, for the reconciler's state store and for tools. */
export const scoresUpdatedV1 = z.strictObject({
  type: z.literal('scores.updated'),
  v: z.literal(1),
  pool: id,
  at: timestamp,
  workers: z
    .array(
      z.strictObject({
        id,
        score: finite.min(0).max(100),
        /** init, LU, MU, HU, sundown or shutdown (seed 000, section 3.3). */
        phase: z.enum(['init', 'LU', 'MU', 'HU', 'sundown', 'shutdown']),
        weight: nonNegative.max(1e9),
      }),
    )
    .max(100_000),
});

/** A worker as the autoscaler sees it, on the host whose driver runs it. */
const fleetWorker = z.strictObject({
  id,
  /** A default worker (seed 000, section 3.3) is never sent to Sundown. */
  isDefault: z.boolean(),
  startedAt: timestamp,
  /** In Sundown: draining, then stopped. */
  retiring: z.boolean(),
});

/**
 * The workers a host's process or Docker driver runs, so an autoscaler on any host can count
 * them. `incarnation` (when the host started) and `seq` order one host's reports: a report older
 * than one already seen is ignored, and a restarted host starts a new incarnation.
 */
const fleetInventory = {
  host: id,
  /** The driver's kind: process or docker. */
  driver: z.string().min(1).max(32),
  incarnation: timestamp,
  seq: count,
  at: timestamp,
  workers: z.array(fleetWorker).max(100_000),
};

export const fleetInventoryV1 = z.strictObject({ type: z.literal('fleet.inventory'), v: z.literal(1), ...fleetInventory });

/** The autoscaler asks one host's driver to start a worker, or to send one to Sundown. */
export const fleetCommandV1 = z.strictObject({
  type: z.literal('fleet.command'),
  v: z.literal(1),
  from: id,
  at: timestamp,
  action: z.enum(['add', 'retire']),
  /** The worker to retire; null for add. */
  worker: id.nullable(),
  /** How long a retired worker may take to finish its requests. */
  drainMs: count.max(3_600_000),
});

/** A host's answer to fleet.command: the worker started (add), or why nothing was done, and its inventory after the command. */
export const fleetResultV1 = z.strictObject({
  type: z.literal('fleet.result'),
  v: z.literal(1),
  ok: z.boolean(),
  worker: id.nullable(),
  error: z.string().max(2048).nullable(),
  ...fleetInventory,
});

/** Every host announces itself and its roles; the admin API lists who is alive. */
export const presenceV1 = z.strictObject({
  type: z.literal('presence'),
  v: z.literal(1),
  host: id,
  roles: z.array(z.string().min(1).max(64)).max(16),
  startedAt: timestamp,
  at: timestamp,
});

/** A request for a host's current presence (used by request/reply tests and tools). */
export const pingV1 = z.strictObject({ type: z.literal('ping'), v: z.literal(1), from: id, at: timestamp });

export const messageSchema = z.discriminatedUnion('type', [
  weightsUpdatedV1,
  scoresUpdatedV1,
  ingressStatsV2,
  metricsSampleV2,
  fleetInventoryV1,
  fleetCommandV1,
  fleetResultV1,
  presenceV1,
  pingV1,
]);

export type Message = z.infer<typeof messageSchema>;
export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;
