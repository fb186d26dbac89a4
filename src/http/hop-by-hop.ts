/**
 * Hop-by-hop fields (RFC 9110 section 7.6.1): they describe one connection, so a proxy removes
 * them, plus every field the Connection header names.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName);
}

/**
 * The lowercased field names listed in a Connection header value, or undefined when it names
 * none beyond the hop-by-hop ones (the usual "keep-alive" or "close", checked without allocating).
 */
export function connectionTokens(value: string): Set<string> | undefined {
  if (value === '' || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return undefined;
  const names = new Set<string>();
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '') names.add(token);
  }
  return names;
}

/**
 * Whether a Connection value (its fields joined with ", ") holds the close option, in any case
 * and among any others (`TE, close`): the connection ends after this exchange (RFC 9112 section
 * 9.6).
 */
export function hasCloseOption(value: string): boolean {
  return value !== '' && CLOSE_OPTION.test(value);
}
const CLOSE_OPTION = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i;

/** Methods a client may repeat without a different outcome (RFC 9110 section 9.2.2). */
export function isIdempotent(upperMethod: string): boolean {
  switch (upperMethod) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'TRACE':
    case 'PUT':
    case 'DELETE':
      return true;
    default:
      return false;
  }
}
