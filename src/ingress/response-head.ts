import { connectionTokens } from '../http/hop-by-hop.js';

/**
 * The upstream response fields the ingress passes on, as one field line for a single uWS
 * writeHeader(name, value) call: `value` holds the first field's value followed by every other
 * field as "\r\nName: value": one call into uWS per response instead of one per field (each
 * call converts its strings in C++), and no toLowerCase() for most names. This is safe only because the response parser
 * has already rejected CR, LF and other control bytes in names and values (response-parser.ts),
 * so no field can end early or smuggle a line of its own.
 *
 * Dropped: hop-by-hop fields and those the Connection field names (RFC 9110 section 7.6.1), and
 * Date and Content-Length, which uWS writes itself (framing is redone hop by hop), except that a
 * HEAD response keeps its Content-Length, which describes the GET body.
 */
export interface ResponseFieldBlock {
  name: string;
  /** Latin1 text, or its bytes when a value is not ASCII (uWS would re-encode a string as UTF-8). */
  value: string | Buffer;
}

const NON_ASCII = /[^\x00-\x7f]/;

/** `headers` is the parser's flat [name, value, ...] list, names as received. */
export function forwardedResponseFields(headers: readonly string[], keepContentLength: boolean): ResponseFieldBlock | null {
  let named: Set<string> | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length === 10 && headers[i]!.toLowerCase() === 'connection') named = connectionTokens(headers[i + 1]!);
  }
  let first: string | null = null;
  let value = '';
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (isDropped(name, keepContentLength) || (named !== undefined && named.has(name.toLowerCase()))) continue;
    if (first === null) {
      first = name;
      value = headers[i + 1]!;
    } else {
      value += `\r\n${name}: ${headers[i + 1]!}`;
    }
  }
  if (first === null) return null;
  return { name: first, value: NON_ASCII.test(value) ? Buffer.from(value, 'latin1') : value };
}

/** Case-insensitive; the length switch spares a toLowerCase() for almost every field. */
function isDropped(name: string, keepContentLength: boolean): boolean {
  switch (name.length) {
    case 2:
      return name.toLowerCase() === 'te';
    case 4:
      return name.toLowerCase() === 'date';
    case 7: {
      const lower = name.toLowerCase();
      return lower === 'trailer' || lower === 'upgrade';
    }
    case 10: {
      const lower = name.toLowerCase();
      return lower === 'connection' || lower === 'keep-alive';
    }
    case 14:
      return !keepContentLength && name.toLowerCase() === 'content-length';
    case 16:
      return name.toLowerCase() === 'proxy-connection';
    case 17:
      return name.toLowerCase() === 'transfer-encoding';
    default:
      return false;
  }
}
