import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { readProcessUsage, readSystemCpuTicks } from '../metrics/proc.js';
import type { ResourceReading } from '../metrics/resources.js';
import type { WorkerRegistry } from '../routing/worker-registry.js';
import { WorkerState } from '../shared/worker-directory.js';
import { drain } from './drain.js';
import type { ScalableDriver, ScalableWorker } from './driver.js';
import { freePort, waitForPort } from './free-port.js';
import { Backoff } from '../util/backoff.js';

export interface ProcessDriverOptions {
  /** argv; empty runs the bundled example worker. */
  command: readonly string[];
  count: number;
  basePort: number;
  weight: number;
  restartBackoffMs: { initial: number; max: number };
  /** How long a started worker may take to listen on its port before it is killed and restarted. */
  readyTimeoutMs: number;
  /** What memory % is measured against; processes have no limit of their own. Default: the machine's memory. */
  memoryLimitBytes?: number;
  log: (line: string) => void;
}

const EXAMPLE_WORKER = fileURLToPath(new URL('../worker/example-worker.js', import.meta.url));
/** A worker that stayed up this long has its restart backoff reset. */
const STABLE_MS = 10_000;
const STOP_GRACE_MS = 5_000;

/**
 * Every worker process this process has running, over all drivers: for killSpawnedWorkers().
 * They run in process groups of their own (see launch()), so nothing else would stop them.
 */
const spawned = new Set<ChildProcess>();

/**
 * Kills every worker process (and its process group) at once, synchronously: for a process that
 * must end now (a second SIGTERM, a signal before the graceful stop is set up), which would
 * otherwise leave them running, holding their ports.
 */
export function killSpawnedWorkers(): void {
  for (const child of spawned) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
  spawned.clear();
}

interface Managed {
  id: string;
  port: number;
  child: ChildProcess | null;
  backoff: Backoff;
  restartTimer: NodeJS.Timeout | null;
  /** The configured ones are default workers (seed 000, section 3.3); the autoscaler's are not. */
  isDefault: boolean;
  startedAt: number;
  /** In Sundown: draining, then stopped, never restarted. */
  retiring: boolean;
}

/**
 * Local worker processes: N copies of a command, each with PORT (and WORKER_ID) in its
 * environment, listening on 127.0.0.1. A worker that exits is marked down at once and restarted
 * with exponential backoff; stop() ends them all (SIGTERM, then SIGKILL after a grace period).
 */
export class ProcessDriver implements ScalableDriver {
  readonly kind = 'process';
  private readonly workers: Managed[] = [];
  private registry: WorkerRegistry | null = null;
  private stopping = false;
  private started = 0;

  constructor(private readonly options: ProcessDriverOptions) {}

  async start(registry: WorkerRegistry): Promise<void> {
    this.registry = registry;
    for (let i = 0; i < this.options.count; i++) this.workers.push(await this.manage(true));
    await Promise.all(this.workers.map((w) => this.launch(w)));
  }

  async add(): Promise<string> {
    const w = await this.manage(false);
    this.workers.push(w);
    await this.launch(w);
    return w.id;
  }

  async retire(id: string, drainMs: number): Promise<void> {
    const w = this.workers.find((x) => x.id === id);
    const registry = this.registry;
    if (w === undefined || w.retiring || registry === null) return;
    w.retiring = true;
    await drain(registry, id, drainMs);
    await this.terminate(w);
    registry.remove(id);
    this.workers.splice(this.workers.indexOf(w), 1);
  }

  list(): ScalableWorker[] {
    return this.workers.map((w) => ({ id: w.id, isDefault: w.isDefault, startedAt: w.startedAt, retiring: w.retiring }));
  }

  private async manage(isDefault: boolean): Promise<Managed> {
    const index = this.started++;
    const port = this.options.basePort > 0 ? this.options.basePort + index : await freePort();
    return { id: `worker-${index + 1}`, port, child: null, backoff: new Backoff(this.options.restartBackoffMs, STABLE_MS), restartTimer: null, isDefault, startedAt: Date.now(), retiring: false };
  }

