import type { Log } from '../bus/bus.js';
import type { MessageOf } from '../bus/messages.js';
import { StateStoreError } from '../errors.js';
import { planReconcile, type RunningWorker } from './reconcile.js';
import type { StateStore, WorkerEntry } from './state-store.js';

/**
 * The reconciler's work (seed 000, section 7): every interval the state store is brought in line
 * with what runs, both ways, and each entry takes the scorer's latest score and state. "What
 * runs" is what the ingress hosts report (every worker any of them routes to), so the reconciler
 * can run on any host. A store that cannot be reached skips the round (logged once per outage):
 * nothing on the request path waits for it, and the next round catches up.
 */
export class Reconciler {
  private readonly stats = new Map<string, MessageOf<'ingress.stats'>>();
  private scores = new Map<string, MessageOf<'scores.updated'>['workers'][number]>();
  private failing = false;
  private lastEntries: WorkerEntry[] = [];

  constructor(
    private readonly store: StateStore,
    private readonly options: { staleMs: number; log: Log },
  ) {}

  observeStats(message: MessageOf<'ingress.stats'>): void {
    this.stats.set(message.host, message);
  }

  observeScores(message: MessageOf<'scores.updated'>): void {
    this.scores = new Map(message.workers.map((w) => [w.id, w]));
  }

  /** The entries as of the last successful round, for the admin API. */
  entries(): WorkerEntry[] {
    return this.lastEntries;
  }

  async sync(now: number): Promise<void> {
    for (const [host, m] of this.stats) if (m.at < now - this.options.staleMs) this.stats.delete(host);
    // No ingress host heard from: no evidence that nothing runs, so nothing is removed.
    if (this.stats.size === 0) return;
    try {
      const entries = await this.store.list();
      const plan = planReconcile(entries, this.running(), now);
      for (const e of plan.remove) await this.store.remove(e.name);
      const current = new Map(entries.map((e) => [e.name, e]));
      for (const e of plan.remove) current.delete(e.name);
      for (const e of [...plan.add, ...plan.update]) current.set(e.name, e);
      const changed = new Set([...plan.add, ...plan.update].map((e) => e.name));
      for (const [name, e] of current) {
        const s = this.scores.get(name);
        if (s !== undefined && (e.score !== s.score || e.state !== s.phase)) {
          current.set(name, { ...e, score: s.score, state: s.phase, category: ['LU', 'MU', 'HU'].includes(s.phase) ? s.phase : e.category, updatedAt: now });
          changed.add(name);
        }
      }
      for (const name of changed) await this.store.put(current.get(name)!);
      this.lastEntries = [...current.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
      if (this.failing) this.options.log(`reconciler: state store (${this.store.kind}) reachable again`);
      this.failing = false;
      if (plan.add.length + plan.remove.length + plan.update.length > 0) {
        this.options.log(`reconciler: ${plan.add.length} added, ${plan.remove.length} removed, ${plan.update.length} corrected in the ${this.store.kind} state store`);
      }
    } catch (err) {
      if (!(err instanceof StateStoreError)) throw err;
      if (!this.failing) this.options.log(`reconciler: skipping rounds until the state store answers: ${err.message}`);
      this.failing = true;
    }
  }

  /** Every worker a fresh ingress report names, with its address split. */
  private running(): RunningWorker[] {
    const byName = new Map<string, RunningWorker>();
    for (const m of this.stats.values()) {
      for (const w of m.workers) {
        const split = /^\[?(.*?)\]?:(\d+)$/.exec(w.address);
        if (split) byName.set(w.id, { name: w.id, host: split[1]!, port: Number(split[2]), image: null });
      }
    }
    return [...byName.values()];
  }
}
