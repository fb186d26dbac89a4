/**
 * Log-linear latency buckets over microseconds, HDR-style: exact below 8 us, then 8 sub-buckets
 * per power of two, so any quantile read from the buckets is within 12.5% of the true value.
 * Pure functions over a counts array, so the same code reads shared memory and test arrays.
 */

const SUB_BITS = 3;
const SUB_BUCKETS = 1 << SUB_BITS;
/** Values up to 2^31 - 1 us (about 35 minutes); larger ones land in the last bucket. */
export const HISTOGRAM_BUCKETS = (31 - SUB_BITS + 1) * SUB_BUCKETS;

export function bucketOf(us: number): number {
  const v = us >= 0x7fffffff ? 0x7fffffff : us > 0 ? us | 0 : 0;
  if (v < SUB_BUCKETS) return v;
  const exponent = 31 - Math.clz32(v);
  const sub = (v >>> (exponent - SUB_BITS)) & (SUB_BUCKETS - 1);
  return (exponent - SUB_BITS + 1) * SUB_BUCKETS + sub;
}

/** [lower, upper) bounds in microseconds of a bucket. */
export function bucketBounds(bucket: number): [number, number] {
  if (bucket < SUB_BUCKETS) return [bucket, bucket + 1];
  const exponent = (bucket >>> SUB_BITS) + SUB_BITS - 1;
  const width = 2 ** (exponent - SUB_BITS);
  const lower = (SUB_BUCKETS + (bucket & (SUB_BUCKETS - 1))) * width;
  return [lower, lower + width];
}

/** The q-quantile (0..1) in microseconds, as the midpoint of its bucket; NaN when empty. */
export function quantile(counts: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let b = 0; b < counts.length; b++) total += counts[b]!;
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let b = 0; b < counts.length; b++) {
    seen += counts[b]!;
    if (seen >= rank) {
      const [lo, hi] = bucketBounds(b);
      return b < SUB_BUCKETS ? lo : (lo + hi) / 2;
    }
  }
  return Number.NaN;
}
