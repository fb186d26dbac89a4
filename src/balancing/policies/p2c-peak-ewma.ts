import type { PolicyView } from '../policy-view.js';
import type { RandomSource } from '../random.js';

/**
 * Power of two choices over peak-EWMA latency, as Linkerd and Finagle balance: two distinct
 * entries drawn uniformly, the one with the lower latency x (in flight + 1) wins. Weights are
 * ignored. An entry without a latency yet costs least, so new workers get measured.
 */
export function p2cPeakEwma(view: PolicyView, random: RandomSource): number {
  const n = view.count;
  if (n === 1) return 0;
  const a = (random() * n) | 0;
  let b = (random() * (n - 1)) | 0;
  if (b >= a) b++;
  const cost = (i: number): number => view.latencyUs(i) * (view.inflight(i) + 1);
  return cost(b) < cost(a) ? b : a;
}
