import { sampleAlias, type AliasView } from '../alias-table.js';
import type { RandomSource } from '../random.js';

/** Weighted random selection (seed 000, section 3.5): worker i with probability w_i / sum w. */
export function weightedRandom(view: AliasView, random: RandomSource): number {
  return sampleAlias(view, random());
}
