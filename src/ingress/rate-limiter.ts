import { isIP } from 'node:net';
import { clientKey, rateLimit, type RateLimit, type RateTable } from '../shared/rate-table.js';
import { BoundedCache } from '../util/bounded-cache.js';

/** Bounds the cache of client keys, which a scan of many addresses would otherwise grow. */
const KEYS_MAX = 4096;

/**
 * One ingress thread's door to the host's shared rate table (limits.clientRequestsPerSecond):
 * caches the clients' keys and the limit, and reads the clock every thread shares.
 */
export class ClientRateLimiter {
  private readonly keys = new BoundedCache(KEYS_MAX, (client: string) => clientKey(rateSubject(client), this.table.seed));
  private limit: RateLimit = rateLimit(1, 1);
  /** The settings `limit` was made from; a reload changes them. */
  private perSecond = 0;
  private burst = 0;

  constructor(private readonly table: RateTable) {}

  /**
   * 0 if a request from `client` may go on now (or limits set no rate), else the whole seconds it
   * should wait (at least 1), for Retry-After. The rate is at most `clientRequestsPerSecond`, with
   * `clientBurst` at once (0: as many as a second's worth).
   */
  waitSeconds(client: string, limits: { readonly clientRequestsPerSecond: number; readonly clientBurst: number }): number {
    const { clientRequestsPerSecond: perSecond, clientBurst: burst } = limits;
    if (perSecond <= 0) return 0;
    if (perSecond !== this.perSecond || burst !== this.burst) {
      this.limit = rateLimit(perSecond, burst > 0 ? burst : Math.max(1, Math.floor(perSecond)));
      this.perSecond = perSecond;
      this.burst = burst;
    }
    // hrtime is CLOCK_MONOTONIC, the same for every thread of the process.
    const waitUs = this.table.admit(this.keys.get(client), process.hrtime.bigint() / 1000n, this.limit);
    return waitUs === 0 ? 0 : Math.ceil(waitUs / 1e6);
  }
}

/**
 * What a client is limited as: an IPv4 address, or an IPv6 address's /64 (one site's network,
 * any of whose 2^64 addresses a host in it can take, so per-address buckets would be no limit).
 * An IPv4 address written as IPv6 counts as that IPv4 address.
 */
export function rateSubject(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = ipv6Groups(address);
  const [a, b, c, d, e, f, g, h] = groups as [number, number, number, number, number, number, number, number];
  // An IPv4 address in IPv6 clothes is limited as that address: mapped (::ffff:0:0/96), SIIT's
  // translated (::ffff:0:0:0/96), NAT64's well-known prefix (64:ff9b::/96), or the old compatible
  // form (::a.b.c.d, though not :: or ::1).
  const ipv4 =
    (a === 0 && b === 0 && c === 0 && d === 0 && ((e === 0 && f === 0xffff) || (e === 0xffff && f === 0) || (e === 0 && f === 0 && g !== 0))) ||
    (a === 0x64 && b === 0xff9b && c === 0 && d === 0 && e === 0 && f === 0);
  if (ipv4) return `${g >> 8}.${g & 255}.${h >> 8}.${h & 255}`;
  return `${groups.slice(0, 4).map((x) => x.toString(16).padStart(4, '0')).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address in any of its text forms (zone dropped). */
function ipv6Groups(address: string): number[] {
  let text = address.split('%')[0]!;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    // A dotted IPv4 tail is two groups.
    const [a, b, c, d] = text.slice(lastColon + 1).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const before = head === '' ? [] : head.split(':');
  const after = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - before.length - after.length).fill('0');
  return [...before, ...zeros, ...after].map((g) => parseInt(g, 16));
}

/** What a client over its rate is told. */
export const rateLimitedMessage = (client: string, perSecond: number): string => `more than ${perSecond} requests a second from ${client}`;
