import { AddressSet } from './address-set.js';

/**
 * Which clients may use the ingress (the `access` setting), by the client's address (the socket's,
 * or behind trustedProxies the one they forwarded), as HAProxy's `http-request deny` on `src` or
 * Traefik's IPAllowList: a client in `deny` is refused; with an `allow` list, so is one not in it.
 */
export class ClientAccess {
  private readonly allow: AddressSet | null;
  private readonly deny: AddressSet;

  /** `onRefused` counts each refusal (the ingress's 403 counter). */
  constructor(
    allow: readonly string[],
    deny: readonly string[],
    private readonly onRefused: () => void = () => {},
  ) {
    this.allow = allow.length === 0 ? null : new AddressSet(allow);
    this.deny = new AddressSet(deny);
  }

  permits(client: string): boolean {
    if (!this.deny.has(client) && (this.allow === null || this.allow.has(client))) return true;
    this.onRefused();
    return false;
  }
}

/** What a refused client is told. */
export const forbiddenMessage = (client: string): string => `${client} may not use this service`;
