/** A source of uniform numbers in [0, 1). Production uses Math.random; tests inject a seeded one. */
export type RandomSource = () => number;

/**
 * Deterministic 53-bit uniform source (two mulberry32 steps per draw), for tests and simulations
 * where a run must be reproducible from its seed.
 */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  const next32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return () => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
}
