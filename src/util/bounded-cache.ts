/**
 * Memoised values that are all forgotten when the cache reaches `max` entries, so keys that come
 * without end (the addresses of a scan, the workers of a churning fleet) cannot grow it, and the
 * common case (a few hot keys) stays one map read.
 */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>();

  constructor(
    private readonly max: number,
    private readonly compute: (key: K) => V,
  ) {}

  get(key: K): V {
    let value = this.map.get(key);
    if (value === undefined) {
      if (this.map.size >= this.max) this.map.clear();
      value = this.compute(key);
      this.map.set(key, value);
    }
    return value;
  }
}
