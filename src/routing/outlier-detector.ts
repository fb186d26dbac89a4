/**
 * Passive outlier detection, as Envoy does it: a worker with `consecutiveFailures` failures in a
 * row (5xx, refused or reset connections) is ejected for baseEjectionMs x (times ejected), at
 * most maxEjectionMs, then readmitted; a worker healthy for maxEjectionMs has its count forgotten.
 * At most maxEjectedPercent of the workers are out at once (never all of them). Pure: the caller
 * passes the counts and the time and applies the verdicts.
 */

export interface OutlierOptions {
  /** 0 turns detection off. */
  consecutiveFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectedPercent: number;
}

/** Envoy's defaults, but a 10 s base ejection: a quicker first retry suits smaller pools. */
export const DEFAULT_OUTLIER_OPTIONS: OutlierOptions = { consecutiveFailures: 5, baseEjectionMs: 10_000, maxEjectionMs: 300_000, maxEjectedPercent: 50 };

export interface OutlierInput {
  id: string;
  consecutiveFailures: number;
  ejected: boolean;
}

interface Track {
  ejections: number;
  ejectedUntil: number;
  healthySince: number;
}

export class OutlierDetector {
  private readonly tracks = new Map<string, Track>();

  constructor(private readonly options: OutlierOptions = DEFAULT_OUTLIER_OPTIONS) {}

  /** One check over the workers that serve or are ejected; returns whom to eject and readmit. */
  check(now: number, workers: readonly OutlierInput[]): { eject: { id: string; forMs: number }[]; readmit: string[] } {
    const o = this.options;
    const eject: { id: string; forMs: number }[] = [];
    const readmit: string[] = [];
    if (o.consecutiveFailures <= 0) return { eject, readmit };
    const maxOut = Math.min(workers.length - 1, Math.floor((workers.length * o.maxEjectedPercent) / 100));
    let out = workers.filter((w) => w.ejected).length;
    for (const w of workers) {
      const t = this.tracks.get(w.id) ?? { ejections: 0, ejectedUntil: 0, healthySince: now };
      this.tracks.set(w.id, t);
      if (w.ejected) {
        if (now >= t.ejectedUntil) {
          readmit.push(w.id);
          t.healthySince = now;
        }
        continue;
      }
      if (w.consecutiveFailures === 0) {
        if (now - t.healthySince >= o.maxEjectionMs) t.ejections = 0;
        continue;
      }
      t.healthySince = now;
      if (w.consecutiveFailures >= o.consecutiveFailures && out < maxOut) {
        t.ejections++;
        const forMs = Math.min(o.maxEjectionMs, o.baseEjectionMs * t.ejections);
        t.ejectedUntil = now + forMs;
        eject.push({ id: w.id, forMs });
        out++;
      }
    }
    return { eject, readmit };
  }

  forget(id: string): void {
    this.tracks.delete(id);
  }
}
