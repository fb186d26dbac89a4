import { CONNECTION, CONTENT_LENGTH, DATE, KEEP_ALIVE, PROXY_CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE, eqLowerBytes } from '../http/ascii.js';
import { connectionTokens } from '../http/hop-by-hop.js';
import type { FieldLines } from '../upstream/response-parser.js';

/** Length of "HTTP/1.x ", which uWS writes itself. */
const VERSION_PREFIX = 9;

/**
 * The upstream response's status line and end-to-end fields as one argument for uWS's
 * writeStatus(), which writes "HTTP/1.1 " + it + CRLF: the status code and reason, then every
 * kept field line as received, CRLF-separated, copied from the read buffer in runs of adjacent
 * kept lines. One call per response beats a writeStatus plus a writeHeader per field, and bytes
 * beat a string, which uWS would have to flatten and encode as UTF-8 (both measured). This is safe
 * only because the response parser has already rejected CR, LF and other control bytes in the
 * reason phrase, names and values (response-parser.ts), so no line can end early or smuggle a
 * line of its own. Bytes above 0x7f pass as received.
 *
 * Dropped: hop-by-hop fields and those a Connection field names (RFC 9110 section 7.6.1), and
 * Date and Content-Length, which uWS writes itself (framing is redone hop by hop), except that a
 * HEAD response keeps its Content-Length, which describes the GET body. The ingress's own fields
 * (see response-fields.ts) go last: `appended` holds their lines, each after a CRLF, and the
 * worker's fields named in `replaced` (lowercase) are dropped.
 *
 * The result is a view of a buffer the next call reuses: uWS copies it at once.
 */
export function forwardedHead(lines: FieldLines, keepContentLength: boolean, replaced: readonly Uint8Array[] = [], appended = ''): Buffer {
  const { buf, count, pos } = lines;
  const named = lines.namesFields ? namedByConnection(lines) : undefined;
  // What is kept is never longer than the head it comes from, plus the appended lines (and a SP).
  const bound = (count === 0 ? lines.statusEnd : pos[5 * count - 1]!) - lines.start + appended.length + 1;
  if (scratch.length < bound) {
    scratch = Buffer.allocUnsafe(Math.max(bound, 2 * scratch.length));
    view = scratch.subarray(0, 0);
  }
  let out = 0;
  let runStart = lines.start + VERSION_PREFIX;
  if (lines.statusEnd === runStart + 3) {
    // "HTTP/1.1 204" with no reason, which the parser takes (as llhttp does): the SP before the
    // empty reason is not optional for a sender (RFC 9112 section 4).
    out = copy(buf, runStart, lines.statusEnd, out);
    scratch[out++] = 0x20;
    runStart = lines.statusEnd;
  }
  let runEnd = lines.statusEnd;
  let last = -1; // the last kept line; -1 is the status line
  for (let i = 0; i < count; i++) {
    const at = 5 * i;
    const nameLength = pos[at + 1]! - pos[at]!;
    if (isDropped(buf, pos[at]!, nameLength, keepContentLength) || (named !== undefined && named.has(lines.name(i).toLowerCase()))) continue;
    if (replaced.length > 0 && isReplaced(buf, pos[at]!, nameLength, replaced)) continue;
    if (last !== i - 1) {
      out = copy(buf, runStart, runEnd, out);
      runStart = pos[at]! - 2; // from the CRLF before the line
    }
    runEnd = pos[at + 3]!;
    last = i;
  }
  out = copy(buf, runStart, runEnd, out);
  // latin1: the lines are ASCII (their values are checked or made so), one byte per character as the bound counts.
  if (appended !== '') out += scratch.write(appended, out, 'latin1');
  // A worker's heads are mostly the same length: the last view is reused rather than made anew.
  if (view.length !== out) view = scratch.subarray(0, out);
  return view;
}

let scratch = Buffer.allocUnsafe(4096);
let view: Buffer = scratch.subarray(0, 0);

/**
 * Copies buf[from, to) to scratch[at..]; returns the end. Runs are a few dozen bytes: a loop is
 * cheaper than Buffer.copy's view and native call for them.
 */
function copy(buf: Buffer, from: number, to: number, at: number): number {
  if (to - from > 256) return at + buf.copy(scratch, at, from, to);
  const out = scratch;
  for (let i = from; i < to; i++) out[at++] = buf[i]!;
  return at;
}

function isReplaced(buf: Buffer, start: number, length: number, replaced: readonly Uint8Array[]): boolean {
  for (const name of replaced) if (name.length === length && eqLowerBytes(buf, start, name)) return true;
  return false;
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
