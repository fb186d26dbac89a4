/**
 * Scaling decisions, seed 000 section 3.4, pure: the caller passes the scores and the time.
 *
 * Where the paper is inconsistent, its evident intent is implemented:
 * - It scales up when "L(t) < L_high or min(L_c) < L_critical" with L a load, which would add
 *   workers when the load is low. The intent (and the autoscaling issue's reading) is scores:
 *   scale up when the mean score is below scoreHigh or any worker's score is below
 *   scoreCritical, i.e. when utilization is high.
 * - It scales down when "the average load exceeds a low threshold", again the wrong way round:
 *   here, when the mean score is above scoreLow (utilization low).
 * - After a scale-down it lowers C_default by the workers sent to Sundown, which only makes sense
 *   if a scale-up had raised it, which the paper never says. C_default stays what the operator
 *   set (at least the configured minimum): the floor the autoscaler never goes below.
 * - Its cooldown guards scale-up only in RustyBalancer; here it guards both directions.
 */

export interface AutoscaleOptions {
  /** C_max. */
  maxWorkers: number;
  /** S: workers added or sent to Sundown in one action. */
  step: number;
  /** Mean score below this: utilization is high, add workers. */
  scoreHigh: number;
  /** Any worker below this: it is overwhelmed, add workers. */
  scoreCritical: number;
  /** Mean score above this: utilization is low, remove workers. */
  scoreLow: number;
  cooldownMs: number;
}

export interface ScaledWorker {
  id: string;
  score: number;
  /** Workers already draining or gone do not count. */
  phase: 'init' | 'LU' | 'MU' | 'HU' | 'sundown' | 'shutdown';
  /** When it started; the newest go first on a scale-down. */
  startedAt: number;
  /** A default worker (seed 000, section 3.3) is never sent to Sundown. */
  isDefault: boolean;
}

/** The `count` newest workers that may be sent to Sundown (not default ones). */
function newestRemovable(active: readonly ScaledWorker[], count: number): string[] {
  return active
    .filter((w) => !w.isDefault)
    .sort((a, b) => b.startedAt - a.startedAt)
    .slice(0, count)
    .map((w) => w.id);
}

export interface AutoscaleInput {
  now: number;
  /** C_default: never fewer workers than this. */
  defaultCount: number;
  workers: readonly ScaledWorker[];
  /** When the last scaling action happened (any direction), or null. */
  lastActionAt: number | null;
}

export type Decision =
  | { action: 'up'; count: number; reason: string }
  | { action: 'down'; ids: string[]; reason: string }
  | { action: 'none'; reason: string };

const fmt = (x: number): string => x.toFixed(1);

/**
 * Workers in Sundown serve no new requests but still run until they stop: they do not count as
 * capacity, yet they do count toward C_max, which bounds what runs (the host's resources).
 */
function counts(input: AutoscaleInput, maxWorkers: number): { active: ScaledWorker[]; n: number; room: number; full: string } {
  const active = input.workers.filter((w) => w.phase !== 'sundown' && w.phase !== 'shutdown');
  const n = active.length;
  const running = input.workers.length;
  const full = running > n ? `${running} running (${running - n} in Sundown) is C_max` : `${n} running is C_max`;
  return { active, n, room: maxWorkers - running, full };
}

/** Below the floor (a worker died, or C_default was raised) is not a scaling decision: no cooldown. */
function belowFloor(input: AutoscaleInput, n: number, room: number, full: string): Decision | null {
  if (n >= input.defaultCount) return null;
  const reason = `${n} running, below C_default ${input.defaultCount}`;
  const count = Math.min(input.defaultCount - n, room);
  return count > 0 ? { action: 'up', count, reason } : { action: 'none', reason: `${reason}, but ${full}` };
}

