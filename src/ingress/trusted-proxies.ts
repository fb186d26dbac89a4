import { isIP } from 'node:net';
import { AddressSet } from './address-set.js';

const BRACKETED = /^\[([^\]]+)\](?::\d{1,5})?$/;
const IPV4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;

/**
 * The address in an X-Forwarded-For hop: as it is, or without the port or brackets some proxies
 * add ("203.0.113.7:5678", "[2001:db8::1]:443"); '' when it is none ("unknown", an obfuscated id).
 */
export function hopAddress(hop: string): string {
  if (isIP(hop) !== 0) return hop;
  const inner = BRACKETED.exec(hop)?.[1] ?? IPV4_WITH_PORT.exec(hop)?.[1] ?? '';
  return isIP(inner) !== 0 ? inner : '';
}

/**
 * The proxies whose X-Forwarded-* fields the ingress believes (trustedProxies), as NGINX's
 * set_real_ip_from with real_ip_recursive, or Traefik's forwardedHeaders.trustedIPs.
 */
export class TrustedProxies extends AddressSet {
  /**
   * The client behind a trusted peer: the nearest address in X-Forwarded-For (read from the
   * right, each hop having appended the one it saw) that is not itself trusted (see hopAddress for
   * the forms taken). A hop that is not an address ends the walk at the last trusted one, as
   * nothing before it can be believed.
   */
  clientBehind(peer: string, forwardedFor: string): string {
    let client = peer;
    let end = forwardedFor.length;
    while (end > 0) {
      const comma = forwardedFor.lastIndexOf(',', end - 1);
      const hop = hopAddress(forwardedFor.slice(comma + 1, end).trim());
      if (hop === '') return client;
      client = hop;
      if (!this.has(hop)) return hop;
      end = comma < 0 ? 0 : comma;
    }
    return client;
  }
}

/**
 * Forwarding fields beside the three the ingress writes itself, which a worker behind a proxy may
 * believe as it believes X-Forwarded-For: Forwarded (RFC 7239; Spring's ForwardedHeaderFilter
 * prefers it), X-Real-IP, and any other X-Forwarded-* (-Port, -Prefix, -Server, ...). Only a
 * trusted proxy's stand: from any other peer they are dropped, as Traefik drops them.
 */
export function isForwardingField(name: string): boolean {
  return name === 'forwarded' || name === 'x-real-ip' || (name.charCodeAt(0) === 120 && name.startsWith('x-forwarded-'));
}

/** Whether a peer's forwarding fields stand. */
export function isTrusted(trusted: TrustedProxies | null, peer: string): boolean {
  return trusted !== null && trusted.has(peer);
}

/** The X-Forwarded-* a request goes on with, and the client it came from. */
export interface Forwarding {
  /** The client: the peer, or the one behind trusted proxies. */
  client: string;
  forwardedFor: string;
  proto: string;
  /** '' for none. */
  host: string;
}

/** forwarding()'s result, one per thread: the request path allocates nothing for it. */
const result: Forwarding = { client: '', forwardedFor: '', proto: '', host: '' };

/**
 * The forwarding fields for a request from `peer` on a listener of `scheme`, given the ones it
 * came with: the peer appended to X-Forwarded-For, and Proto and Host (the Host field) from this
 * hop; unless the peer is a trusted proxy, whose Proto (http or https) and Host stand, and behind
 * which the client is found. The result is overwritten by the next call.
 */
export function forwarding(trusted: TrustedProxies | null, peer: string, scheme: string, forwardedFor: string, forwardedProto: string, forwardedHost: string, host: string): Readonly<Forwarding> {
  result.forwardedFor = forwardedFor ? `${forwardedFor}, ${peer}` : peer;
  if (!isTrusted(trusted, peer)) {
    result.client = peer;
    result.proto = scheme;
    result.host = host;
  } else {
    result.client = trusted!.clientBehind(peer, forwardedFor);
    result.proto = forwardedProto === 'http' || forwardedProto === 'https' ? forwardedProto : scheme;
    result.host = forwardedHost || host;
  }
  return result;
}
