import { asciiBytes } from '../http/ascii.js';
import { NO_RULES, responseLines, type HeaderRules } from './header-rules.js';
import type { Hsts } from './hsts.js';
import type { ClientRequestHead, Scheme } from './request-head.js';
import type { StickySessions } from './sticky.js';

/**
 * The fields the ingress itself puts in responses, one object per thread: Strict-Transport-
 * Security (over HTTPS only, RFC 6797 section 7.2), the request id (requestId.inResponse), the
 * sticky-session cookie, and the fields `headers.response` sets. All but the cookie replace a
 * worker's fields of the same names, as HAProxy's `set-header` and Envoy's
 * response_headers_to_add do; the cookie goes beside the worker's own cookies. The ingress's own
 * answers (4xx, 5xx, 308) get them too, as with HAProxy's `http-after-response`: a security field
 * such as X-Frame-Options belongs on every response. Not the cookie (no worker answered), nor a
 * Content-Type the rules set, since the body of those answers is the ingress's plain text.
 */
const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

export class ResponseFields {
  /** Lowercase names of the worker's fields that ours replace, for each scheme. */
  private readonly replacedHttp: readonly Uint8Array[];
  private readonly replacedHttps: readonly Uint8Array[];
  private readonly replacedNamesHttp: ReadonlySet<string>;
  private readonly replacedNamesHttps: ReadonlySet<string>;
  /** The rules' set fields as lines; over HTTPS without a Strict-Transport-Security they set, tls.hsts's being the one. */
  private readonly ruleLinesHttp: string;
  private readonly ruleLinesHttps: string;
  /** The rules' set fields for the ingress's own answers, likewise by scheme. */
  private readonly ownRulesHttp: Readonly<Record<string, string>>;
  private readonly ownRulesHttps: Readonly<Record<string, string>>;
  /** The same with a Content-Type the rules set, for a worker's answer relayed whole (relayed()). */
  private readonly relayRulesHttp: Readonly<Record<string, string>>;
  private readonly relayRulesHttps: Readonly<Record<string, string>>;

  constructor(
    private readonly hsts: Hsts | null,
    /** The request id field's name (lowercase) when it goes back to the client; null for not. */
    private readonly requestIdHeader: string | null,
    private readonly sticky: StickySessions | null,
    rules: HeaderRules = NO_RULES,
  ) {
    const names = new Set(rules.dropped);
    if (requestIdHeader !== null) names.add(requestIdHeader);
    this.replacedNamesHttp = new Set(names);
    this.replacedHttp = [...names].map(asciiBytes);
    if (hsts !== null) names.add('strict-transport-security');
    this.replacedNamesHttps = names;
    this.replacedHttps = [...names].map(asciiBytes);
    const httpsRules = hsts === null ? rules : { ...rules, set: rules.set.filter(([name]) => name !== 'strict-transport-security') };
    this.ruleLinesHttp = responseLines(rules);
    this.ruleLinesHttps = responseLines(httpsRules);
    const asFields = (set: HeaderRules['set']): Readonly<Record<string, string>> => (set.length === 0 ? EMPTY : Object.fromEntries(set));
    const ownFields = (r: HeaderRules): Readonly<Record<string, string>> => asFields(r.set.filter(([name]) => name !== 'content-type'));
    this.ownRulesHttp = ownFields(rules);
    this.ownRulesHttps = ownFields(httpsRules);
    this.relayRulesHttp = asFields(rules.set);
    this.relayRulesHttps = asFields(httpsRules.set);
  }

  /** The worker's fields a proxied response drops (see forwardedHead). */
  replaced(scheme: Scheme): readonly Uint8Array[] {
    return scheme === 'https' ? this.replacedHttps : this.replacedHttp;
  }

  /** Whether a worker's field (lowercase name) is one a proxied response drops for ours, as replaced() by name. */
  replaces(scheme: Scheme, name: string): boolean {
    return (scheme === 'https' ? this.replacedNamesHttps : this.replacedNamesHttp).has(name);
  }

  /**
   * The lines a proxied response head gets, each after a CRLF ('' for none). `workerToken` is
   * the sticky token of the worker that answered.
   */
  proxied(request: ClientRequestHead, workerToken: string): string {
    const https = request.scheme === 'https';
    let lines = https ? this.ruleLinesHttps : this.ruleLinesHttp;
    if (this.hsts !== null && https) lines += this.hsts.line;
    if (this.requestIdHeader !== null) lines += `\r\n${this.requestIdHeader}: ${request.requestId}`;
    // A client whose cookie did not name this worker (none, a stale one, or a retry moved it) is pinned to it now.
    if (this.sticky !== null && workerToken !== request.stickyToken) lines += this.sticky.cookieLine(workerToken, request.scheme);
    return lines;
  }

  /**
   * The extra fields of a response the ingress writes itself: the rules' first, so that what the
   * answer needs (`extra`: Retry-After, Location), HSTS and the request id win.
   */
  own(scheme: Scheme, requestId: string, extra?: Record<string, string>): Record<string, string> | undefined {
    return this.fields(scheme === 'https' ? this.ownRulesHttps : this.ownRulesHttp, scheme, requestId, extra);
  }

  /**
   * The extra fields of a worker's answer the ingress relays whole (a refused WebSocket upgrade,
   * whose worker fields replaces() drops): as own(), but with a Content-Type the rules set, since
   * the body is the worker's, as on any proxied response.
   */
  relayed(scheme: Scheme, requestId: string): Record<string, string> | undefined {
    return this.fields(scheme === 'https' ? this.relayRulesHttps : this.relayRulesHttp, scheme, requestId);
  }

  private fields(rules: Readonly<Record<string, string>>, scheme: Scheme, requestId: string, extra?: Record<string, string>): Record<string, string> | undefined {
    const withHsts = this.hsts !== null && scheme === 'https';
    const withId = this.requestIdHeader !== null && requestId !== '';
    if (!withHsts && !withId && rules === EMPTY) return extra;
    const fields = { ...rules, ...extra };
    if (withHsts) fields['strict-transport-security'] = this.hsts!.value;
    if (withId) fields[this.requestIdHeader!] = requestId;
    return fields;
  }
}
