import type { Bus } from '../bus/bus.js';
import type { MessageOf } from '../bus/messages.js';
import { topics } from '../bus/subjects.js';
import type { ScalableWorker } from '../drivers/driver.js';
import { WeighbridgeError } from '../errors.js';

/** A worker the autoscaler can count, start or stop, and the host whose driver runs it. */
export interface FleetWorker extends ScalableWorker {
  host: string;
}

/** A fleet command that failed: no host can start workers, or a host refused or did not answer. */
export class FleetError extends WeighbridgeError {
  constructor(code: 'ERR_FLEET_NO_HOST' | 'ERR_FLEET_COMMAND', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export type Inventory = Omit<MessageOf<'fleet.inventory'>, 'type' | 'v'>;

/** The host that gets the next worker: the fewest workers not in Sundown, then the lowest id. */
export function placeWorker(inventories: Inventory[]): string | null {
  let best: { host: string; active: number } | null = null;
  for (const inv of inventories) {
    const active = inv.workers.filter((w) => !w.retiring).length;
    if (best === null || active < best.active || (active === best.active && inv.host < best.host)) best = { host: inv.host, active };
  }
  return best?.host ?? null;
}

/** Whether `next` is a later report of the same host than `known`. */
function isNewer(next: Inventory, known: Inventory | undefined): boolean {
  return known === undefined || next.incarnation !== known.incarnation || next.seq > known.seq;
}

export interface ClusterFleetOptions {
  hostId: string;
  /** A host not heard from for this long no longer counts; also how long to listen before trusting the count. */
  staleMs: number;
  /** How long a host may take to start a worker (its readiness wait included). */
  commandTimeoutMs: number;
}

/**
 * The cluster's workers as the autoscaler sees them, over the bus: every host whose driver can
 * scale (process or Docker) reports its workers (fleet.inventory) and takes commands
 * (fleet.command), so the autoscaler runs on any host, with the ingress or apart from it. A
 * command's reply carries the host's inventory after it, so a worker just started is counted at
 * once, not one report later (which would start it twice).
 */
export class ClusterFleet {
  private readonly hosts = new Map<string, { inventory: Inventory; heardAt: number }>();
  private bus: Bus | null = null;
  private attachedAt = 0;

  constructor(private readonly options: ClusterFleetOptions) {}

  attach(bus: Bus, now: number): void {
    this.bus = bus;
    this.attachedAt = now;
  }

  observe(message: Omit<MessageOf<'fleet.inventory'>, 'type' | 'v'>, now = Date.now()): void {
    const { host, driver, incarnation, seq, at, workers } = message;
    if (isNewer(message, this.hosts.get(host)?.inventory)) this.hosts.set(host, { inventory: { host, driver, incarnation, seq, at, workers }, heardAt: now });
  }

  /**
   * Listened long enough that every live host has reported: before that, an empty or partial
   * count would look like missing workers and start some twice.
   */
  ready(now: number): boolean {
    return this.bus !== null && now - this.attachedAt >= this.options.staleMs && this.fresh(now).length > 0;
  }

  list(now = Date.now()): FleetWorker[] {
    return this.fresh(now).flatMap((inv) => inv.workers.map((w) => ({ ...w, host: inv.host })));
  }

  /** Per host, for the admin API. */
  hostsView(now = Date.now()): { host: string; driver: string; workers: number; heardMsAgo: number }[] {
    return [...this.hosts.values()].filter((h) => now - h.heardAt <= this.options.staleMs).map((h) => ({ host: h.inventory.host, driver: h.inventory.driver, workers: h.inventory.workers.length, heardMsAgo: now - h.heardAt }));
  }

  /** Starts one more worker on the host with the fewest; resolves with its id once it is ready. */
  async add(): Promise<string> {
    const host = placeWorker(this.fresh(Date.now()));
    if (host === null) throw new FleetError('ERR_FLEET_NO_HOST', 'no host with a process or docker driver has reported its workers');
    const result = await this.command(host, 'add', null, 0);
    return result.worker!;
  }

  /** Sundown: resolves once the worker's host has taken it out of its route table; the host drains it. */
  async retire(id: string, drainMs: number): Promise<void> {
    const owner = this.fresh(Date.now()).find((inv) => inv.workers.some((w) => w.id === id));
    if (owner === undefined) throw new FleetError('ERR_FLEET_COMMAND', `no host reports worker ${id}`);
    await this.command(owner.host, 'retire', id, drainMs);
  }

  private fresh(now: number): Inventory[] {
    return [...this.hosts.values()].filter((h) => now - h.heardAt <= this.options.staleMs).map((h) => h.inventory);
  }

  private async command(host: string, action: 'add' | 'retire', worker: string | null, drainMs: number): Promise<MessageOf<'fleet.result'>> {
    if (this.bus === null) throw new FleetError('ERR_FLEET_COMMAND', 'the bus is not connected yet');
    const message = { type: 'fleet.command', v: 1, from: this.options.hostId, at: Date.now(), action, worker, drainMs } as const;
    let result: MessageOf<'fleet.result'>;
    try {
      result = await this.bus.request(topics.fleetCommand(host), message, 'fleet.result', this.options.commandTimeoutMs);
    } catch (err) {
      throw new FleetError('ERR_FLEET_COMMAND', `${action} on host ${host}: ${(err as Error).message}`, { cause: err });
    }
    this.observe(result);
    if (!result.ok || (action === 'add' && result.worker === null)) throw new FleetError('ERR_FLEET_COMMAND', `${action} on host ${host}: ${result.error ?? 'refused'}`);
    return result;
  }
}
