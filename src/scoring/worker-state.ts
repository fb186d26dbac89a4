/**
 * Utilization categories and the worker state machine, seed 000 section 3.3 (Figure 2):
 * Init, then Low, Medium or High utilization (LU, MU, HU); Sundown (no new requests, draining);
 * Shutdown once no request is in flight. Default workers are never terminated (T(w) = 0 for
 * w in D). RustyBalancer left out the hysteresis and the dwell time the paper describes; both
 * are here: leaving a category needs the utilization to cross its threshold by `hysteresis`,
 * and a category is held at least `minDwellMs` before it changes.
 * Pure: the caller passes the observation and the time.
 */

export type Category = 'LU' | 'MU' | 'HU';
export type Phase = 'init' | Category | 'sundown' | 'shutdown';

export interface StateOptions {
  /** Threshold_low and Threshold_high, in utilization percent (100 - score). */
  low: number;
  high: number;
  hysteresis: number;
  minDwellMs: number;
  /** t_low: how long a worker stays in LU before it may be sent to Sundown. */
  lowDwellForSundownMs: number;
}

/** Azure Autoscale's common defaults (scale in below 30%, out above 70%), as the paper cites. */
export const DEFAULT_STATE_OPTIONS: StateOptions = { low: 30, high: 70, hysteresis: 5, minDwellMs: 5_000, lowDwellForSundownMs: 60_000 };

export interface WorkerStatus {
  phase: Phase;
  /** When the worker entered this phase (ms). */
  since: number;
}

export interface Observation {
  /** U(t), 0..100. */
  utilization: number;
  /** C(t): requests in flight. */
  inflight: number;
  now: number;
  /** A default worker (member of D) is never sent to Sundown. */
  isDefault: boolean;
}

/** The category for a utilization, given the current one (null: none yet, no hysteresis). */
export function categorize(u: number, current: Category | null, o: StateOptions): Category {
  const h = current === null ? 0 : o.hysteresis;
  if (current === 'HU') return u >= o.high - h ? 'HU' : u <= o.low - h ? 'LU' : 'MU';
  if (current === 'LU') return u <= o.low + h ? 'LU' : u >= o.high + h ? 'HU' : 'MU';
  if (current === 'MU') return u >= o.high + h ? 'HU' : u <= o.low - h ? 'LU' : 'MU';
  return u >= o.high ? 'HU' : u <= o.low ? 'LU' : 'MU';
}

export function nextState(s: WorkerStatus, obs: Observation, o: StateOptions = DEFAULT_STATE_OPTIONS): WorkerStatus {
  switch (s.phase) {
    case 'shutdown':
      return s;
    case 'sundown':
      return obs.inflight === 0 ? { phase: 'shutdown', since: obs.now } : s;
    case 'init':
      return { phase: categorize(obs.utilization, null, o), since: obs.now };
    default: {
      // P(LU -> Sundown) = P(U(t) < Threshold_low and t_LU > t_low and not Default).
      if (s.phase === 'LU' && obs.utilization < o.low && obs.now - s.since > o.lowDwellForSundownMs && !obs.isDefault) {
        return { phase: 'sundown', since: obs.now };
      }
      if (obs.now - s.since < o.minDwellMs) return s;
      const next = categorize(obs.utilization, s.phase, o);
      return next === s.phase ? s : { phase: next, since: obs.now };
    }
  }
}
