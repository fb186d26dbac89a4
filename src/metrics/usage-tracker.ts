import { cpuUsagePct, memoryUsagePct, networkMBps } from '../scoring/scores.js';
import type { ResourceReading } from './resources.js';

export interface Usage {
  cpuPct: number | null;
  memoryPct: number | null;
  networkMBps: number | null;
}

interface Last {
  at: number;
  cpu: number | null;
  system: number | null;
  bytes: number | null;
}

/**
 * Turns cumulative readings (CPU time, bytes through the ingress) into rates between two
 * consecutive readings of the same worker. Pure: the caller passes the time. The first reading
 * of a worker gives no rate; a counter that went backwards (the worker or an ingress host
 * restarted) gives none either and starts over.
 */
export class UsageTracker {
  private readonly last = new Map<string, Last>();

  update(id: string, now: number, reading: ResourceReading | undefined, bytes: number | undefined): Usage {
    const prev = this.last.get(id);
    let cpuPct: number | null = null;
    if (reading !== undefined && prev?.cpu != null && prev.system != null && reading.cpu >= prev.cpu && reading.system > prev.system) {
      cpuPct = cpuUsagePct(reading.cpu - prev.cpu, reading.system - prev.system, reading.cpus);
    }
    let rate: number | null = null;
    if (bytes !== undefined && prev?.bytes != null && bytes >= prev.bytes && now > prev.at) rate = networkMBps(bytes - prev.bytes, (now - prev.at) / 1000);
    this.last.set(id, { at: now, cpu: reading?.cpu ?? null, system: reading?.system ?? null, bytes: bytes ?? null });
    return {
      cpuPct,
      memoryPct: reading !== undefined ? memoryUsagePct(reading.memoryBytes, reading.memoryLimitBytes) : null,
      networkMBps: rate,
    };
  }

  /** Forgets workers that are gone. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.last.keys()) if (!ids.has(id)) this.last.delete(id);
  }
}
