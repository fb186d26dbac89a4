import type { StatsTable } from '../shared/stats-table.js';
import { sweeper, type Expirable } from '../upstream/deadline-sweeper.js';

/** A request waiting for a worker with room; its deadline is its queue timeout. */
export interface QueuedRequest extends Expirable {
  /** Looks for a worker again: false while every worker is still full (it stays queued). */
  retryDispatch(): boolean;
}

/**
 * An ingress thread's requests waiting for a worker below limits.maxRequestsPerWorker, first in,
 * first out: HAProxy's queue for servers at their maxconn, and the request queue of seed 000,
 * section 5. A request leaving a worker wakes its own thread's queue at once (wake) and, through
 * shared memory, every other thread with waiting requests (StatsTable.waitForRoom), as does a
 * worker joining the table; each hands the places that freed up to its oldest requests.
 * Between threads the order is first come, first served only roughly: whichever thread wakes
 * first takes the place.
 */
export class WorkerQueue {
  /** In arrival order (a Set keeps it), so a request that leaves early is taken out in O(1). */
  private readonly waiting = new Set<QueuedRequest>();
  private asleep = false;
  private drainSoon = false;

  constructor(private readonly stats: StatsTable) {
    stats.onLocalRoom = this.wake;
  }

  get length(): number {
    return this.waiting.size;
  }

  /**
   * Queues a request whose look found every worker full; false if a last look, made once it is
   * counted as waiting, found room (it is then dispatched and not queued). That last look closes
   * the race with a request leaving a worker meanwhile, which only wakes counted waiters. A
   * request queued behind others needs none: the queue is awake or will be woken for them.
   */
  add(request: QueuedRequest, deadline: number, lastLook: boolean): boolean {
    this.stats.queue(1);
    const sequence = this.stats.freedSequence;
    if (lastLook && request.retryDispatch()) {
      this.stats.queue(-1);
      return false;
    }
    request.deadline = deadline;
    this.waiting.add(request);
    sweeper.add(request);
    this.sleep(sequence);
    return true;
  }

  /** Takes a request out (its client left, it timed out, or it ended otherwise); false if it was not queued. */
  remove(request: QueuedRequest): boolean {
    if (!this.waiting.delete(request)) return false;
    this.leave(request);
    return true;
  }

  /** Dispatches the oldest requests while workers have room; called when a place may have freed up. */
  drain = (): void => {
    const sequence = this.stats.freedSequence;
    for (const oldest of this.waiting) {
      if (!oldest.retryDispatch()) break;
      this.waiting.delete(oldest);
      this.leave(oldest);
    }
    if (this.waiting.size > 0) this.sleep(sequence);
  };

  /**
   * A request of this thread left a worker: the queue drains once the current callback returns
   * (a microtask, which uWS.js and Node both run after their callbacks), out of any uWS cork and
   * before this loop iteration's upstream writes go out.
   */
  private readonly wake = (): void => {
    if (this.drainSoon) return;
    this.drainSoon = true;
    queueMicrotask(() => {
      this.drainSoon = false;
      this.drain();
    });
  };

  private leave(request: QueuedRequest): void {
    this.stats.queue(-1);
    sweeper.delete(request);
  }

  /** Sleeps until a request leaves a worker after `sequence` was read (at once if one did). */
  private sleep(sequence: number): void {
    if (this.asleep) return;
    const woken = this.stats.waitForRoom(sequence);
    if (woken === null) {
      setImmediate(this.drain);
      return;
    }
    this.asleep = true;
    void woken.then(() => {
      this.asleep = false;
      this.drain();
    });
  }
}
