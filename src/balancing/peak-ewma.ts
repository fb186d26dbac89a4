/**
 * Peak EWMA of latency, as Finagle and Linkerd compute it: a sample above the current value
 * replaces it at once (react to trouble fast); a lower one pulls it down with time constant
 * tauMs (recover slowly), so the decay depends on time, not on how many samples arrived.
 */
export function peakEwma(current: number, lastUpdateMs: number, sample: number, nowMs: number, tauMs: number): number {
  if (current <= 0 || sample >= current) return sample;
  const w = Math.exp(-Math.max(0, nowMs - lastUpdateMs) / tauMs);
  return current * w + sample * (1 - w);
}

/** Finagle's and Linkerd's default decay time. */
export const PEAK_EWMA_TAU_MS = 10_000;
