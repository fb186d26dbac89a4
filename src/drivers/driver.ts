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

/** A worker as the autoscaler sees it. */
export interface ScalableWorker {
  id: string;
  isDefault: boolean;
  startedAt: number;
  /** In Sundown: draining, then stopped. */
  retiring: boolean;
}

/** A driver that starts and stops single workers (process, docker); static upstreams cannot. */
export interface ScalableDriver extends WorkerDriver {
  list(): ScalableWorker[];
  /** Starts one more worker, not a default one; resolves with its id once it is ready. */
  add(): Promise<string>;
  /** Sundown: no new requests, then stopped once nothing is in flight or after drainMs. */
  retire(id: string, drainMs: number): Promise<void>;
}

export function isScalable(driver: WorkerDriver): driver is ScalableDriver {
  return 'add' in driver && 'retire' in driver && 'list' in driver;
}
