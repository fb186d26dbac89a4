import type { Log } from '../bus/bus.js';
import type { MessageOf } from '../bus/messages.js';
import type { ScalableDriver, ScalableWorker } from '../drivers/driver.js';
import { StateStoreError, WeighbridgeError } from '../errors.js';
import type { StateStore } from '../state/state-store.js';
import { decide, HpaPolicy, type AutoscaleOptions, type HpaOptions, type ScaledWorker } from './autoscale-policy.js';

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

/**
 * The autoscaler's work on one host's driver: every interval, the scorer's latest scores and the
 * driver's workers go through the seed 000 section 3.4 policy (autoscale-policy.ts); its decision
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
  private readonly retiring = new Set<Promise<void>>();
  private readonly hpa: HpaPolicy | null;

  constructor(
    private readonly driver: ScalableDriver,
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
    try {
      this.defaultCount = Math.max(this.options.minWorkers, (await this.store.getDefaultCount()) ?? this.options.minWorkers);
    } catch (err) {
      if (!(err instanceof StateStoreError)) throw err;
    }
    const workers: ScaledWorker[] = this.driver.list().map((w) => {
      const s = this.scores.get(w.id);
      return { id: w.id, score: s?.score ?? 100, phase: w.retiring ? 'sundown' : (s?.phase ?? 'init'), startedAt: w.startedAt };
    });
    const drained = this.driver.list().filter((w) => !w.isDefault && !w.retiring && this.scores.get(w.id)?.phase === 'shutdown');
    // Drained workers are in phase shutdown, so not among the active ones.
    const active = workers.filter((w) => w.phase !== 'sundown' && w.phase !== 'shutdown').length;
    if (drained.length > 0 && active >= this.defaultCount) {
      return this.scaleDown(now, drained.map((w) => w.id), 'the scorer drained it (low utilization for t_low, nothing in flight)');
    }
    const input = { now, defaultCount: this.defaultCount, workers, lastActionAt: this.lastActionAt };
    const decision = this.hpa ? this.hpa.decide(input, this.options) : decide(input, this.options);
    if (decision.action === 'up') {
      this.lastActionAt = now;
      const added: string[] = [];
      try {
        for (let i = 0; i < decision.count; i++) added.push(await this.driver.add());
      } catch (err) {
        // Not ready in time, or the engine refused: the next tick tries again after the cooldown.
        this.options.log(`autoscaler: starting a worker failed: ${(err as Error).message}`);
      }
      if (added.length > 0) this.record({ at: now, action: 'up', workers: added, reason: decision.reason });
    } else if (decision.action === 'down') {
      this.scaleDown(now, decision.ids, decision.reason);
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

  status(): { defaultCount: number; minWorkers: number; maxWorkers: number; workers: ScalableWorker[]; events: ScalingEvent[] } {
    return { defaultCount: this.defaultCount, minWorkers: this.options.minWorkers, maxWorkers: this.options.maxWorkers, workers: this.driver.list(), events: [...this.events] };
  }

  /** Waits for workers in Sundown to stop (shutdown). */
  async settle(): Promise<void> {
    await Promise.all(this.retiring);
  }

  private scaleDown(now: number, ids: string[], reason: string): void {
    this.lastActionAt = now;
    this.record({ at: now, action: 'down', workers: ids, reason });
    for (const id of ids) {
      // Draining takes up to drainMs: the next ticks go on meanwhile and see the worker retiring.
      const done: Promise<void> = this.driver
        .retire(id, this.options.drainMs)
        .catch((err: Error) => this.options.log(`autoscaler: stopping ${id} failed: ${err.message}`))
        .finally(() => this.retiring.delete(done));
      this.retiring.add(done);
    }
  }

  private record(event: ScalingEvent): void {
    this.events.push(event);
    if (this.events.length > HISTORY) this.events.shift();
    this.options.log(`autoscaler: ${event.action === 'up' ? 'started' : 'Sundown for'} ${event.workers.join(', ')}: ${event.reason}`);
  }
}
