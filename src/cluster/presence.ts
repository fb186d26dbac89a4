import type { Bus } from '../bus/bus.js';
import { topics } from '../bus/subjects.js';

export interface HostInfo {
  host: string;
  roles: string[];
  startedAt: number;
  lastSeen: number;
}

/** A host that has not announced itself for this many intervals is gone. */
const MISSED_INTERVALS = 3;

/**
 * Presence: every host announces its id and roles on the bus every interval and keeps the
 * announcements of the others, so any host's admin API can list the cluster.
 */
export class Presence {
  private readonly hosts = new Map<string, HostInfo>();
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly bus: Bus,
    private readonly self: { host: string; roles: string[]; startedAt: number },
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.unsubscribe = this.bus.subscribe(topics.allPresence(), (m) => {
      this.hosts.set(m.host, { host: m.host, roles: m.roles, startedAt: m.startedAt, lastSeen: this.now() });
    });
    this.announce();
    this.timer = setInterval(() => this.announce(), this.intervalMs);
  }

  /** The hosts heard from recently, this one included, by id. */
  list(): HostInfo[] {
    const cutoff = this.now() - MISSED_INTERVALS * this.intervalMs;
    for (const [id, h] of this.hosts) if (h.lastSeen < cutoff && id !== this.self.host) this.hosts.delete(id);
    const me: HostInfo = { ...this.self, lastSeen: this.now() };
    return [...this.hosts.values(), ...(this.hosts.has(me.host) ? [] : [me])].sort((a, b) => a.host.localeCompare(b.host));
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
  }

  private announce(): void {
    this.bus.publish(topics.presence(this.self.host), { type: 'presence', v: 1, ...this.self, at: this.now() });
  }
}
