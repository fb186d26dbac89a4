import type { PolicyName } from '../balancing/policies/index.js';

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
  limits: { maxConcurrentRequests: number; maxBodyBytes: number; maxHeaderBytes: number };
  timeouts: { connectMs: number; responseHeadersMs: number; idleMs: number; keepAliveMs: number };
}

/** The RPC surface a host's main thread drives its ingress threads with, over comlink. */
export interface IngressThreadApi {
  /** Binds the port (shared by every thread through SO_REUSEPORT); rejects if it cannot. */
  listen(): Promise<number>;
  /** Closes the listening socket: no new connections; open ones keep being served. */
  stopAccepting(): void;
  /** Closes every client and upstream connection, then ends the thread. */
  shutdown(): void;
}
