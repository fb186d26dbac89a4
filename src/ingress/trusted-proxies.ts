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
 * Fields beside the three X-Forwarded-* the ingress writes itself that name the client, its
 * scheme or host, and that a worker behind a proxy may believe as it believes X-Forwarded-For:
 * Forwarded (RFC 7239; Spring's ForwardedHeaderFilter prefers it), any other X-Forwarded-*
 * (-Port, -Prefix, -Server, ...), X-Real-IP, and the client-address fields of CDNs and
 * frameworks (True-Client-IP is read by go-chi's RealIP, Client-IP by Rails). Only a trusted
 * proxy's stand: from any other peer they are dropped, as Traefik drops its X-Forwarded-* and
 * X-Real-Ip. Dispatched on length, as this runs for every field of every request.
 */
export function isForwardingField(name: string): boolean {
  switch (name.length) {
    case 9:
      return name === 'forwarded' || name === 'x-real-ip' || name === 'client-ip';
    case 11:
      return name === 'x-client-ip';
    case 14:
      return name === 'true-client-ip' || name.startsWith('x-forwarded-');
    case 16:
      return name === 'cf-connecting-ip' || name === 'fastly-client-ip' || name.startsWith('x-forwarded-');
    case 19:
      return name === 'x-cluster-client-ip' || name.startsWith('x-forwarded-');
    case 24:
      return name === 'x-original-forwarded-for' || name.startsWith('x-forwarded-');
  }
  return name.length > 12 && name.charCodeAt(0) === 120 && name.startsWith('x-forwarded-');
}

/** The trusted proxies if `peer` is one of them (its forwarding fields stand), else null. */
export function trustedPeer(trusted: TrustedProxies | null, peer: string): TrustedProxies | null {
  return trusted !== null && trusted.has(peer) ? trusted : null;
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
 * hop; unless the peer is a trusted proxy (`trusted`: the set it is in, as trustedPeer() gives;
 * null for any other peer), whose Proto (http or https) and Host stand, and behind which the
 * client is found. The result is overwritten by the next call.
 */
export function forwarding(trusted: TrustedProxies | null, peer: string, scheme: string, forwardedFor: string, forwardedProto: string, forwardedHost: string, host: string): Readonly<Forwarding> {
  result.forwardedFor = forwardedFor ? `${forwardedFor}, ${peer}` : peer;
  if (trusted === null) {
    result.client = peer;
    result.proto = scheme;
    result.host = host;
  } else {
    result.client = trusted.clientBehind(peer, forwardedFor);
    result.proto = forwardedProto === 'http' || forwardedProto === 'https' ? forwardedProto : scheme;
    result.host = forwardedHost || host;
  }
  return result;
}
