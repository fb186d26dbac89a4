/**
 * Byte-level helpers for matching field names. On the request path, comparing bytes with bytes
 * measured far cheaper than charCodeAt on strings (about 50 instructions a character there).
 */

/** The bytes of an ASCII literal. */
export const asciiBytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/**
 * ASCII case-insensitive compare of buf[at, at + lower.length) with the bytes of a lowercase
 * literal of letters and '-'. OR-ing 0x20 maps only letters onto lowercase letters, and '-' onto
 * itself from '-' or CR: callers compare validated field names or values, which hold no CR.
 */
export function eqLowerBytes(buf: Uint8Array, at: number, lower: Uint8Array): boolean {
  for (let i = 0; i < lower.length; i++) if ((buf[at + i]! | 0x20) !== lower[i]) return false;
  return true;
}

/** Lowercase field names and tokens the parser and the proxy look for. */
export const TE = asciiBytes('te');
export const DATE = asciiBytes('date');
export const CLOSE = asciiBytes('close');
export const CHUNKED = asciiBytes('chunked');
export const TRAILER = asciiBytes('trailer');
export const UPGRADE = asciiBytes('upgrade');
export const CONNECTION = asciiBytes('connection');
export const KEEP_ALIVE = asciiBytes('keep-alive');
export const TIMEOUT = asciiBytes('timeout');
export const CONTENT_LENGTH = asciiBytes('content-length');
export const STRICT_TRANSPORT_SECURITY = asciiBytes('strict-transport-security');
export const PROXY_CONNECTION = asciiBytes('proxy-connection');
export const TRANSFER_ENCODING = asciiBytes('transfer-encoding');
