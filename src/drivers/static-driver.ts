import type { StaticUpstream } from '../config/schema.js';
import type { WorkerRegistry } from '../routing/worker-registry.js';
import type { WorkerDriver } from './driver.js';

/** A fixed list of upstream URLs with weights; weighbridge neither starts nor stops them. */
export class StaticDriver implements WorkerDriver {
  readonly kind = 'static';

  constructor(private readonly upstreams: readonly StaticUpstream[]) {}

  async start(registry: WorkerRegistry): Promise<void> {
    for (const upstream of this.upstreams) {
      const url = new URL(upstream.url);
      const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      const port = url.port === '' ? 80 : Number(url.port);
      registry.add({ id: upstream.id ?? url.host, host, port, weight: upstream.weight });
    }
  }

  quiesce(): void {}

  async stop(): Promise<void> {}
}
