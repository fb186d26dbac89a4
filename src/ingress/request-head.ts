import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { connectionTokens, isHopByHop } from '../http/hop-by-hop.js';
import { addressText } from './client-address.js';
import { cookieValue } from './sticky.js';

/** The scheme a client reached the ingress by: the listener, not anything the client sent. */
export type Scheme = 'http' | 'https';

/** What the ingress learned from a client's request head, read synchronously in the handler. */
export interface ClientRequestHead {
  /** As sent, e.g. "GET". */
  method: string;
  /** Path and query as sent. */
  target: string;
  /** The client's address, as X-Forwarded-For gets it. */
  client: string;
  scheme: Scheme;
  /** The upstream request head, ready to write (request line, end-to-end fields, X-Forwarded-*). */
  upstreamHead: string;
  /** Request line plus field bytes, as counted against limits.maxHeaderBytes. */
  headerBytes: number;
  /** Declared Content-Length, -1 when absent, -2 when malformed. */
  contentLength: number;
  chunked: boolean;
  /** The sticky-session cookie's value ('' when absent, or sticky sessions are off). */
  stickyToken: string;
}

const NOT_ASCII_DIGITS = /[^0-9]/;

function parseContentLength(value: string): number {
  if (value === '' || value.length > 15 || NOT_ASCII_DIGITS.test(value)) return -2;
  return Number(value);
}

/**
 * Builds the request head the worker will see: method, path and query, every end-to-end field
 * (RFC 9110 section 7.6.1 removes hop-by-hop ones and those Connection names), and
 * X-Forwarded-For (appended to), -Proto and -Host. Expect is dropped because the ingress answers
 * 100-continue itself; a chunked body is re-framed as chunked, a sized one keeps its length.
 */
export function readRequestHead(req: HttpRequest, res: HttpResponse, scheme: Scheme, stickyCookie: string | null = null): ClientRequestHead {
  const method = req.getCaseSensitiveMethod();
  const query = req.getQuery();
  const url = req.getUrl();
  const target = query ? `${url}?${query}` : url;
  // Connection is read with the other fields, not by getHeader() first (a call into uWS per
  // request): the rare value that names more fields than itself takes a second pass.
  readFields(req, undefined, stickyCookie);
  const named = connectionTokens(f.connection);
  if (named !== undefined) readFields(req, named, stickyCookie);

  const client = addressText(res.getRemoteAddress());
  let head = `${method} ${target} HTTP/1.1\r\n${f.fields}x-forwarded-for: ${f.forwardedFor ? `${f.forwardedFor}, ${client}` : client}\r\nx-forwarded-proto: ${scheme}\r\n`;
  if (f.host) head += `x-forwarded-host: ${f.host}\r\n`;
  if (f.chunked) head += 'transfer-encoding: chunked\r\n';
  else if (f.contentLength >= 0) head += `content-length: ${f.contentLength}\r\n`;
  head += '\r\n';
  return { method, target, client, scheme, upstreamHead: head, headerBytes: method.length + target.length + 11 + f.bytes, contentLength: f.contentLength, chunked: f.chunked, stickyToken: f.stickyToken };
}

interface RequestFields {
  /** The end-to-end field lines to forward, each ending in CRLF. */
  fields: string;
  /** Name, value and framing bytes of every field line. */
  bytes: number;
  contentLength: number;
  chunked: boolean;
  forwardedFor: string;
  host: string;
  connection: string;
  /** Fields the client's Connection field named, dropped on the second pass. */
  named: Set<string> | undefined;
  /** The sticky-session cookie's name, null for none; and its value once found. */
  stickyCookie: string | null;
  stickyToken: string;
}

// forEach is synchronous, so one scratch record and one callback serve every request: no
// closure or object is allocated per request for them.
const f: RequestFields = { fields: '', bytes: 0, contentLength: -1, chunked: false, forwardedFor: '', host: '', connection: '', named: undefined, stickyCookie: null, stickyToken: '' };

function readFields(req: HttpRequest, named: Set<string> | undefined, stickyCookie: string | null): void {
  f.fields = '';
  f.bytes = 0;
  f.contentLength = -1;
  f.chunked = false;
  f.forwardedFor = '';
  f.host = '';
  f.connection = '';
  f.named = named;
  f.stickyCookie = stickyCookie;
  f.stickyToken = '';
  req.forEach(readField);
}

function readField(name: string, value: string): void {
  f.bytes += name.length + value.length + 4;
  switch (name) {
    case 'content-length':
      f.contentLength = f.contentLength === -1 || f.contentLength === parseContentLength(value) ? parseContentLength(value) : -2;
      return;
    case 'transfer-encoding':
      f.chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      return;
    case 'x-forwarded-for':
      f.forwardedFor = f.forwardedFor ? `${f.forwardedFor}, ${value}` : value;
      return;
    case 'x-forwarded-proto':
    case 'x-forwarded-host':
    case 'expect':
      return;
    case 'connection':
      f.connection = f.connection ? `${f.connection}, ${value}` : value;
      return;
    case 'host':
      f.host = value;
      break;
    case 'cookie':
      // Forwarded as sent: the worker may read it too (and other cookies share the field).
      if (f.stickyCookie !== null && f.stickyToken === '') f.stickyToken = cookieValue(value, f.stickyCookie);
      break;
  }
  if (isHopByHop(name) || f.named?.has(name)) return;
  f.fields += `${name}: ${value}\r\n`;
}
