/**
 * One reading of a worker's resource use, the same for every driver: CPU in any unit, as long as
 * `cpu` and `system` share it (clock ticks from /proc, nanoseconds from Docker), so that
 * cpu% = delta cpu / delta system x cpus x 100 (seed 000, section 3.1).
 */
export interface ResourceReading {
  cpu: number;
  system: number;
  cpus: number;
  memoryBytes: number;
  /** The worker's memory limit (its container's, or the configured one for processes). */
  memoryLimitBytes: number;
}

/** What a host can measure about the workers it runs itself. */
export interface LocalWorkers {
  /** Readings of the workers running now, by id; absent ids could not be measured. */
  resources(): Promise<Map<string, ResourceReading>>;
  /** Where each local worker listens, for the active probe. */
  endpoints(): { id: string; host: string; port: number }[];
}
