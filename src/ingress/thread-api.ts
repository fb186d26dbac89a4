import type { PolicyName } from '../balancing/policies/index.js';
import type { HeaderRuleSettings } from './header-rules.js';
import type { StickySettings } from './sticky.js';
import type { IngressTls, TlsFiles } from './tls-files.js';

/** Everything an ingress thread needs, passed as workerData (shared buffers are shared, not copied). */
export interface IngressThreadData {
  threadIndex: number;
  host: string;
  port: number;
  policy: PolicyName;
  capacity: number;
  routes: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  directory: SharedArrayBuffer;
  limits: { maxConcurrentRequests: number; maxRequestsPerWorker: number; maxBodyBytes: number; maxHeaderBytes: number; clientRequestsPerSecond: number; clientBurst: number };
  /** The host's per-client rate table (see RateTable). */
  rates: SharedArrayBuffer;
  timeouts: { connectMs: number; responseHeadersMs: number; idleMs: number; keepAliveMs: number; queueMs: number };
  /** The access log's path; null for none. */
  accessLog: string | null;
  /** The HTTPS listener (its port resolved); null for none. */
  tls: IngressTls | null;
  /** Sticky sessions by cookie; null when off. */
  sticky: StickySettings | null;
  /** Addresses and networks whose X-Forwarded-* the ingress believes. */
  trustedProxies: string[];
  /** Clients allowed and denied, by address or network. */
  access: { allow: string[]; deny: string[] };
  /** Fields set and removed on requests to workers and on their responses. */
  headers: { request: HeaderRuleSettings; response: HeaderRuleSettings };
  /** Request ids; null when off. */
  requestId: { header: string; keepIncoming: boolean; inResponse: boolean } | null;
}

/** What may change while a thread runs (SIGHUP or the admin API): applied to new requests. */
export interface ReloadableSettings {
  limits: IngressThreadData['limits'];
  timeouts: IngressThreadData['timeouts'];
}

/** One thread's own view, beyond the shared stats table. */
export interface ThreadSnapshot {
  threadIndex: number;
  /** Requests this thread has taken since it started. */
  requests: number;
  /** Idle keep-alive connections to workers, over all its pools. */
  idleUpstreamConnections: number;
  heapUsedBytes: number;
  /** Access log lines dropped because the file could not keep up (its buffer was full). */
  accessLogDroppedLines: number;
}

/** The RPC surface a host's main thread drives its ingress threads with, over comlink. */
export interface IngressThreadApi {
  /** Binds the port, and the TLS port if any (shared by every thread through SO_REUSEPORT); rejects if it cannot. */
  listen(): Promise<void>;
  /**
   * A TLS reload in two steps, so that either every thread takes the new files or none does:
   * prepareTls builds an SSLApp with them (throws if uWS cannot load them); commitTls makes it
   * listen beside the old one, whose listening socket then closes (connections already open keep
   * their session); abortTls drops the prepared one.
   */
  prepareTls(files: TlsFiles): void;
  commitTls(): Promise<void>;
  abortTls(): void;
  /** Drains: closes the listening sockets, so no new connections; open ones keep being served. */
  drain(): void;
  /** Closes every client and upstream connection, then ends the thread. */
  shutdown(): void;
  snapshot(): ThreadSnapshot;
  /** New limits and timeouts; a request already in progress keeps the ones it started with. */
  reload(settings: ReloadableSettings): void;
  /** Reopens the access log at its path (after log rotation moved the file away). */
  reopenAccessLog(): void;
}
