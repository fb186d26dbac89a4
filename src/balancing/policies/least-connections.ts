import type { PolicyView } from '../policy-view.js';
import type { RandomSource } from '../random.js';

/** The entry with the fewest requests in flight; ties broken at random. O(n) per pick. */
export function leastConnections(view: PolicyView, random: RandomSource): number {
  let best = 0;
  let bestLoad = Infinity;
  let ties = 0;
  for (let i = 0; i < view.count; i++) {
    const load = view.inflight(i);
    if (load < bestLoad) {
      best = i;
      bestLoad = load;
      ties = 1;
    } else if (load === bestLoad && random() * ++ties < 1) {
      best = i; // reservoir sampling keeps every tied entry equally likely
    }
  }
  return best;
}