export function decide(input: AutoscaleInput, o: AutoscaleOptions): Decision {
  const { active, n, room, full } = counts(input, o.maxWorkers);
  const floor = belowFloor(input, n, room, full);
  if (floor !== null) return floor;
  const measured = active.filter((w) => w.phase !== 'init');
  if (measured.length === 0) return { action: 'none', reason: 'no worker measured yet' };
  const mean = measured.reduce((a, w) => a + w.score, 0) / measured.length;
  const worst = measured.reduce((a, w) => (w.score < a.score ? w : a));
  const cooling = input.lastActionAt !== null && input.now - input.lastActionAt < o.cooldownMs;
  const wait = cooling ? o.cooldownMs - (input.now - input.lastActionAt!) : 0;

  const high = mean < o.scoreHigh ? `mean score ${fmt(mean)} below ${o.scoreHigh}` : worst.score < o.scoreCritical ? `${worst.id} scores ${fmt(worst.score)}, below ${o.scoreCritical}` : null;
  if (high !== null) {
    if (room <= 0) return { action: 'none', reason: `${high}, but ${full}` };
    if (cooling) return { action: 'none', reason: `${high}; cooldown for ${wait} ms more` };
    return { action: 'up', count: Math.min(o.step, room), reason: high };
  }
  if (mean > o.scoreLow && n > input.defaultCount) {
    const reason = `mean score ${fmt(mean)} above ${o.scoreLow} with ${n} running, more than C_default ${input.defaultCount}`;
    if (cooling) return { action: 'none', reason: `${reason}; cooldown for ${wait} ms more` };
    const ids = newestRemovable(active, Math.min(o.step, n - input.defaultCount));
    if (ids.length === 0) return { action: 'none', reason: `${reason}, but all are default workers` };
    return { action: 'down', ids, reason };
  }
  return { action: 'none', reason: `mean score ${fmt(mean)} with ${n} running` };
}

export interface HpaOptions {
  /** Target mean utilization per worker, in the scores' terms (100 - score). */
  targetUtilization: number;
  tolerance: number;
  stabilizationMs: number;
}

/**
 * The Kubernetes HPA's rule, the comparison in bench:autoscale (autoscaler.policy: hpa):
 * desired = ceil(current x utilization / target), no change within the tolerance, and a
 * scale-down only to the highest count recommended over the stabilization window, so a dip does
 * not remove what a peak needs. Scale-ups act at once; there is no other cooldown. Pure.
 */
export class HpaPolicy {
  private readonly history: { at: number; desired: number }[] = [];

  constructor(private readonly o: HpaOptions) {}

  decide(input: AutoscaleInput, limits: { maxWorkers: number }): Decision {
    const { active, n, room, full } = counts(input, limits.maxWorkers);
    const floor = belowFloor(input, n, room, full);
    if (floor !== null) return floor;
    const measured = active.filter((w) => w.phase !== 'init');
    if (measured.length === 0) return { action: 'none', reason: 'no worker measured yet' };
    const utilization = measured.reduce((a, w) => a + (100 - w.score), 0) / measured.length;
    const ratio = utilization / this.o.targetUtilization;
    let desired = Math.abs(ratio - 1) <= this.o.tolerance ? n : Math.ceil(n * ratio);
    desired = Math.min(limits.maxWorkers, Math.max(input.defaultCount, desired));
    this.history.push({ at: input.now, desired });
    while (this.history.length > 0 && this.history[0]!.at < input.now - this.o.stabilizationMs) this.history.shift();
    if (desired < n) desired = Math.min(n, Math.max(...this.history.map((h) => h.desired)));
    const reason = `utilization ${fmt(utilization)} against a target of ${this.o.targetUtilization}: ${desired} wanted, ${n} running`;
    if (desired > n) return room > 0 ? { action: 'up', count: Math.min(desired - n, room), reason } : { action: 'none', reason: `${reason}, but ${full}` };
    const ids = desired < n ? newestRemovable(active, n - desired) : [];
    if (ids.length > 0) return { action: 'down', ids, reason };
    return { action: 'none', reason };
  }
}
