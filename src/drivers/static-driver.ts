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
  /**
   * Workers draining out, by id, each with what takes the id once its drain ends (the latest
   * list decides: null for nothing). One drain per id; a worker listed again at its address
   * before then is kept, which the token tells the drain.
   */
  private readonly leaving = new Map<string, { successor: Upstream | null; token: object }>();

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
      next.delete(w.id);
      const same = u !== undefined && u.host === w.host && u.port === w.port;
      const leaving = this.leaving.get(w.id);
      if (leaving !== undefined && same) {
        this.leaving.delete(w.id);
        registry.setState(w.id, WorkerState.ready);
        changes.push(`keeping ${w.id}`);
      } else if (leaving !== undefined) {
        leaving.successor = u ?? null;
        changes.push(u === undefined ? `dropping ${w.id} once it has drained` : `moving ${w.id} to ${u.host}:${u.port} once it has drained`);
        continue;
      } else if (u === undefined) {
        this.leave(w.id, null, drainMs, log);
        changes.push(`draining ${w.id}`);
        continue;
      } else if (!same) {
        // The same id at a new address is a new worker: the old one drains first.
        this.leave(w.id, u, drainMs, log);
        changes.push(`moving ${w.id} to ${u.host}:${u.port} once it has drained`);
        continue;
      }
      if (u.weight !== w.baseWeight) {
        changes.push(`weight of ${w.id} ${w.baseWeight} -> ${u.weight}`);
        registry.setBaseWeight(w.id, u.weight);
      }
    }
    for (const u of next.values()) if (this.join(u, log)) changes.push(`adding ${u.id}`);
    return changes;
  }

  /** Adds the worker; false (logged) when the table has no room for it now. */
  private join(u: Upstream, log: (line: string) => void): boolean {
    try {
      this.registry!.add(u);
      return true;
    } catch (err) {
      log(`static upstreams: ${u.id} not added: ${(err as Error).message}`);
      return false;
    }
  }

  /** Drains, then removes the worker and adds its successor, unless the worker was kept meanwhile. */
  private leave(id: string, successor: Upstream | null, drainMs: number, log: (line: string) => void): void {
    const registry = this.registry!;
    const token = {};
    this.leaving.set(id, { successor, token });
    void drain(registry, id, drainMs).then(() => {
      const leaving = this.leaving.get(id);
      if (leaving?.token !== token) return;
      this.leaving.delete(id);
      const left = registry.inflight(id);
      registry.remove(id);
      log(`static upstreams: ${id} removed${left > 0 ? ` with ${left} requests still in flight after ${drainMs} ms` : ''}`);
      if (leaving.successor !== null) this.join(leaving.successor, log);
    });
  }

  quiesce(): void {}

  async stop(): Promise<void> {}
}
