/**
 * Vose's alias method: O(n) build, O(1) sample from a discrete distribution proportional to
 * weights (seed 000, section 3.5: p_i = w_i / sum_j w_j).
 *
 * The build writes into caller-owned arrays so the route table can build straight into shared
 * memory without an intermediate copy.
 */

/** Read-only view of a built table, as the policies see it. */
export interface AliasView {
  readonly count: number;
  readonly prob: Float64Array;
  readonly alias: Uint32Array;
}

/**
 * Fills prob[0..n) and alias[0..n) for the weights. Every weight must be finite and >= 0 and
 * their sum > 0 (the caller leaves zero-weight workers out or publishes an empty table).
 */
export function buildAliasTable(weights: ArrayLike<number>, prob: Float64Array, alias: Uint32Array): void {
  const n = weights.length;
  if (n === 0) return;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`weight ${i} must be a finite number >= 0, got ${w}`);
    sum += w;
  }
  if (!(sum > 0)) throw new RangeError('the sum of weights must be > 0');

  // Scaled probabilities live in prob while building; worklists are index stacks.
  const small = new Uint32Array(n);
  const large = new Uint32Array(n);
  let ns = 0;
  let nl = 0;
  for (let i = 0; i < n; i++) {
    const p = (weights[i]! * n) / sum;
    prob[i] = p;
    if (p < 1) small[ns++] = i;
    else large[nl++] = i;
  }
  while (ns > 0 && nl > 0) {
    const s = small[--ns]!;
    const l = large[--nl]!;
    alias[s] = l;
    const rest = prob[l]! + prob[s]! - 1;
    prob[l] = rest;
    if (rest < 1) small[ns++] = l;
    else large[nl++] = l;
  }
  // What remains is 1 up to rounding error; pin it so the column never points to its alias.
  while (nl > 0) {
    const l = large[--nl]!;
    prob[l] = 1;
    alias[l] = l;
  }
  while (ns > 0) {
    const s = small[--ns]!;
    prob[s] = 1;
    alias[s] = s;
  }
}

/**
 * O(1) draw: one uniform picks the column (integer part) and the coin (fractional part), which
 * are independent for a uniform u. Returns an index in [0, count) for a well-formed view.
 */
export function sampleAlias(view: AliasView, u: number): number {
  const x = u * view.count;
  const i = x | 0;
  return x - i < view.prob[i]! ? i : view.alias[i]!;
}
