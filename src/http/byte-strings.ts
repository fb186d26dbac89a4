/**
 * Byte strings: a character (0-255) per byte, the form in which the ingress carries what a client
 * sent (see ingress/raw-head.ts) so that it goes on byte for byte.
 */

const NOT_ASCII = /[^\x00-\x7f]/;

export const isAscii = (s: string): boolean => !NOT_ASCII.test(s);

/** Text as the byte string of its UTF-8 encoding. */
export const utf8Bytes = (text: string): string => (isAscii(text) ? text : Buffer.from(text, 'utf8').toString('latin1'));

/** A byte string read as UTF-8 text, for people to read (bytes that are not UTF-8 become U+FFFD). */
export const bytesAsText = (bytes: string): string => (isAscii(bytes) ? bytes : Buffer.from(bytes, 'latin1').toString('utf8'));
