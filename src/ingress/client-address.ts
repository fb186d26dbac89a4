import type { HttpResponse } from 'uWebSockets.js';
import { remoteAddress } from './raw-head.js';

/**
 * The client's address as text, the way uWS's getRemoteAddressAsText() writes it ("a.b.c.d", or
 * eight groups of four hex digits for IPv6), but formatted here from the binary address and
 * cached: uWS formats with snprintf into a fresh ArrayBuffer on every call, which measured about
 * 3,500 instructions per request, most of the cost of X-Forwarded-For. The binary address is a
 * getpeername() per request in uWS.js 20.30, answered from accept()'s result where
 * native/peer-cache is built (see peer-cache.ts), and read without uWS.js's ArrayBuffer where
 * its request_head addon is (remoteAddress in raw-head.ts).
 */

/** The client's address as text (see addressText). */
export function clientAddress(res: HttpResponse): string {
  return addressText(remoteAddress(res));
}

/** Recent addresses by their bytes; cleared when full, so a scan of many clients cannot grow it. */
const cache = new Map<string | number, string>();
const CACHE_MAX = 4096;

export function addressText(b: Uint8Array): string {
  let key: string | number;
  if (b.length === 4) key = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  else if (b.length === 16) {
    key = '';
    for (let i = 0; i < 16; i += 2) key += String.fromCharCode((b[i]! << 8) | b[i + 1]!);
  } else return '';
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const text = format(b);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(key, text);
  return text;
}

function format(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16).padStart(4, '0'));
  return groups.join(':');
}
