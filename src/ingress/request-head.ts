import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { connectionTokens, hasCloseOption, isHopByHop } from '../http/hop-by-hop.js';
import { clientAddress } from './client-address.js';
import { NO_RULES, type HeaderRules } from './header-rules.js';
import { readHead, requestLine } from './raw-head.js';
import { cookieValue } from './sticky.js';
import { forwarding, isForwardingField, trustedPeer, type TrustedProxies } from './trusted-proxies.js';

/** The scheme a client reached the ingress by: the listener, not anything the client sent. */
export type Scheme = 'http' | 'https';

/** What the ingress learned from a client's request head, read synchronously in the handler. */
export interface ClientRequestHead {
  /** As sent, e.g. "GET". */
  method: string;
  /** Path and query as sent, a byte string (see raw-head.ts). */
  target: string;
  /** The client's address: the socket's, or behind trusted proxies the one they forwarded. */
  client: string;
  scheme: Scheme;
  /** The upstream request head, ready to write (request line, end-to-end fields, X-Forwarded-*), a byte string. */
  upstreamHead: string;
  /** Request line plus field bytes, as counted against limits.maxHeaderBytes. */
  headerBytes: number;
  /** Declared Content-Length, -1 when absent, -2 when malformed. */
  contentLength: number;
  chunked: boolean;
  /**
   * The connection ends after this response: the client's Connection field holds close (RFC 9112
   * section 9.6), or uWS will close it anyway (uwsCloses). The response says close.
   */
  closes: boolean;
  /**
   * uWS.js 20.30 closes the connection after this response by itself, without saying so: it does
   * for a request whose first Connection field has a 5-character value (`close`, but also
   * `xyzzy`), and for no other. Where `closes` holds without this, the ingress closes it.
   */
  uwsCloses: boolean;
  /** Why the head is refused with 400 (framing or Host the worker could read otherwise, a control byte in a field value); '' when it is not. */
  invalid: string;
  /** The sticky-session cookie's value ('' when absent, or sticky sessions are off). */
  stickyToken: string;
  /** The request's id as the worker gets it ('' when request ids are off). */
  requestId: string;
}

/** What one thread's requests are read for, beyond what every request gets; one object per thread. */
export interface HeadOptions {
  /** The sticky-session cookie's name; null when sticky sessions are off. */
  readonly stickyCookie: string | null;
  /** The request id field's name, lowercase; null when request ids are off. */
  readonly requestIdHeader: string | null;
  /** Keep a valid id the client sent; otherwise every request gets a new one. */
  readonly keepIncomingRequestId: boolean;
  /** Peers whose X-Forwarded-* stand; null for none. */
  readonly trustedProxies: TrustedProxies | null;
  /** headers.request, and its set fields as lines (each ending in CRLF). */
  readonly rules: HeaderRules;
  readonly setLines: string;
}

export const PLAIN_HEAD: HeadOptions = { stickyCookie: null, requestIdHeader: null, keepIncomingRequestId: false, trustedProxies: null, rules: NO_RULES, setLines: '' };

/**
 * An id kept as the client sent it (Heroku's router keeps a similar alphabet): UUIDs, ULIDs and
 * trace ids fit, and nothing that could break a header line or a JSON string does.
 */
const KEEPABLE_ID = /^[A-Za-z0-9._:+/=-]{1,200}$/;

/** The id a request goes on with: the client's (`incoming`, '' for none) if kept, else a new UUID (v4, as Envoy's). */
export function requestIdFor(incoming: string, options: HeadOptions): string {
  return options.keepIncomingRequestId && KEEPABLE_ID.test(incoming) ? incoming : randomUUID();
}

const NOT_ASCII_DIGITS = /[^0-9]/;

function parseContentLength(value: string): number {
  if (value === '' || value.length > 15 || NOT_ASCII_DIGITS.test(value)) return -2;
  return Number(value);
}

/**
 * Builds the request head the worker will see, from the bytes the client sent (raw-head.ts):
 * method, path and query, every end-to-end field
 * (RFC 9110 section 7.6.1 removes hop-by-hop ones and those Connection names), and
 * X-Forwarded-For (appended to), -Proto and -Host (see forwarding()); other forwarding fields
 * only from a trusted proxy (isForwardingField). Expect is dropped because
 * the ingress answers 100-continue itself; a chunked body is re-framed as chunked, a sized one
 * keeps its length.
 * With request ids on, the id field is the client's (if kept) or a new one (requestIdFor); the
 * headers.request rules drop and set fields.
 */
export function readRequestHead(req: HttpRequest, res: HttpResponse, scheme: Scheme, options: HeadOptions = PLAIN_HEAD): ClientRequestHead {
  // Connection is read with the other fields, not by getHeader() first (a call into uWS per
  // request): the rare value that names more fields than itself takes a second pass.
  const peer = clientAddress(res);
  const trusted = trustedPeer(options.trustedProxies, peer);
  readFields(req, undefined, options, trusted !== null);
  const named = connectionTokens(f.connection);
  if (named !== undefined) readFields(req, named, options, trusted !== null);
  const { method, target } = requestLine;

  const fwd = forwarding(trusted, peer, scheme, f.forwardedFor, f.forwardedProto, f.forwardedHost, f.host);
  let head = `${method} ${target} HTTP/1.1\r\n${f.fields}${options.setLines}x-forwarded-for: ${fwd.forwardedFor}\r\nx-forwarded-proto: ${fwd.proto}\r\n`;
  if (fwd.host) head += `x-forwarded-host: ${fwd.host}\r\n`;
  let requestId = '';
  if (options.requestIdHeader !== null) {
    requestId = requestIdFor(f.requestId, options);
    head += `${options.requestIdHeader}: ${requestId}\r\n`;
  }
  if (f.chunked) head += 'transfer-encoding: chunked\r\n';
  else if (f.contentLength >= 0) head += `content-length: ${f.contentLength}\r\n`;
  head += '\r\n';
  return { method, target, client: fwd.client, scheme, upstreamHead: head, headerBytes: method.length + target.length + 11 + f.bytes, contentLength: f.contentLength, chunked: f.chunked, closes: f.uwsCloses || hasCloseOption(f.connection), uwsCloses: f.uwsCloses, invalid: invalidHead(), stickyToken: f.stickyToken, requestId };
}

