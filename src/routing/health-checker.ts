import { Prober } from '../metrics/probe.js';
import { WorkerState } from '../shared/worker-directory.js';
import { HealthTracker } from './health-tracker.js';
import type { WorkerRecord, WorkerRegistry } from './worker-registry.js';

export interface HealthCheckOptions {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
}

/**
 * Active health checks of a host's workers: every interval, one GET to each worker that is ready
 * or out for failing its checks or ejected by outlier detection (the collector's Prober:
 * keep-alive, any answer below 500 within the timeout passes), and the HealthTracker's verdict
 * applied to the route table. An ejected worker that passes is readmitted before its ejection
 * ends, as Envoy does by default (successful_active_health_check_uneject_host): ejections grow to
 * maxEjectionMs, which would keep a recovered worker out for minutes. Workers that are draining
 * or down are left to their drivers.
 */
export class HealthChecker {
  private readonly tracker: HealthTracker;
  private readonly prober: Prober;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly options: HealthCheckOptions,
    private readonly log: (line: string) => void,
  ) {
    this.tracker = new HealthTracker(options);
    this.prober = new Prober({ path: options.path, timeoutMs: options.timeoutMs });
  }

  start(): void {
    this.timer ??= setInterval(() => void this.round(), this.options.intervalMs);
  }

  /** One round; a round still waiting on a slow worker makes the next one wait for the interval after. */
  async round(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const out = (w: WorkerRecord): boolean => w.state === WorkerState.unhealthy || w.state === WorkerState.ejected;
      const checked = this.registry.list().filter((w) => w.state === WorkerState.ready || out(w));
      // Counted per registration (slot and incarnation), so a new worker under an old id starts afresh.
      const key = (w: WorkerRecord): string => `${w.slot}:${w.incarnation}`;
      const results = await Promise.all(
        checked.map(async (w) => ({ id: key(w), ok: (await this.prober.probe(w.host, w.port)) !== null, unhealthy: out(w) })),
      );
      const verdict = this.tracker.record(results);
      const { path, unhealthyThreshold, healthyThreshold } = this.options;
      // The worker may have moved on while the checks ran (a drain, a crash, a new worker under
      // its id): only the very record that was checked, still in its state, is changed.
      const probed = new Map(checked.map((w) => [key(w), w]));
      const still = (k: string, ...states: number[]): WorkerRecord | undefined => {
        const w = probed.get(k);
        return w !== undefined && this.registry.get(w.id) === w && states.includes(w.state) ? w : undefined;
      };
      for (const k of verdict.unhealthy) {
        const w = still(k, WorkerState.ready);
        if (w === undefined) continue;
        this.registry.setState(w.id, WorkerState.unhealthy);
        this.log(`worker ${w.id} failed ${unhealthyThreshold} health checks in a row (GET ${path}): out of the table until it passes ${healthyThreshold}`);
      }
      for (const k of verdict.healthy) {
        const w = still(k, WorkerState.unhealthy, WorkerState.ejected);
        if (w === undefined) continue;
        const ejected = w.state === WorkerState.ejected;
        this.registry.setState(w.id, WorkerState.ready);
        this.log(`worker ${w.id} passed ${healthyThreshold} health checks in a row: back in the table${ejected ? ' before its ejection ended' : ''}`);
      }
    } finally {
      this.checking = false;
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.prober.close();
  }
}
