import type { HstsSettings } from './tls-files.js';
import type { Scheme } from './request-head.js';

/** The Strict-Transport-Security field an ingress thread adds to its HTTPS responses. */
export interface Hsts {
  /** The field value, e.g. "max-age=31536000; includeSubDomains". */
  readonly value: string;
  /** The field line as forwardedHead appends it to a response head (a CRLF, then the line). */
  readonly line: Buffer;
}

export function hsts(settings: HstsSettings): Hsts {
  let value = `max-age=${settings.maxAgeS}`;
  if (settings.includeSubDomains) value += '; includeSubDomains';
  if (settings.preload) value += '; preload';
  return { value, line: Buffer.from(`\r\nstrict-transport-security: ${value}`, 'latin1') };
}

/**
 * The extra fields of a response the ingress writes itself: RFC 6797 section 7.2 has the field
 * sent over secure transport only, so a plain HTTP response never gets it.
 */
export function ownResponseFields(field: Hsts | null, scheme: Scheme, extra?: Record<string, string>): Record<string, string> | undefined {
  if (field === null || scheme !== 'https') return extra;
  return { ...extra, 'strict-transport-security': field.value };
}
