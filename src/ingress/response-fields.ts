import { STRICT_TRANSPORT_SECURITY, asciiBytes } from '../http/ascii.js';
import type { Hsts } from './hsts.js';
import type { ClientRequestHead, Scheme } from './request-head.js';
import type { StickySessions } from './sticky.js';

/**
 * The fields the ingress itself puts in responses, one object per thread: Strict-Transport-
 * Security (over HTTPS only, RFC 6797 section 7.2), the request id (requestId.inResponse), and
 * the sticky-session cookie. The first two replace a worker's fields of those names, as Envoy and
 * HAProxy's `set-header` do; the cookie goes beside the worker's own cookies.
 */
export class ResponseFields {
  /** Lowercase names of the worker's fields that ours replace, for each scheme. */
  private readonly replacedHttp: readonly Uint8Array[];
  private readonly replacedHttps: readonly Uint8Array[];

  constructor(
    private readonly hsts: Hsts | null,
    /** The request id field's name (lowercase) when it goes back to the client; null for not. */
    private readonly requestIdHeader: string | null,
    private readonly sticky: StickySessions | null,
  ) {
    const requestId = requestIdHeader === null ? [] : [asciiBytes(requestIdHeader)];
    this.replacedHttp = requestId;
    this.replacedHttps = hsts === null ? requestId : [STRICT_TRANSPORT_SECURITY, ...requestId];
  }

  /** The worker's fields a proxied response drops (see forwardedHead). */
  replaced(scheme: Scheme): readonly Uint8Array[] {
    return scheme === 'https' ? this.replacedHttps : this.replacedHttp;
  }

  /**
   * The lines a proxied response head gets, each after a CRLF ('' for none). `workerToken` is
   * the sticky token of the worker that answered.
   */
  proxied(request: ClientRequestHead, workerToken: string): string {
    let lines = '';
    if (this.hsts !== null && request.scheme === 'https') lines += this.hsts.line;
    if (this.requestIdHeader !== null) lines += `\r\n${this.requestIdHeader}: ${request.requestId}`;
    // A client whose cookie did not name this worker (none, a stale one, or a retry moved it) is pinned to it now.
    if (this.sticky !== null && workerToken !== request.stickyToken) lines += this.sticky.cookieLine(workerToken, request.scheme);
    return lines;
  }

  /** The extra fields of a response the ingress writes itself (no cookie: no worker answered). */
  own(scheme: Scheme, requestId: string, extra?: Record<string, string>): Record<string, string> | undefined {
    const withHsts = this.hsts !== null && scheme === 'https';
    const withId = this.requestIdHeader !== null && requestId !== '';
    if (!withHsts && !withId) return extra;
    const fields = { ...extra };
    if (withHsts) fields['strict-transport-security'] = this.hsts!.value;
    if (withId) fields[this.requestIdHeader!] = requestId;
    return fields;
  }
}
