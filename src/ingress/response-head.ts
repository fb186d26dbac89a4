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
  const { text, base, count, pos } = lines;
  const named = lines.namesFields ? namedByConnection(lines) : undefined;
  let name: string | null = null;
  let value = '';
  for (let i = 0; i < count; i++) {
    const at = 5 * i;
    const start = pos[at]! - base;
    const colon = pos[at + 1]! - base;
    if (isDropped(text, start, colon, keepContentLength) || (named !== undefined && named.has(text.slice(start, colon).toLowerCase()))) continue;
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
    const start = lines.pos[5 * i]! - lines.base;
    if (lines.pos[5 * i + 1]! - lines.base - start !== 10 || !eqLower(lines.text, start, 'connection')) continue;
    for (const token of connectionTokens(lines.value(i)) ?? []) named.add(token);
  }
  return named;
}

/** Case-insensitive; the length switch spares a comparison for almost every field. */
function isDropped(text: string, start: number, colon: number, keepContentLength: boolean): boolean {
  switch (colon - start) {
    case 2:
      return eqLower(text, start, 'te');
    case 4:
      return eqLower(text, start, 'date');
    case 7:
      return eqLower(text, start, 'trailer') || eqLower(text, start, 'upgrade');
    case 10:
      return eqLower(text, start, 'connection') || eqLower(text, start, 'keep-alive');
    case 14:
      return !keepContentLength && eqLower(text, start, 'content-length');
    case 16:
      return eqLower(text, start, 'proxy-connection');
    case 17:
      return eqLower(text, start, 'transfer-encoding');
    default:
      return false;
  }
}

/**
 * ASCII case-insensitive compare with a lowercase literal of letters and '-'. OR-ing 0x20 maps
 * only letters onto lowercase letters, and '-' onto itself from '-' or CR, which a validated
 * field name cannot hold.
 */
function eqLower(text: string, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if ((text.charCodeAt(at + i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}
