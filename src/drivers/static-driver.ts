import type { StaticUpstream } from '../config/schema.js';
import type { WorkerRegistry } from '../routing/worker-registry.js';
import { WorkerState } from '../shared/worker-directory.js';
import { drain } from './drain.js';
import type { WorkerDriver } from './driver.js';

interface Upstream {
  id: string;
  host: string;
  port: number;
  weight: number;
}

function parse(upstream: StaticUpstream): Upstream {
  const url = new URL(upstream.url);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { id: upstream.id ?? url.host, host, port: url.port === '' ? 80 : Number(url.port), weight: upstream.weight };
}

/**
 * A list of upstream URLs with weights; weighbridge neither starts nor stops them. A reload with
 * a new list (SIGHUP) adds the new ones (with slow start), drains the dropped ones (no new
 * requests, the ones in flight get drainMs) before they leave, and applies changed weights.
 */
export class StaticDriver implements WorkerDriver {
  readonly kind = 'static';
  private registry: WorkerRegistry | null = null;
  /** Dropped upstreams still draining; listing one again takes it back. */
  private readonly leaving = new Set<string>();

  constructor(private readonly upstreams: readonly StaticUpstream[]) {}

  async start(registry: WorkerRegistry): Promise<void> {
    this.registry = registry;
    for (const u of this.upstreams.map(parse)) registry.add(u);
  }

  /** Applies a new list; returns what changed, for the log. Drains run on after it returns. */
  update(upstreams: readonly StaticUpstream[], drainMs: number, log: (line: string) => void): string[] {
    const registry = this.registry;
    if (registry === null) return [];
    const next = new Map(upstreams.map(parse).map((u) => [u.id, u]));
    const changes: string[] = [];
    for (const w of registry.list()) {
      const u = next.get(w.id);
      if (u === undefined) {
        if (this.leaving.has(w.id)) continue;
        changes.push(`draining ${w.id}`);
        this.leave(w.id, drainMs, log);
      } else if (u.host !== w.host || u.port !== w.port) {
        // The same id at a new address is a new worker: the old one drains first.
        next.delete(w.id);
        changes.push(`moving ${w.id} to ${u.host}:${u.port} once it has drained`);
        void this.leave(w.id, drainMs, log).then((removed) => {
          if (removed) this.join(u);
        });
      } else {
        next.delete(w.id);
        if (this.leaving.delete(w.id)) {
          registry.setState(w.id, WorkerState.ready);
          changes.push(`keeping ${w.id}`);
        }
        if (u.weight !== w.baseWeight) {
          changes.push(`weight of ${w.id} ${w.baseWeight} -> ${u.weight}`);
          registry.setBaseWeight(w.id, u.weight);
        }
      }
    }
    for (const u of next.values()) {
      if (registry.get(u.id)) continue; // moving: joins after its drain
      this.join(u);
      changes.push(`adding ${u.id}`);
    }
    return changes;
  }

  private join(u: Upstream): void {
    this.registry?.add(u);
  }

  /** Drains, then removes (true), unless a later update listed the worker again meanwhile (false). */
  private async leave(id: string, drainMs: number, log: (line: string) => void): Promise<boolean> {
    const registry = this.registry!;
    this.leaving.add(id);
    await drain(registry, id, drainMs);
    if (!this.leaving.delete(id)) return false;
    const left = registry.inflight(id);
    registry.remove(id);
    log(`static upstreams: ${id} removed${left > 0 ? ` with ${left} requests still in flight after ${drainMs} ms` : ''}`);
    return true;
  }

  quiesce(): void {}

  async stop(): Promise<void> {}
}
