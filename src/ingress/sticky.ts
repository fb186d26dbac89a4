import { createHash } from 'node:crypto';
import type { RouteTableReader } from '../shared/route-table.js';
import { BoundedCache } from '../util/bounded-cache.js';
import type { Scheme } from './request-head.js';
import type { UpstreamPools } from './upstream-pools.js';

/**
 * Sticky sessions by cookie (HAProxy's `cookie ... insert`, Traefik's sticky cookie): a response
 * from a worker the client's cookie did not name sets a cookie naming it, and a request whose
 * cookie names a worker that is in the route table goes to that worker, whatever the policy
 * would pick. A worker that left the table (drained, ejected, unhealthy, gone) no longer holds
 * its clients: they are picked for anew and get a new cookie with that response.
 */
export interface StickySettings {
  /** The cookie's name (an RFC 9110 token). */
  cookie: string;
  path: string;
  /** 0: a session cookie, which ends with the browser session. */
  maxAgeS: number;
  httpOnly: boolean;
  /** 'auto': Secure on responses over HTTPS. */
  secure: boolean | 'auto';
  sameSite: 'lax' | 'strict' | 'none';
  /**
   * A response that sets the cookie also gets `Cache-Control: private` (HAProxy's `nocache`), so
   * that a shared cache in front does not store it and hand one client's cookie to others.
   */
  nocache: boolean;
}

/**
 * The cookie value naming a worker: a hash of its id, the same on every ingress thread and host,
 * so the cookie does not tell clients the workers' addresses (ids default to host:port).
 */
export function stickyToken(workerId: string): string {
  return createHash('sha256').update(workerId).digest('hex').slice(0, 16);
}

/**
 * The value of cookie `name` in a Cookie field value (RFC 6265 section 4.2.1: pairs separated by
 * ";" and a space, the value optionally in double quotes), or '' when it is absent. The first of
 * several wins, as RFC 6265 orders the most specific path first. Lenient about spaces around ";".
 */
export function cookieValue(field: string, name: string): string {
  let from = 0;
  for (;;) {
    const at = field.indexOf(name, from);
    if (at < 0) return '';
    const end = at + name.length;
    if (field.charCodeAt(end) === 0x3d /* = */ && startsPair(field, at)) {
      let stop = field.indexOf(';', end + 1);
      if (stop < 0) stop = field.length;
      const value = field.slice(end + 1, stop).trim();
      return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
    }
    from = at + 1;
  }
}

/** Whether a name at `at` starts a pair: at the field's start or after ";" and spaces. */
function startsPair(field: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && (field.charCodeAt(i) === 0x20 || field.charCodeAt(i) === 0x09)) i--;
  return i < 0 || field.charCodeAt(i) === 0x3b /* ; */;
}

/** The Set-Cookie field value that pins a client to the worker of `token`. */
export function setCookieValue(settings: StickySettings, token: string, scheme: Scheme): string {
  let value = `${settings.cookie}=${token}; Path=${settings.path}`;
  if (settings.maxAgeS > 0) value += `; Max-Age=${settings.maxAgeS}`;
  if (settings.httpOnly) value += '; HttpOnly';
  value += `; SameSite=${settings.sameSite === 'lax' ? 'Lax' : settings.sameSite === 'strict' ? 'Strict' : 'None'}`;
  if (settings.secure === true || (settings.secure === 'auto' && scheme === 'https')) value += '; Secure';
  return value;
}

/** Bounds the per-thread caches of tokens and field lines, which a churning fleet would grow. */
const CACHE_MAX = 8192;

/**
 * One ingress thread's view of the sticky cookie: which worker in the current route table a
 * token names. The index is rebuilt, O(n) in the table, the first time a sticky request meets a
 * new table generation (the scorer publishes about once a second), so a lookup is one map read.
 */
export class StickySessions {
  /** The worker find() found. */
  slot = -1;
  incarnation = 0;
  private generation = -1;
  private readonly byToken = new Map<string, { slot: number; incarnation: number }>();
  private readonly tokens = new BoundedCache(CACHE_MAX, stickyToken);
  private readonly lines: Record<Scheme, BoundedCache<string, string>> = {
    http: new BoundedCache(CACHE_MAX, (token) => this.line(token, 'http')),
    https: new BoundedCache(CACHE_MAX, (token) => this.line(token, 'https')),
  };

  constructor(
    readonly settings: StickySettings,
    private readonly routes: RouteTableReader,
    private readonly pools: UpstreamPools,
  ) {}

  /** Whether `token` names a worker in the current table; if so, its slot and incarnation are left in this. */
  find(token: string): boolean {
    if (this.routes.generation !== this.generation) this.index();
    const entry = this.byToken.get(token);
    if (entry === undefined) return false;
    this.slot = entry.slot;
    this.incarnation = entry.incarnation;
    return true;
  }

  tokenOf(workerId: string): string {
    return this.tokens.get(workerId);
  }

  /**
   * The Set-Cookie field line as it is appended to a response head (a CRLF, then the line), and
   * with nocache a Cache-Control line beside any the worker sent (the directives add up, and
   * private keeps shared caches from storing the response whatever else they say).
   */
  cookieLine(token: string, scheme: Scheme): string {
    return this.lines[scheme].get(token);
  }

  private line(token: string, scheme: Scheme): string {
    const cookie = `\r\nset-cookie: ${setCookieValue(this.settings, token, scheme)}`;
    return this.settings.nocache ? `${cookie}\r\ncache-control: private` : cookie;
  }

  private index(): void {
    const { generation, slots, incarnations } = this.routes.entries();
    this.byToken.clear();
    for (let i = 0; i < slots.length; i++) {
      const pool = this.pools.get(slots[i]!, incarnations[i]!);
      // A slot reassigned since the table was published: its new worker is in a newer table.
      if (pool !== undefined) this.byToken.set(this.tokenOf(pool.workerId), { slot: slots[i]!, incarnation: incarnations[i]! });
    }
    this.generation = generation;
  }
}
