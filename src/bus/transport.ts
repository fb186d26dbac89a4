/** One message as a transport moves it: bytes, not yet decoded or trusted. */
export interface RawMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Where a reply goes, for a request. */
  readonly reply: string | undefined;
}

export type TransportState = 'connected' | 'disconnected' | 'closed';

/**
 * What the bus needs from a transport: subject-addressed bytes with NATS semantics ('*' and '>'
 * wildcards, queue groups where each message goes to one member). The in-process transport and
 * NATS implement it; everything typed (validation, request/reply, counters) lives in Bus, so the
 * two behave alike by construction.
 */
export interface Transport {
  readonly kind: 'in-process' | 'nats';
  readonly state: TransportState;
  publish(subject: string, data: Uint8Array, reply?: string): void;
  /** Returns the unsubscribe function. */
  subscribe(subject: string, queue: string | undefined, onMessage: (message: RawMessage) => void): () => void;
  /** Resolves once what was published so far has left (NATS: a server round trip). */
  flush(): Promise<void>;
  close(): Promise<void>;
}
