import { CONNECTION, CONTENT_LENGTH, DATE, KEEP_ALIVE, PROXY_CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE, eqLowerBytes } from '../http/ascii.js';
import { connectionTokens } from '../http/hop-by-hop.js';
import type { FieldLines } from '../upstream/response-parser.js';

/** Where forwarded fields go: uWS's HttpResponse. */
export interface HeaderSink {
  writeHeader(name: string, value: string | Buffer): unknown;
}

/**
 * Passes the upstream response's end-to-end fields on in a single writeHeader(name, value) call:
 * `value` holds the first kept field's value followed by every other kept line as it was received
 * ("\r\nName: value"), sliced from the parser's latin1 text of the head. Every call into uWS
 * converts its strings in C++, and byte views cost it more than strings (measured), so one call
 * per response beats one per field. This is safe only because the response parser has already
 * rejected CR, LF and other control bytes in names and values (response-parser.ts), so no field
 * can end early or smuggle a line of its own. A value with bytes above 0x7f goes as latin1 bytes,
 * since uWS would re-encode a string as UTF-8.
 *
 * Dropped: hop-by-hop fields and those a Connection field names (RFC 9110 section 7.6.1), and
 * Date and Content-Length, which uWS writes itself (framing is redone hop by hop), except that a
 * HEAD response keeps its Content-Length, which describes the GET body.
 */
export function writeForwardedFields(sink: HeaderSink, lines: FieldLines, keepContentLength: boolean): void {
  const { buf, text, base, count, pos } = lines;
  const named = lines.namesFields ? namedByConnection(lines) : undefined;
  let name: string | null = null;
  let value = '';
  for (let i = 0; i < count; i++) {
    const at = 5 * i;
    if (isDropped(buf, pos[at]!, pos[at + 1]! - pos[at]!, keepContentLength) || (named !== undefined && named.has(lines.name(i).toLowerCase()))) continue;
    const start = pos[at]! - base;
    const colon = pos[at + 1]! - base;
    if (name === null) {
      name = text.slice(start, colon);
      value = text.slice(pos[at + 2]! - base, pos[at + 3]! - base);
    } else {
      value += `\r\n${text.slice(start, pos[at + 3]! - base)}`;
    }
  }
  if (name !== null) sink.writeHeader(name, lines.nonAscii ? Buffer.from(value, 'latin1') : value);
}

/** Lowercased names listed by every Connection field. */
function namedByConnection(lines: FieldLines): Set<string> {
  const named = new Set<string>();
  for (let i = 0; i < lines.count; i++) {
    const start = lines.pos[5 * i]!;
    if (lines.pos[5 * i + 1]! - start !== 10 || !eqLowerBytes(lines.buf, start, CONNECTION)) continue;
    for (const token of connectionTokens(lines.value(i)) ?? []) named.add(token);
  }
  return named;
}


/**
 * Whether the field named buf[start, start + length) is dropped, case-insensitively. The length
 * switch spares a comparison for almost every field.
 */
function isDropped(buf: Buffer, start: number, length: number, keepContentLength: boolean): boolean {
  switch (length) {
    case 2:
      return eqLowerBytes(buf, start, TE);
    case 4:
      return eqLowerBytes(buf, start, DATE);
    case 7:
      return eqLowerBytes(buf, start, TRAILER) || eqLowerBytes(buf, start, UPGRADE);
    case 10:
      return eqLowerBytes(buf, start, CONNECTION) || eqLowerBytes(buf, start, KEEP_ALIVE);
    case 14:
      return !keepContentLength && eqLowerBytes(buf, start, CONTENT_LENGTH);
    case 16:
      return eqLowerBytes(buf, start, PROXY_CONNECTION);
    case 17:
      return eqLowerBytes(buf, start, TRANSFER_ENCODING);
    default:
      return false;
  }
}
