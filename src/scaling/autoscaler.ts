import type { Log } from '../bus/bus.js';
import type { MessageOf } from '../bus/messages.js';
import { StateStoreError, WeighbridgeError } from '../errors.js';
import type { StateStore } from '../state/state-store.js';
import { decide, HpaPolicy, type AutoscaleOptions, type HpaOptions, type ScaledWorker } from './autoscale-policy.js';
import type { ClusterFleet, FleetWorker } from './fleet.js';

export interface AutoscalerOptions extends AutoscaleOptions {
  /** seed 000 section 3.4, or the HPA's rule for comparison. */
  policy: 'seed' | 'hpa';
  hpa: HpaOptions;
  /** The configured minimum: C_default never goes below it. */
  minWorkers: number;
  /** How long a worker in Sundown may take to finish its requests. */
  drainMs: number;
  log: Log;
}

/** A scaling decision that changed something, with why: the log line and the admin API's history. */
export interface ScalingEvent {
  at: number;
  action: 'up' | 'down';
  workers: string[];
  reason: string;
}

const HISTORY = 100;

export interface AutoscalerStatus {
  defaultCount: number;
  minWorkers: number;
  maxWorkers: number;
  /** Workers started (up) and sent to Sundown (down) since this autoscaler started. */
  scaledWorkers: Record<ScalingEvent['action'], number>;
  hosts: ReturnType<ClusterFleet['hostsView']>;
  workers: FleetWorker[];
  events: ScalingEvent[];
}

/**
 * The autoscaler's work: every interval, the scorer's latest scores and the workers of every host
 * that can scale (the fleet, over the bus) go through the seed 000 section 3.4 policy (autoscale-policy.ts); its decision
 * is carried out and recorded. C_default lives in the state store (Redis when configured), so an
 * operator's change survives restarts; while the store cannot be read the last known value holds.
 * A worker the scorer drained on its own (LU for t_low, then nothing in flight: Shutdown) is
 * stopped too, unless that would leave fewer than C_default.
 */
export class Autoscaler {
  private scores = new Map<string, MessageOf<'scores.updated'>['workers'][number]>();
  private lastActionAt: number | null = null;
  private defaultCount: number;
  private readonly events: ScalingEvent[] = [];
  /** Workers started, and sent to Sundown, since this autoscaler started (the events keep only the last HISTORY). */
  private readonly scaled = { up: 0, down: 0 };
  private readonly hpa: HpaPolicy | null;

  constructor(
    private readonly fleet: ClusterFleet,
    private readonly store: StateStore,
    private readonly options: AutoscalerOptions,
  ) {
    this.defaultCount = options.minWorkers;
    this.hpa = options.policy === 'hpa' ? new HpaPolicy(options.hpa) : null;
  }

  observeScores(message: MessageOf<'scores.updated'>): void {
    this.scores = new Map(message.workers.map((w) => [w.id, w]));
  }

  async tick(now: number): Promise<void> {
    if (!this.fleet.ready(now)) return;
    try {
      this.defaultCount = Math.max(this.options.minWorkers, (await this.store.getDefaultCount()) ?? this.options.minWorkers);
    } catch (err) {
      if (!(err instanceof StateStoreError)) throw err;
    }
    const fleet = this.fleet.list(now);
    const workers: ScaledWorker[] = fleet.map((w) => {
      const s = this.scores.get(w.id);
      return { id: w.id, score: s?.score ?? 100, phase: w.retiring ? 'sundown' : (s?.phase ?? 'init'), startedAt: w.startedAt, isDefault: w.isDefault };
    });
    const drained = fleet.filter((w) => !w.isDefault && !w.retiring && this.scores.get(w.id)?.phase === 'shutdown');
    // Drained workers are in phase shutdown, so not among the active ones.
    const active = workers.filter((w) => w.phase !== 'sundown' && w.phase !== 'shutdown').length;
    if (drained.length > 0 && active >= this.defaultCount) {
      return await this.scaleDown(now, drained.map((w) => w.id), 'the scorer drained it (low utilization for t_low, nothing in flight)');
    }
    const input = { now, defaultCount: this.defaultCount, workers, lastActionAt: this.lastActionAt };
    const decision = this.hpa ? this.hpa.decide(input, this.options) : decide(input, this.options);
    if (decision.action === 'up') {
      this.lastActionAt = now;
      const added: string[] = [];
      try {
        for (let i = 0; i < decision.count; i++) added.push(await this.fleet.add());
      } catch (err) {
        // Not ready in time, or the engine refused: the next tick tries again after the cooldown.
        this.options.log(`autoscaler: starting a worker failed: ${(err as Error).message}`);
      }
      if (added.length > 0) this.record({ at: now, action: 'up', workers: added, reason: decision.reason });
    } else if (decision.action === 'down') {
      await this.scaleDown(now, decision.ids, decision.reason);
    }
  }

  /** Sets C_default (operators, through the admin API): at least the configured minimum, at most C_max. */
  async setDefaultCount(count: number): Promise<number> {
    if (!Number.isInteger(count) || count < this.options.minWorkers || count > this.options.maxWorkers) {
      throw new WeighbridgeError('ERR_BAD_REQUEST', `defaultCount must be an integer from ${this.options.minWorkers} (the configured minimum) to ${this.options.maxWorkers} (maxWorkers)`);
    }
    await this.store.setDefaultCount(count);
    this.defaultCount = count;
    return count;
  }

  status(): AutoscalerStatus {
    const { defaultCount, options, fleet } = this;
    return { defaultCount, minWorkers: options.minWorkers, maxWorkers: options.maxWorkers, scaledWorkers: { ...this.scaled }, hosts: fleet.hostsView(), workers: fleet.list(), events: [...this.events] };
  }

  /** Sundown for the workers: each host takes its own out of its route table and drains it (up to drainMs) while the ticks go on. */
  private async scaleDown(now: number, ids: string[], reason: string): Promise<void> {
    const sent: string[] = [];
    for (const id of ids) {
      try {
        await this.fleet.retire(id, this.options.drainMs);
        sent.push(id);
      } catch (err) {
        this.options.log(`autoscaler: Sundown for ${id} failed: ${(err as Error).message}`);
      }
    }
    if (sent.length === 0) return;
    this.lastActionAt = now;
    this.record({ at: now, action: 'down', workers: sent, reason });
  }

  private record(event: ScalingEvent): void {
    this.scaled[event.action] += event.workers.length;
    this.events.push(event);
    if (this.events.length > HISTORY) this.events.shift();
    this.options.log(`autoscaler: ${event.action === 'up' ? 'started' : 'Sundown for'} ${event.workers.join(', ')}: ${event.reason}`);
  }
}
