/** A host name, an IPv4 address or a bracketed IPv6 literal, then an optional port (RFC 9110 section 7.2). */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * Where a plain-HTTP request is sent when tls.redirectHttp is on: the same host and target over
 * HTTPS, at the TLS port (left out when it is 443). Null when the Host field is missing or is not
 * a host: a Location built from it could point anywhere, so the caller answers 400 instead.
 */
export function httpsLocation(host: string, target: string, tlsPort: number): string | null {
  if (!HOST.test(host) || !target.startsWith('/')) return null;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return `https://${name}${tlsPort === 443 ? '' : `:${tlsPort}`}${target}`;
}
