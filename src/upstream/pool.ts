import { UpstreamConnection, type ConnectionOwner, type ConnectionTimeouts } from './connection.js';

/**
 * Keep-alive connections from one ingress thread to one worker. Idle connections are reused
 * most-recently-used first, so a burst's extra connections age out on the keep-alive timeout
 * instead of being kept warm by round-robin reuse.
 */
export class UpstreamPool implements ConnectionOwner {
  private readonly idle: UpstreamConnection[] = [];
  /** Closed: the worker left its slot. Connections still busy then are closed when they finish. */
  private closed = false;

  constructor(
    /** The worker's id, for the access log. */
    readonly workerId: string,
    readonly host: string,
    readonly port: number,
    private readonly timeouts: ConnectionTimeouts,
    private readonly maxHeaderBytes: number,
    private readonly maxIdle = 1024,
  ) {}

  get idleCount(): number {
    return this.idle.length;
  }

  /** The newest idle connection (a closed one has left the list: see forget), else a new one. */
  acquire(): UpstreamConnection {
    return this.idle.pop() ?? new UpstreamConnection(this, this.host, this.port, this.timeouts, this.maxHeaderBytes);
  }

  release(connection: UpstreamConnection): void {
    if (this.closed || this.idle.length >= this.maxIdle) connection.close();
    else this.idle.push(connection);
  }

  /**
   * Takes a closed connection off the idle list at once, so the list holds only reusable ones:
   * dropped only as acquire() reached them, those a burst left at the bottom stayed listed (and
   * counted as idle) under light traffic for good.
   */
  forget(connection: UpstreamConnection): void {
    const at = this.idle.lastIndexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
  }

  /** Closes every idle connection (the worker left, or the thread shuts down). */
  close(): void {
    this.closed = true;
    for (const connection of this.idle.splice(0)) connection.close();
  }
}