const CHUNKED_ONLY = /^[ \t]*chunked[ \t]*$/i;

/**
 * RFC 9112: a request whose last transfer coding is not chunked has no length the ingress can
 * frame (section 6.3), and one with more than one Host field has no single target host
 * (section 3.2); both get 400. uWS reads any Transfer-Encoding as chunked, and the ingress
 * re-frames the body as plain chunked, so any other coding (gzip, say) would reach the worker
 * unannounced: only chunked alone passes, as HAProxy allows.
 */
function invalidHead(): string {
  if (f.refused !== '') return f.refused;
  if (f.transferEncoding !== '' && !CHUNKED_ONLY.test(f.transferEncoding)) return `unsupported Transfer-Encoding "${f.transferEncoding}" (only chunked)`;
  if (f.hosts > 1) return 'more than one Host field';
  return '';
}

interface RequestFields {
  /** Why readHead refused the head ('' when it did not). */
  refused: string;
  /** The end-to-end field lines to forward, each ending in CRLF. */
  fields: string;
  /** Name, value and framing bytes of every field line. */
  bytes: number;
  contentLength: number;
  chunked: boolean;
  forwardedFor: string;
  /** X-Forwarded-Proto and -Host as received: they stand only if the peer is a trusted proxy. */
  forwardedProto: string;
  forwardedHost: string;
  host: string;
  /** Host fields seen. */
  hosts: number;
  /** Every Transfer-Encoding field's value, joined. */
  transferEncoding: string;
  connection: string;
  /** The first Connection field's value has 5 characters (see ClientRequestHead.uwsCloses). */
  uwsCloses: boolean;
  /** Connection fields seen. */
  connections: number;
  /** Fields the client's Connection field named, dropped on the second pass. */
  named: Set<string> | undefined;
  /** The thread's, for this request. */
  options: HeadOptions;
  /** The peer is a trusted proxy: its forwarding fields stand (isForwardingField). */
  trusted: boolean;
  /** The sticky-session cookie's value once found. */
  stickyToken: string;
  /** The request id the client sent, if any. */
  requestId: string;
}

// forEach is synchronous, so one scratch record and one callback serve every request: no
// closure or object is allocated per request for them.
const f: RequestFields = { refused: '', fields: '', bytes: 0, contentLength: -1, chunked: false, forwardedFor: '', forwardedProto: '', forwardedHost: '', host: '', hosts: 0, transferEncoding: '', connection: '', uwsCloses: false, connections: 0, named: undefined, options: PLAIN_HEAD, trusted: false, stickyToken: '', requestId: '' };

function readFields(req: HttpRequest, named: Set<string> | undefined, options: HeadOptions, trusted: boolean): void {
  f.fields = '';
  f.bytes = 0;
  f.contentLength = -1;
  f.chunked = false;
  f.forwardedFor = '';
  f.forwardedProto = '';
  f.forwardedHost = '';
  f.host = '';
  f.hosts = 0;
  f.transferEncoding = '';
  f.connection = '';
  f.uwsCloses = false;
  f.connections = 0;
  f.named = named;
  f.options = options;
  f.trusted = trusted;
  f.stickyToken = '';
  f.requestId = '';
  f.refused = readHead(req, readField);
}

function readField(name: string, value: string): void {
  f.bytes += name.length + value.length + 4;
  if (name === f.options.requestIdHeader) {
    // Replaced by the id the worker gets (the client's first, if kept).
    if (f.requestId === '') f.requestId = value;
    return;
  }
  switch (name) {
    case 'content-length':
      f.contentLength = f.contentLength === -1 || f.contentLength === parseContentLength(value) ? parseContentLength(value) : -2;
      return;
    case 'transfer-encoding':
      // Whatever the codings, uWS reads a chunked body; invalidHead() refuses any but chunked.
      f.transferEncoding = f.transferEncoding ? `${f.transferEncoding}, ${value}` : value;
      f.chunked = true;
      return;
    case 'x-forwarded-for':
      f.forwardedFor = f.forwardedFor ? `${f.forwardedFor}, ${value}` : value;
      return;
    case 'x-forwarded-proto':
      f.forwardedProto = value;
      return;
    case 'x-forwarded-host':
      f.forwardedHost = value;
      return;
    case 'expect':
      return;
    case 'connection':
      if (f.connections++ === 0) f.uwsCloses = value.length === 5;
      f.connection = f.connection ? `${f.connection}, ${value}` : value;
      return;
    case 'host':
      f.host = value;
      f.hosts++;
      // Kept even if Connection names it: a request without Host is one the worker must refuse.
      f.fields += `host: ${value}\r\n`;
      return;
    case 'cookie':
      // Forwarded as sent: the worker may read it too (and other cookies share the field).
      if (f.options.stickyCookie !== null && f.stickyToken === '') f.stickyToken = cookieValue(value, f.options.stickyCookie);
      break;
  }
  if (isHopByHop(name) || f.named?.has(name) || (f.options.rules.dropped.size > 0 && f.options.rules.dropped.has(name)) || (!f.trusted && isForwardingField(name))) return;
  f.fields += `${name}: ${value}\r\n`;
}
