/** A worker as the interim scorer sees it, merged over the ingress hosts that report it. */
export interface LatencyInput {
  id: string;
  baseWeight: number;
  /** Median latency, or null when no host has measured it yet. */
  p50Ms: number | null;
}

/** No worker drops below this share of its base weight, so a slow one is still measured. */
export const MIN_FACTOR = 0.1;

/**
 * The interim scorer until the paper's scores arrive (the scoring issue): a worker's weight is
 * its base weight times (fastest median latency / its median latency), at least MIN_FACTOR of
 * its base. Unmeasured workers keep their base weight.
 */
export function latencyWeights(workers: readonly LatencyInput[]): { id: string; weight: number }[] {
  let fastest = Infinity;
  for (const w of workers) if (w.p50Ms !== null && w.p50Ms > 0) fastest = Math.min(fastest, w.p50Ms);
  return workers.map((w) => {
    if (w.p50Ms === null || w.p50Ms <= 0 || fastest === Infinity) return { id: w.id, weight: w.baseWeight };
    const factor = Math.max(MIN_FACTOR, fastest / w.p50Ms);
    return { id: w.id, weight: Math.round(w.baseWeight * factor * 1000) / 1000 };
  });
}
