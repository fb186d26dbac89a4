/**
 * Worker scores, seed 000 section 3.1. Pure functions over measurements; 100 is best.
 *
 * Where the paper is inconsistent, its evident intent is implemented:
 * - It writes s_c = CPU_usage (and likewise s_m, s_n) but then states that every score follows
 *   S_x = 100% - Y_usage, with 100 the best result. So each sub-score is 100 - usage, clamped
 *   to 0..100; usage above 100 (possible for CPU on several cores) scores 0.
 * - The network sub-score uses the relative change of throughput (Network_usage%), as the paper
 *   derives "the percentage of network usage" from it; a falling rate scores 100. A change is
 *   taken relative to the previous rate or a floor (scoring.networkFloorMBps), whichever is
 *   larger: the paper means a rising load, and under light traffic the rate is a few requests'
 *   bytes, so going from 2 KB/s to 6 KB/s read as +200% and the sub-score flapped between 100
 *   and 0 from one interval to the next.
 * - The availability penalty 20 (1 - e^-(EffectiveTime - Threshold)) needs a dimensionless
 *   exponent, and the paper gives no unit: with milliseconds it would jump to 20 for any
 *   excess. The excess is taken relative to the threshold, so the penalty grows smoothly from 0
 *   at the threshold towards 20. The "dynamic threshold" is thresholdFactor x BestTime.
 * - s_a is already a score (100 = fast), so it is not subtracted from 100.
 */

export interface ScoreWeights {
  cpu: number;
  memory: number;
  network: number;
  availability: number;
}

/** The paper leaves w_c, w_m, w_n, w_a to configuration; these sum to 1 so s stays in 0..100. */
export const DEFAULT_SCORE_WEIGHTS: ScoreWeights = { cpu: 0.35, memory: 0.15, network: 0.1, availability: 0.4 };

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/** CPU_usage = ΔCPU / ΔSystem x N_CPU x 100%. 0 when no system time passed. */
export function cpuUsagePct(deltaCpu: number, deltaSystem: number, cpuCount: number): number {
  return deltaSystem > 0 ? (deltaCpu / deltaSystem) * cpuCount * 100 : 0;
}

/** Memory_usage = used / limit x 100%. */
export function memoryUsagePct(usedBytes: number, limitBytes: number): number {
  return limitBytes > 0 ? (usedBytes / limitBytes) * 100 : 0;
}

/** Network_usage = ΔBytes_total / (t x 10^6) MB/s, t in seconds. */
export function networkMBps(deltaBytes: number, seconds: number): number {
  return seconds > 0 ? deltaBytes / (seconds * 1e6) : 0;
}

/** Network_usage% = (usage - usage_prev) / max(usage_prev, floor) x 100%; 0 without a previous rate or floor. */
export function networkChangePct(currentMBps: number, previousMBps: number, floorMBps = 0): number {
  const base = Math.max(previousMBps, floorMBps);
  return base > 0 ? ((currentMBps - previousMBps) / base) * 100 : 0;
}

/** S_x = 100% - Y_usage, clamped to 0..100. */
export function usageScore(usagePct: number): number {
  return clamp(100 - usagePct, 0, 100);
}

export interface ResponseTimes {
  /** The latest response time. */
  currentMs: number;
  /** The average response time. */
  averageMs: number;
  /** The average of the best response times. */
  bestMs: number;
  /** Averages of an older and a more recent window, for the trend. */
  olderAverageMs: number;
  recentAverageMs: number;
}

/** s_a = max(0, min(100, Score_base - Penalty + Trendfix)). */
export function availabilityScore(t: ResponseTimes, thresholdFactor = 2): number {
  const effective = 0.3 * t.currentMs + 0.7 * t.averageMs;
  if (!(effective > 0) || !(t.bestMs > 0)) return 100; // nothing measured yet, or instant answers
  const base = 100 * (t.bestMs / effective) ** 1.5;
  const threshold = thresholdFactor * t.bestMs;
  const penalty = effective > threshold ? 20 * (1 - Math.exp(-(effective - threshold) / threshold)) : 0;
  const trend = t.olderAverageMs > 0 ? (t.olderAverageMs - t.recentAverageMs) / t.olderAverageMs : 0;
  return clamp(base - penalty + trend * 10, 0, 100);
}

export interface SubScores {
  cpu: number;
  memory: number;
  network: number;
  availability: number;
}

/** s = w_c s_c + w_m s_m + w_n s_n + w_a s_a. */
export function totalScore(s: SubScores, w: ScoreWeights = DEFAULT_SCORE_WEIGHTS): number {
  return w.cpu * s.cpu + w.memory * s.memory + w.network * s.network + w.availability * s.availability;
}
