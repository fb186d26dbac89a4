import { sampleAlias } from '../alias-table.js';
import type { PolicyView } from '../policy-view.js';
import type { RandomSource } from '../random.js';

/**
 * Ours: two candidates drawn from the alias table (so in proportion to the scores' weights),
 * the one with the lower (in flight + 1) / weight wins. The weights carry what the scorer
 * measured; the live in-flight counts correct them between updates (the staleness Delta(t) the
 * seed admits in section 8). O(1).
 */
export function weightedP2c(view: PolicyView, random: RandomSource): number {
  const a = sampleAlias(view, random());
  let b = sampleAlias(view, random());
  if (b === a && view.count > 1) b = sampleAlias(view, random());
  if (b === a) return a;
  return (view.inflight(b) + 1) / view.weight(b) < (view.inflight(a) + 1) / view.weight(a) ? b : a;
}
