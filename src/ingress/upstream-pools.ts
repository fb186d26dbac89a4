import type { WorkerDirectory } from '../shared/worker-directory.js';
import type { ConnectionTimeouts } from '../upstream/connection.js';
import { UpstreamPool } from '../upstream/pool.js';

/**
 * One ingress thread's keep-alive pools, indexed by worker slot. A slot's identity is read from
 * the shared directory only when the route table names an incarnation this thread has not seen,
 * so the request path does no string work to find its worker.
 */
export class UpstreamPools {
  private readonly pools: (UpstreamPool | undefined)[] = [];
  private readonly incarnations: number[] = [];

  constructor(
    private readonly directory: WorkerDirectory,
    private readonly timeouts: ConnectionTimeouts,
    private readonly maxHeaderBytes: number,
  ) {}

  /** The pool for the slot's incarnation, or undefined if the slot has since been reassigned. */
  get(slot: number, incarnation: number): UpstreamPool | undefined {
    const pool = this.pools[slot];
    if (pool !== undefined && this.incarnations[slot] === incarnation) return pool;
    const identity = this.directory.read(slot, incarnation);
    if (identity === undefined) return undefined;
    pool?.close();
    const fresh = new UpstreamPool(identity.id, identity.host, identity.port, this.timeouts, this.maxHeaderBytes);
    this.pools[slot] = fresh;
    this.incarnations[slot] = incarnation;
    return fresh;
  }

  idleCount(): number {
    let n = 0;
    for (const pool of this.pools) n += pool?.idleCount ?? 0;
    return n;
  }

  closeAll(): void {
    for (const pool of this.pools) pool?.close();
  }
}
