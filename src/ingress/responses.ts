import type { HttpResponse } from 'uWebSockets.js';
import { isAscii } from '../http/byte-strings.js';

/** Statuses the ingress answers by itself, with a short plain-text reason. */
export const STATUS_TEXT: Record<number, string> = {
  308: '308 Permanent Redirect',
  400: '400 Bad Request',
  403: '403 Forbidden',
  413: '413 Content Too Large',
  429: '429 Too Many Requests',
  431: '431 Request Header Fields Too Large',
  502: '502 Bad Gateway',
  503: '503 Service Unavailable',
  504: '504 Gateway Timeout',
};

/**
 * Ends a response the ingress generates itself. `close` drops the client connection, needed
 * whenever an unread request body would otherwise be parsed as the next request; uWS then writes
 * `Connection: close` (RFC 9112 section 9.6), except where it closes after this request by itself
 * (`uwsCloses`, see ClientRequestHead), when it closes without a word and this writes the field. Header values
 * are byte strings (a redirect's Location holds the target as received, see raw-head.ts): uWS
 * would encode a string as UTF-8, so one with bytes above 0x7f goes as those bytes.
 */
export function sendError(res: HttpResponse, status: number, message: string, close: boolean, extraHeaders?: Record<string, string>, uwsCloses = false): void {
  res.cork(() => {
    res.writeStatus(STATUS_TEXT[status] ?? `${status} Error`);
    res.writeHeader('content-type', 'text/plain; charset=utf-8');
    if (extraHeaders) for (const [name, value] of Object.entries(extraHeaders)) res.writeHeader(name, isAscii(value) ? value : Buffer.from(value, 'latin1'));
    if (uwsCloses) res.writeHeader('connection', 'close');
    res.end(`${message}\n`, close || uwsCloses);
  });
}
