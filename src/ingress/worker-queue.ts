import type { StatsTable } from '../shared/stats-table.js';
import { sweeper, type Expirable } from '../upstream/deadline-sweeper.js';

/** A request waiting for a worker with room; its deadline is its queue timeout. */
export interface QueuedRequest extends Expirable {
  /** Its place in the line over every thread (StatsTable.takeTicket), set by add(). */
  ticket: number;
  /** Looks for a worker again: false while every worker is still full (it stays queued). */
  retryDispatch(): boolean;
}

/**
 * An ingress thread's requests waiting for a worker below limits.maxRequestsPerWorker, in one
 * line, first come, first served, with those of every other thread: HAProxy's queue for servers
 * at their maxconn, and the request queue of seed 000, section 5. A request leaving a worker wakes
 * its own thread's queue at once (wake) and, through shared memory, every other thread with
 * waiting requests (StatsTable.waitForRoom), as does a worker joining the table. Each request
 * takes a ticket, and each thread shows its oldest one (its head); a thread hands a place only to
 * a request no other thread's head is older than. Whoever takes a place, or takes a head out of
 * line otherwise (a timeout, a client leaving), wakes the rest again, so the next in line looks.
 * Two threads queueing at the same instant may still be served in either order.
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
   * Queues a request (every worker was full, or others wait); false if a last look, made once it
   * is counted as waiting, found room (it is then dispatched and not queued). That look closes the
   * race with a request leaving a worker meanwhile, which only wakes counted waiters; only the
   * first in line makes it: behind others, the request is woken once they are served.
   */
  add(request: QueuedRequest, deadline: number): boolean {
    const stats = this.stats;
    stats.queue(1);
    const sequence = stats.freedSequence;
    request.ticket = stats.takeTicket();
    const first = this.waiting.size === 0;
    if (first) stats.setQueueHead(request.ticket);
    if (stats.isFirstInLine(request.ticket) && request.retryDispatch()) {
      stats.queue(-1);
      if (first) stats.setQueueHead(0);
      // Requests queued meanwhile elsewhere saw this one ahead of them, and may be let through now.
      if (stats.othersWaiting) stats.announceRoom();
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
    // It may have been first in line, keeping requests here or on other threads from a free place.
    if (this.waiting.size > 0) this.wake();
    if (this.stats.othersWaiting) this.stats.announceRoom();
    return true;
  }

  /** Dispatches the oldest requests while they are first in line and workers have room; called when a place may have freed up. */
  drain = (): void => {
    const stats = this.stats;
    const sequence = stats.freedSequence;
    let served = 0;
    for (const oldest of this.waiting) {
      // An older request waits on another thread: the place is its.
      if (!stats.isFirstInLine(oldest.ticket) || !oldest.retryDispatch()) break;
      this.waiting.delete(oldest);
      this.leave(oldest);
      served++;
    }
    // Room may be left that a request elsewhere, first in line now, looked for too early.
    if (served > 0 && stats.othersWaiting) stats.announceRoom();
    if (this.waiting.size > 0) this.sleep(sequence);
  };

  /**
   * A request of this thread left a worker, or the queue should look again: it drains once the
   * current callback returns (a microtask, which uWS.js and Node both run after their callbacks),
   * out of any uWS cork and before this loop iteration's upstream writes go out.
   */
  readonly wake = (): void => {
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
    const next = this.waiting.values().next();
    this.stats.setQueueHead(next.done ? 0 : next.value.ticket);
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
