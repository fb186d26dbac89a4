import { BlockList, isIP } from 'node:net';

/** "10.0.0.0/8", "fd00::/8" or one address; null when it is neither. */
export function parseNetwork(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return null;
  const bits = version === 4 ? 32 : 128;
  const prefix = slash < 0 ? bits : /^\d{1,3}$/.test(text.slice(slash + 1)) ? Number(text.slice(slash + 1)) : -1;
  if (prefix < 0 || prefix > bits) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

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

/** Bounds the cache of verdicts, which a scan of many addresses would otherwise grow. */
const CACHE_MAX = 4096;

/**
 * The proxies whose X-Forwarded-* fields the ingress believes (trustedProxies), as NGINX's
 * set_real_ip_from with real_ip_recursive, or Traefik's forwardedHeaders.trustedIPs. node:net's
 * BlockList matches the networks (IPv4-mapped IPv6 addresses too); at about 2 us a check, its
 * verdicts are cached per address.
 */
export class TrustedProxies {
  private readonly networks = new BlockList();
  private readonly verdicts = new Map<string, boolean>();

  constructor(networks: readonly string[]) {
    for (const text of networks) {
      const network = parseNetwork(text);
      if (network === null) throw new TypeError(`not an address or network: ${text}`);
      this.networks.addSubnet(network.address, network.prefix, network.family);
    }
  }

  has(address: string): boolean {
    let verdict = this.verdicts.get(address);
    if (verdict === undefined) {
      const version = isIP(address);
      verdict = version !== 0 && this.networks.check(address, version === 4 ? 'ipv4' : 'ipv6');
      if (this.verdicts.size >= CACHE_MAX) this.verdicts.clear();
      this.verdicts.set(address, verdict);
    }
    return verdict;
  }

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
  if (trusted === null || !trusted.has(peer)) {
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
