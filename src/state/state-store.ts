import { createHash } from 'node:crypto';

/**
 * What weighbridge remembers about its workers between restarts (seed 000, section 7): one entry
 * per worker, scoped by application id, so that several applications share one Redis without
 * touching each other's keys (RustyBalancer deleted other applications' entries).
 */
export interface WorkerEntry {
  /** The driver's name for the worker (weighbridge-<uuid> for containers). */
  name: string;
  host: string;
  port: number;
  /** The container image; null for process and static workers. */
  image: string | null;
  /** The scorer's last verdict, when there is one. */
  category: string | null;
  score: number | null;
  /** The worker's phase: init, LU, MU, HU, sundown, shutdown. */
  state: string;
  updatedAt: number;
}

export interface StateStore {
  readonly kind: 'memory' | 'redis';
  readonly app: string;
  list(): Promise<WorkerEntry[]>;
  put(entry: WorkerEntry): Promise<void>;
  remove(name: string): Promise<void>;
  /** C_default (seed 000, section 3.4), or null when never set. */
  getDefaultCount(): Promise<number | null>;
  setDefaultCount(count: number): Promise<void>;
  close(): Promise<void>;
}

/** The seed's key: md5 of the application id and the worker name (JSON, so no separator can collide). */
export function entryId(app: string, name: string): string {
  return createHash('md5').update(JSON.stringify([app, name])).digest('hex');
}
