/** Byte-size helpers for laying typed arrays out in one SharedArrayBuffer. */
export function align(offset: number, to: number): number {
  return Math.ceil(offset / to) * to;
}
