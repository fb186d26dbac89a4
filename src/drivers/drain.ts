import type { WorkerRegistry } from '../routing/worker-registry.js';
import { WorkerState } from '../shared/worker-directory.js';

/**
 * Sundown's first half (seed 000, section 3.3): the worker leaves the route table at once and
 * the requests in flight get up to drainMs to finish. The driver stops it afterwards.
 */
export async function drain(registry: WorkerRegistry, id: string, drainMs: number): Promise<void> {
  registry.setState(id, WorkerState.draining);
  const deadline = Date.now() + drainMs;
  while (registry.inflight(id) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}
