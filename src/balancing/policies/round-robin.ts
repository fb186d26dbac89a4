import type { AliasView } from '../alias-table.js';
import type { RandomSource } from '../random.js';

/**
 * Round robin over the table's workers, each in turn, weights ignored (weighted rotation by
 * measured process time and delay arrives with seed 004). The cursor is per ingress thread, so
 * with T threads each thread rotates on its own.
 */
export function roundRobin(): (view: AliasView, random: RandomSource) => number {
  let cursor = 0;
  return (view) => {
    cursor = cursor + 1 >= view.count ? 0 : cursor + 1;
    return cursor;
  };
}
