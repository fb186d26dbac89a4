import type { Log } from '../bus/bus.js';
import type { Lease } from './lease.js';

/** Whether this instance leads, for the admin API. */
export interface LeadershipStatus {
  lease: string;
  leader: boolean;
  since: number | null;
}

/** Renews a lease on every check and logs when leadership is won or lost. */
export class Leadership {
  private leader = false;
  private since: number | null = null;

  constructor(
    private readonly lease: Lease,
    private readonly log: Log,
  ) {}

  async check(): Promise<boolean> {
    const now = await this.lease.tryAcquire();
    if (now !== this.leader) {
      this.leader = now;
      this.since = now ? Date.now() : null;
      this.log(now ? `took the ${this.lease.name} lease as ${this.lease.holder}` : `lost the ${this.lease.name} lease; standing by`);
    }
    return now;
  }

  status(): LeadershipStatus {
    return { lease: this.lease.name, leader: this.leader, since: this.since };
  }

  async release(): Promise<void> {
    this.leader = false;
    this.since = null;
    await this.lease.release();
  }
}
