import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { connectionTokens, isHopByHop } from '../http/hop-by-hop.js';

/** What the ingress learned from a client's request head, read synchronously in the handler. */
export interface ClientRequestHead {
  /** As sent, e.g. "GET". */
  method: string;
  /** The upstream request head, ready to write (request line, end-to-end fields, X-Forwarded-*). */
  upstreamHead: string;
  /** Request line plus field bytes, as counted against limits.maxHeaderBytes. */
  headerBytes: number;
  /** Declared Content-Length, -1 when absent, -2 when malformed. */
  contentLength: number;
  chunked: boolean;
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
export function readRequestHead(req: HttpRequest, res: HttpResponse): ClientRequestHead {
  const method = req.getCaseSensitiveMethod();
  const query = req.getQuery();
  const url = req.getUrl();
  const target = query ? `${url}?${query}` : url;
  const connection = req.getHeader('connection');
  const named = connectionTokens(connection);

  let head = `${method} ${target} HTTP/1.1\r\n`;
  let headerBytes = method.length + target.length + 11;
  let contentLength = -1;
  let chunked = false;
  let forwardedFor = '';
  let host = '';
  req.forEach((name, value) => {
    headerBytes += name.length + value.length + 4;
    switch (name) {
      case 'content-length':
        contentLength = contentLength === -1 || contentLength === parseContentLength(value) ? parseContentLength(value) : -2;
        return;
      case 'transfer-encoding':
        chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
        return;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor ? `${forwardedFor}, ${value}` : value;
        return;
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
      case 'expect':
        return;
      case 'host':
        host = value;
        break;
    }
    if (isHopByHop(name) || named?.has(name)) return;
    head += `${name}: ${value}\r\n`;
  });
  // An address is at most 39 ASCII bytes: decoding them directly skips a Buffer per request.
  const client = String.fromCharCode.apply(null, new Uint8Array(res.getRemoteAddressAsText()) as unknown as number[]);
  head += `x-forwarded-for: ${forwardedFor ? `${forwardedFor}, ${client}` : client}\r\nx-forwarded-proto: http\r\n`;
  if (host) head += `x-forwarded-host: ${host}\r\n`;
  if (chunked) head += 'transfer-encoding: chunked\r\n';
  else if (contentLength >= 0) head += `content-length: ${contentLength}\r\n`;
  head += '\r\n';
  return { method, upstreamHead: head, headerBytes, contentLength, chunked };
}
