import type { HstsSettings } from './tls-files.js';

/** The Strict-Transport-Security field an ingress thread adds to its HTTPS responses. */
export interface Hsts {
  /** The field value, e.g. "max-age=31536000; includeSubDomains". */
  readonly value: string;
  /** The field line as it is appended to a response head (a CRLF, then the line). */
  readonly line: string;
}

export function hsts(settings: HstsSettings): Hsts {
  let value = `max-age=${settings.maxAgeS}`;
  if (settings.includeSubDomains) value += '; includeSubDomains';
  if (settings.preload) value += '; preload';
  return { value, line: `\r\nstrict-transport-security: ${value}` };
}
