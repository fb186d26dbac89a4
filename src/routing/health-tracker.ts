/** One round of active health checks, for the workers that were checked. */
export interface HealthResult {
  /** Whatever tells the worker apart (the checker uses its registration, slot and incarnation). */
  id: string;
  ok: boolean;
  /** Out of the table for failing its checks, when the round began. */
  unhealthy: boolean;
}

export interface HealthVerdict {
  /** Ready workers that failed `unhealthyThreshold` checks in a row: take them out. */
  unhealthy: string[];
  /** Unhealthy workers that passed `healthyThreshold` checks in a row: put them back. */
  healthy: string[];
}

/**
 * HAProxy's fall and rise counts for active health checks, kept apart from the probing so they
 * can be tested without a network: a ready worker leaves after `unhealthyThreshold` failed checks
 * in a row, an unhealthy one returns after `healthyThreshold` passed ones. A worker that was not
 * checked in a round (it drained, crashed, was ejected or removed) starts its counts over.
 */
export class HealthTracker {
  private runs = new Map<string, { passed: number; failed: number }>();

  constructor(private readonly options: { unhealthyThreshold: number; healthyThreshold: number }) {}

  record(results: readonly HealthResult[]): HealthVerdict {
    const verdict: HealthVerdict = { unhealthy: [], healthy: [] };
    const next = new Map<string, { passed: number; failed: number }>();
    for (const { id, ok, unhealthy } of results) {
      const run = this.runs.get(id) ?? { passed: 0, failed: 0 };
      if (ok) {
        run.passed++;
        run.failed = 0;
      } else {
        run.failed++;
        run.passed = 0;
      }
      if (!unhealthy && run.failed >= this.options.unhealthyThreshold) verdict.unhealthy.push(id);
      if (unhealthy && run.passed >= this.options.healthyThreshold) verdict.healthy.push(id);
      next.set(id, run);
    }
    this.runs = next;
    return verdict;
  }
}
