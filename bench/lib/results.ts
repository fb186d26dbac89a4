/** Per-round measurements folded into one row per target (median of rounds) plus HAProxy ratios. */
import type { TargetName } from './args.js';
import type { WrkResult } from './wrk.js';

/** A target's share of errors above which its numbers are flagged as suspect. */
export const ERROR_FLAG_RATE = 0.01;

export type Measurement =
  | { round: number; ok: true; wrk: WrkResult; cpuUsPerRequest: number | null; userUsPerRequest: number | null }
  | { round: number; ok: false; error: string };

export interface Row {
  target: TargetName;
  description: string;
  /** Set when no round produced numbers, or some rounds failed. */
  error: string | null;
  /** Medians over the rounds that produced numbers; null when none did. */
  rps: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Median CPU microseconds (user + system, all the target's processes) per request. */
  cpuUsPerRequest: number | null;
  /**
   * The median user-space part: the proxy's own code. The system part is mostly the kernel's
   * socket work, which every proxy asks for about equally, so a gap in CPU shows here.
   */
  userUsPerRequest: number | null;
  /** Totals over all successful rounds. */
  requests: number;
  errors: number;
  /** The errors by kind: wrk's status >= 400 count and its socket error counts. */
  errorKinds: { badStatus: number; connect: number; read: number; write: number; timeout: number };
  errorRate: number;
  /** errorRate > ERROR_FLAG_RATE. */
  flagged: boolean;
  /**
   * rps ÷ HAProxy rps (higher is better); null when either is missing. With several rounds, the
   * median of the per-round ratios: each round runs every target back to back, so pairing a
   * target with HAProxy's run in the same round cancels much of the drift of a shared machine.
   */
  ratioToHaproxy: number | null;
  /** The smallest and largest per-round ratio, to show the spread; null with fewer than two rounds. */
  ratioRange: [number, number] | null;
  /**
   * p99 ÷ HAProxy p99 (lower is better), the median of the per-round ratios like ratioToHaproxy;
   * null when either is missing.
   */
  p99VsHaproxy: number | null;
  /**
   * A 95% confidence interval for that median (medianInterval); null with fewer than 6 rounds.
   * Above 1 at its low end, the p99 is worse than HAProxy's beyond this run's noise; below 1 at its
   * high end, better; containing 1, no difference this run can detect.
   */
  p99Interval: [number, number] | null;
  /**
   * In how many of the rounds with both measured the p99 was at or below HAProxy's in the same
   * round: with a p99 that moves by 1.5x between rounds on a shared machine, the ratio of medians
   * alone cannot say whether one is worse; a count near half the rounds says they are alike.
   */
  p99AtOrBelowHaproxy: { rounds: number; of: number } | null;
  /** CPU per request ÷ HAProxy's (lower is better). */
  cpuVsHaproxy: number | null;
  rounds: Measurement[];
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * A distribution-free confidence interval for the median of `values`: the k-th smallest and k-th
 * largest, with the largest k for which the chance that the median lies between them is at
 * least `confidence` (each value falls below the median with probability 1/2, so the number
 * below it is Binomial(n, 1/2)). Null when even the smallest and largest do not reach it (n < 6
 * for 95%).
 */
export function medianInterval(values: number[], confidence = 0.95): [number, number] | null {
  const n = values.length;
  // below[j] = P(Binomial(n, 1/2) <= j), summed from the exact probabilities.
  let term = 0.5 ** n;
  let below = term;
  let k = 0;
  for (let j = 0; 1 - 2 * below >= confidence; j++) {
    k = j + 1;
    term = (term * (n - j)) / (j + 1);
    below += term;
  }
  if (k === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return [s[k - 1]!, s[n - k]!];
}

/** One message for the failed rounds; the round numbers only when they matter. */
function summarizeFailures(rounds: Measurement[]): string | null {
  const failed = rounds.flatMap((m) => (m.ok ? [] : [m]));
  if (failed.length === 0) return null;
  const distinct = new Set(failed.map((m) => m.error));
  if (distinct.size === 1 && failed.length === rounds.length) return failed[0]!.error;
  return failed.map((m) => `round ${m.round}: ${m.error}`).join('; ');
}

function buildRow(target: TargetName, description: string, rounds: Measurement[]): Row {
  const ok = rounds.flatMap((m) => (m.ok ? [m.wrk] : []));
  const cpu = rounds.flatMap((m) => (m.ok && m.cpuUsPerRequest !== null ? [m.cpuUsPerRequest] : []));
  const user = rounds.flatMap((m) => (m.ok && m.userUsPerRequest !== null ? [m.userUsPerRequest] : []));
  const requests = ok.reduce((a, w) => a + w.requests, 0);
  const errors = ok.reduce((a, w) => a + w.errors, 0);
  const sum = (f: (w: WrkResult) => number): number => ok.reduce((a, w) => a + f(w), 0);
  const errorKinds = {
    badStatus: sum((w) => w.badStatus),
    connect: sum((w) => w.socketErrors.connect),
    read: sum((w) => w.socketErrors.read),
    write: sum((w) => w.socketErrors.write),
    timeout: sum((w) => w.socketErrors.timeout),
  };
  const errorRate = requests > 0 ? errors / requests : errors > 0 ? 1 : 0;
  return {
    target,
    description,
    error: summarizeFailures(rounds),
    rps: median(ok.map((w) => w.rps)),
    p50Ms: median(ok.map((w) => w.p50Ms)),
    p99Ms: median(ok.map((w) => w.p99Ms)),
    cpuUsPerRequest: median(cpu),
    userUsPerRequest: median(user),
    requests,
    errors,
    errorKinds,
    errorRate,
    flagged: errorRate > ERROR_FLAG_RATE,
    ratioToHaproxy: null,
    ratioRange: null,
    p99VsHaproxy: null,
    p99Interval: null,
    p99AtOrBelowHaproxy: null,
    cpuVsHaproxy: null,
    rounds,
  };
}

/** Builds rows in target order and fills in the comparison with HAProxy. */
export function buildRows(
  targets: TargetName[],
  describe: (t: TargetName) => string,
  measurements: Map<TargetName, Measurement[]>,
): Row[] {
  const rows = targets.map((t) => buildRow(t, describe(t), measurements.get(t) ?? []));
  const base = rows.find((r) => r.target === 'haproxy');
  const baseRps = new Map(base?.rounds.flatMap((m) => (m.ok && m.wrk.rps > 0 ? [[m.round, m.wrk.rps] as const] : [])));
  const baseP99 = new Map(base?.rounds.flatMap((m) => (m.ok ? [[m.round, m.wrk.p99Ms] as const] : [])));
  for (const r of rows) {
    const paired = r.rounds.flatMap((m) => (m.ok && baseRps.has(m.round) ? [m.wrk.rps / baseRps.get(m.round)!] : []));
    if (paired.length > 0) r.ratioToHaproxy = median(paired);
    else if (base?.rps && r.rps !== null) r.ratioToHaproxy = r.rps / base.rps;
    if (paired.length > 1 && r !== base) r.ratioRange = [Math.min(...paired), Math.max(...paired)];
    const p99Pairs = r.rounds.flatMap((m) => (m.ok && baseP99.get(m.round) ? [m.wrk.p99Ms / baseP99.get(m.round)!] : []));
    if (p99Pairs.length > 0) r.p99VsHaproxy = median(p99Pairs);
    else if (base?.p99Ms && r.p99Ms !== null) r.p99VsHaproxy = r.p99Ms / base.p99Ms;
    if (p99Pairs.length > 1 && r !== base) {
      r.p99Interval = medianInterval(p99Pairs);
      r.p99AtOrBelowHaproxy = { rounds: p99Pairs.filter((x) => x <= 1).length, of: p99Pairs.length };
    }
    if (base?.cpuUsPerRequest && r.cpuUsPerRequest !== null) r.cpuVsHaproxy = r.cpuUsPerRequest / base.cpuUsPerRequest;
  }
  return rows;
}
