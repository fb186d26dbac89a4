import type { MessageOf } from '../bus/messages.js';
import type { ScoreInput } from './score-book.js';

type Sample = MessageOf<'metrics.sample'>;
const MEASURED = ['cpuPct', 'memoryPct', 'networkMBps', 'processTimeMs', 'networkDelayMs', 'latencyMs'] as const;

/**
 * One input per worker from the latest sample of every collector: each measurement from the
 * newest sample that has it, so a collector beside the worker (which also measures CPU and
 * memory) and one elsewhere (which does not) complete each other rather than overwrite.
 */
export function mergeSamples(samples: Iterable<Sample>): ScoreInput[] {
  const byId = new Map<string, ScoreInput & { at: Record<(typeof MEASURED)[number] | 'base', number> }>();
  for (const sample of samples) {
    for (const w of sample.workers) {
      let m = byId.get(w.id);
      if (m === undefined) {
        m = {
          id: w.id, baseWeight: w.baseWeight, isDefault: w.isDefault, cpuPct: null, memoryPct: null, networkMBps: null, processTimeMs: null, networkDelayMs: null, latencyMs: null, inflight: w.inflight,
          at: { base: sample.at, cpuPct: -1, memoryPct: -1, networkMBps: -1, processTimeMs: -1, networkDelayMs: -1, latencyMs: -1 },
        };
        byId.set(w.id, m);
      } else if (sample.at > m.at.base) {
        m.at.base = sample.at;
        m.baseWeight = w.baseWeight;
        m.isDefault = w.isDefault;
        m.inflight = w.inflight;
      }
      for (const k of MEASURED) {
        const v = w[k];
        if (v !== null && sample.at > m.at[k]) {
          m[k] = v;
          m.at[k] = sample.at;
        }
      }
    }
  }
  return [...byId.values()].map(({ at: _at, ...input }) => input).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