  quiesce(): void {
    this.stopping = true;
    // A restart due during the drain would only start a worker to stop it.
    for (const w of this.workers) {
      if (w.restartTimer) clearTimeout(w.restartTimer);
      w.restartTimer = null;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers.map((w) => this.terminate(w)));
  }

  /** SIGTERM, then SIGKILL after a grace period. */
  private async terminate(w: Managed): Promise<void> {
    if (w.restartTimer) clearTimeout(w.restartTimer);
    const child = w.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  /** CPU ticks and resident memory from /proc, seed 000 section 3.1 (the worker process only, not its children). */
  async resources(): Promise<Map<string, ResourceReading>> {
    const system = await readSystemCpuTicks();
    const limit = this.options.memoryLimitBytes ?? totalmem();
    const readings = await Promise.all(
      this.workers.map(async (w) => {
        const pid = w.child?.pid;
        const usage = pid === undefined || w.child?.exitCode !== null ? null : await readProcessUsage(pid);
        return usage === null ? null : ([w.id, { cpu: usage.cpuTicks, system, cpus: cpus().length, memoryBytes: usage.memoryBytes, memoryLimitBytes: limit }] as const);
      }),
    );
    return new Map(readings.filter((r) => r !== null));
  }

  /** The children's process ids, for tests and the admin API. */
  pids(): Map<string, number | undefined> {
    return new Map(this.workers.map((w) => [w.id, w.child?.pid]));
  }

  private async launch(w: Managed): Promise<void> {
    const [file, ...args] = this.options.command.length > 0 ? this.options.command : [process.execPath, EXAMPLE_WORKER];
    const child = spawn(file!, args, {
      env: { ...process.env, PORT: String(w.port), HOST: '127.0.0.1', WORKER_ID: w.id },
      stdio: ['ignore', 'inherit', 'inherit'],
      // A process group of its own: Ctrl-C in a terminal signals weighbridge, which drains
      // in-flight requests before it stops the workers itself.
      detached: true,
    });
    w.child = child;
    w.backoff.started(Date.now());
    if (child.pid !== undefined) spawned.add(child);
    let alive = true;
    // A command that cannot be run (ENOENT) gets 'error' and no 'exit': either is a failure,
    // restarted with backoff as a crash is.
    const failed = (why: string): void => {
      if (!alive) return;
      alive = false;
      spawned.delete(child);
      if (this.stopping || w.retiring) return;
      this.registry?.setState(w.id, WorkerState.down);
      const delay = w.backoff.failed(Date.now());
      this.options.log(`worker ${w.id} ${why}; restarting in ${delay} ms`);
      w.restartTimer = setTimeout(() => {
        w.restartTimer = null;
        this.launch(w).catch((err: Error) => this.options.log(`worker ${w.id} restart failed: ${err.message}`));
      }, delay);
    };
    child.once('error', (err) => failed(`could not start: ${err.message}`));
    child.once('exit', (code, signal) => failed(`(pid ${child.pid}) exited with ${signal ?? `code ${code}`}`));
    const ready = await waitForPort('127.0.0.1', w.port, this.options.readyTimeoutMs, () => alive && !this.stopping && !w.retiring);
    if (!ready && alive && !this.stopping && !w.retiring) {
      // Running but not listening: as good as crashed, and never to be put in the table.
      this.options.log(`worker ${w.id} (pid ${child.pid}) did not listen on port ${w.port} within ${this.options.readyTimeoutMs} ms; killing it`);
      child.kill('SIGKILL');
      return;
    }
    if (!ready || this.stopping || w.retiring) return;
    const registry = this.registry!;
    if (registry.get(w.id)) registry.setState(w.id, WorkerState.ready);
    else registry.add({ id: w.id, host: '127.0.0.1', port: w.port, weight: this.options.weight, isDefault: w.isDefault });
  }
}
