import type { ResourceReading } from '../metrics/resources.js';
import type { WorkerRegistry } from '../routing/worker-registry.js';

/** Brings workers into a registry and takes them away on stop. */
export interface WorkerDriver {
  readonly kind: string;
  start(registry: WorkerRegistry): Promise<void>;
  /** Shutdown has begun: replace nothing that exits from now on. */
  quiesce(): void;
  stop(): Promise<void>;
  /** CPU and memory of the workers it runs, by id; absent when it cannot measure them (static upstreams). */
  resources?(): Promise<Map<string, ResourceReading>>;
}
