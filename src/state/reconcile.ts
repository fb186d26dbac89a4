import type { WorkerEntry } from './state-store.js';

/** A worker as its driver reports it running now. */
export interface RunningWorker {
  name: string;
  host: string;
  port: number;
  image: string | null;
}

export interface ReconcilePlan {
  /** Running workers the store does not know: entries to add. */
  add: WorkerEntry[];
  /** Entries whose worker no longer runs (removed, died, or stopped behind weighbridge's back). */
  remove: WorkerEntry[];
  /** Entries whose worker runs elsewhere now (a new address or image after a restart). */
  update: WorkerEntry[];
}

/**
 * Two-way sync of seed 000 section 7, pure: the store follows what runs. Entries without a
 * running worker go; running workers without an entry are added in state init; entries whose
 * address or image changed are corrected. Replacing workers that died is the autoscaler's part
 * (it sees the count fall below what it wants), so a dead worker is never resurrected from a
 * stale entry.
 */
export function planReconcile(entries: readonly WorkerEntry[], running: readonly RunningWorker[], now: number): ReconcilePlan {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const runningNames = new Set(running.map((r) => r.name));
  const plan: ReconcilePlan = { add: [], remove: entries.filter((e) => !runningNames.has(e.name)), update: [] };
  for (const r of running) {
    const e = byName.get(r.name);
    if (e === undefined) plan.add.push({ ...r, category: null, score: null, state: 'init', updatedAt: now });
    else if (e.host !== r.host || e.port !== r.port || e.image !== r.image) plan.update.push({ ...e, host: r.host, port: r.port, image: r.image, updatedAt: now });
  }
  return plan;
}
