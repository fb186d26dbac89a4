import type { PolicyView } from '../policy-view.js';
import type { RandomSource } from '../random.js';

/**
 * Smooth weighted round robin (NGINX's), the rotation of seed 004 whose weights come from
 * process time and network delay (the scorer computes them): every pick adds each entry's
 * weight to its credit, takes the entry with the most credit and charges it the total. Entries
 * are interleaved, not bunched. O(n) per pick; state per policy instance (per ingress thread),
 * reset when the table's size changes.
 */
export function smoothWeightedRoundRobin(): (view: PolicyView, random: RandomSource) => number {
  let credit = new Float64Array(0);
  return (view) => {
    const n = view.count;
    if (credit.length !== n) credit = new Float64Array(n);
    let total = 0;
    let best = 0;
    for (let i = 0; i < n; i++) {
      const w = view.weight(i);
      credit[i]! += w;
      total += w;
      if (credit[i]! > credit[best]!) best = i;
    }
    credit[best]! -= total;
    return best;
  };
}
