import type { MessageOf } from '../bus/messages.js';

/** A worker as all fresh ingress reports together see it. */
export interface MergedWorker {
  id: string;
  baseWeight: number;
  isDefault: boolean;
  inflight: number;
  completed: number;
  /** Body bytes both ways, summed over the ingress hosts. */
  bytes: number;
  /**
   * Busy time summed over the ingress hosts. Each host counts the time it has a request in flight,
   * so with several hosts the periods overlap and the sum overstates the worker's busy time;
   * the overstatement is alike for workers that get alike shares of every host's traffic.
   */
  busyMs: number;
  /** Mean of the hosts' latency EWMAs, weighted by how many requests each host completed. */
  ewmaMs: number | null;
}

/** Merges each host's latest ingress.stats into one view per worker. */
export function mergeIngressStats(reports: Iterable<MessageOf<'ingress.stats'>>): Map<string, MergedWorker> {
  const merged = new Map<string, MergedWorker & { latencyWeight: number; latencySum: number }>();
  for (const report of reports) {
    for (const w of report.workers) {
      let m = merged.get(w.id);
      if (m === undefined) {
        m = { id: w.id, baseWeight: w.baseWeight, isDefault: w.isDefault, inflight: 0, completed: 0, bytes: 0, busyMs: 0, ewmaMs: null, latencyWeight: 0, latencySum: 0 };
        merged.set(w.id, m);
      }
      m.inflight += w.inflight;
      m.completed += w.completed;
      m.bytes += w.bytesIn + w.bytesOut;
      m.busyMs += w.busyMs;
      if (w.ewmaMs !== null) {
        const weight = Math.max(1, w.completed);
        m.latencyWeight += weight;
        m.latencySum += weight * w.ewmaMs;
      }
    }
  }
  const out = new Map<string, MergedWorker>();
  for (const { latencyWeight, latencySum, ...m } of merged.values()) out.set(m.id, { ...m, ewmaMs: latencyWeight > 0 ? latencySum / latencyWeight : null });
  return out;
}
