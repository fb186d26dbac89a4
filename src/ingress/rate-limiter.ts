import { clientKey, rateLimit, type RateLimit, type RateTable } from '../shared/rate-table.js';

/** Bounds the cache of client keys, which a scan of many addresses would otherwise grow. */
const KEYS_MAX = 4096;

/**
 * One ingress thread's door to the host's shared rate table (limits.clientRequestsPerSecond):
 * caches the clients' keys and the limit, and reads the clock every thread shares.
 */
export class ClientRateLimiter {
  private readonly keys = new Map<string, bigint>();
  private limit: RateLimit = rateLimit(1, 1);
  private limitOf = '';

  constructor(private readonly table: RateTable) {}

  /**
   * 0 if a request from `client` may go on now (or limits set no rate), else the whole seconds it
   * should wait (at least 1), for Retry-After. The rate is at most `clientRequestsPerSecond`, with
   * `clientBurst` at once (0: as many as a second's worth).
   */
  waitSeconds(client: string, limits: { readonly clientRequestsPerSecond: number; readonly clientBurst: number }): number {
    const { clientRequestsPerSecond: perSecond, clientBurst: burst } = limits;
    if (perSecond <= 0) return 0;
    const of = `${perSecond}/${burst}`;
    if (of !== this.limitOf) {
      this.limit = rateLimit(perSecond, burst > 0 ? burst : Math.max(1, Math.floor(perSecond)));
      this.limitOf = of;
    }
    let key = this.keys.get(client);
    if (key === undefined) {
      if (this.keys.size >= KEYS_MAX) this.keys.clear();
      key = clientKey(client);
      this.keys.set(client, key);
    }
    // hrtime is CLOCK_MONOTONIC, the same for every thread of the process.
    const waitUs = this.table.admit(key, process.hrtime.bigint() / 1000n, this.limit);
    return waitUs === 0 ? 0 : Math.ceil(waitUs / 1e6);
  }
}

/** What a client over its rate is told. */
export const rateLimitedMessage = (client: string, perSecond: number): string => `more than ${perSecond} requests a second from ${client}`;
