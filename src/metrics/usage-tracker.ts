import { cpuUsagePct, memoryUsagePct, networkMBps } from '../scoring/scores.js';
import type { ResourceReading } from './resources.js';

export interface Usage {
  cpuPct: number | null;
  memoryPct: number | null;
  networkMBps: number | null;
  /** Busy time per completed request over the interval (seed 004's "process time"). */
  processTimeMs: number | null;
}

/** One worker's cumulative counters at one moment; absent ones were not measured. */
export interface Cumulative {
  reading?: ResourceReading;
  /** Body bytes through the ingress, both ways. */
  bytes?: number;
  busyMs?: number;
  completed?: number;
}

interface Last extends Cumulative {
  at: number;
}

/**
 * Turns cumulative readings (CPU time, bytes, busy time, completions) into rates between two
 * consecutive readings of the same worker. Pure: the caller passes the time. The first reading
 * of a worker gives no rate; a counter that went backwards (the worker or an ingress host
 * restarted) gives none either and starts over.
 */
export class UsageTracker {
  private readonly last = new Map<string, Last>();

  update(id: string, now: number, c: Cumulative): Usage {
    const prev = this.last.get(id);
    this.last.set(id, { at: now, ...c });
    const r = c.reading;
    let cpuPct: number | null = null;
    if (r !== undefined && prev?.reading !== undefined && r.cpu >= prev.reading.cpu && r.system > prev.reading.system) {
      cpuPct = cpuUsagePct(r.cpu - prev.reading.cpu, r.system - prev.reading.system, r.cpus);
    }
    const d = (k: 'bytes' | 'busyMs' | 'completed'): number | null => {
      const [a, b] = [prev?.[k], c[k]];
      return a !== undefined && b !== undefined && b >= a ? b - a : null;
    };
    const bytes = d('bytes');
    const busy = d('busyMs');
    const completed = d('completed');
    return {
      cpuPct,
      memoryPct: r !== undefined ? memoryUsagePct(r.memoryBytes, r.memoryLimitBytes) : null,
      networkMBps: bytes !== null && now > prev!.at ? networkMBps(bytes, (now - prev!.at) / 1000) : null,
      processTimeMs: busy !== null && completed !== null && completed > 0 ? busy / completed : null,
    };
  }

  /** Forgets workers that are gone. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.last.keys()) if (!ids.has(id)) this.last.delete(id);
  }
}
