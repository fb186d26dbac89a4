import { BlockList, isIP } from 'node:net';
import { BoundedCache } from '../util/bounded-cache.js';

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

/** Bounds the cache of verdicts, which a scan of many addresses would otherwise grow. */
const CACHE_MAX = 4096;

/**
 * Addresses and networks of either family, to test client and peer addresses against. node:net's
 * BlockList matches them (IPv4-mapped IPv6 addresses too); at about 2 us a check, its verdicts
 * are cached per address.
 */
export class AddressSet {
  private readonly networks = new BlockList();
  private readonly verdicts = new BoundedCache(CACHE_MAX, (address: string) => {
    const version = isIP(address);
    return version !== 0 && this.networks.check(address, version === 4 ? 'ipv4' : 'ipv6');
  });

  constructor(networks: readonly string[]) {
    for (const text of networks) {
      const network = parseNetwork(text);
      if (network === null) throw new TypeError(`not an address or network: ${text}`);
      this.networks.addSubnet(network.address, network.prefix, network.family);
    }
  }

  has(address: string): boolean {
    return this.verdicts.get(address);
  }
}
