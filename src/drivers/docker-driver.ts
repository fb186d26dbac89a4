import { randomUUID } from 'node:crypto';
import Docker from 'dockerode';
import { DriverError } from '../errors.js';
import type { ResourceReading } from '../metrics/resources.js';
import type { WorkerRegistry } from '../routing/worker-registry.js';
import { drain } from './drain.js';
import type { ScalableDriver, ScalableWorker } from './driver.js';
import { freePort } from './free-port.js';
import { waitForHttp } from './readiness.js';

export interface DockerDriverOptions {
  image: string;
  count: number;
  weight: number;
  /** CPU and memory limits of each container, so that CPU % and memory % mean something. */
  cpus?: number;
  memoryMb?: number;
  /** Label value scoping the containers: weighbridge only ever touches its application's. */
  appId: string;
  socketPath: string;
  network: DockerNetworkOptions;
  readyPath: string;
  readyTimeoutMs: number;
  log: (line: string) => void;
}

export interface DockerNetworkOptions {
  mode: 'host' | 'bridge';
  /** The bridge network; default weighbridge-<appId>. */
  name?: string | undefined;
  /** bridge: through a port published on 127.0.0.1, or by container name on the network. */
  reach: 'published' | 'dns';
  containerPort: number;
}

interface Container extends ScalableWorker {
  container: Docker.Container;
  /** Docker's latest stats sample, kept current by a stats stream. */
  latest: ResourceReading | null;
  stats: NodeJS.ReadableStream | null;
}

const APP_LABEL = 'weighbridge.app';

/**
 * Every container this process created and has not removed, over all Docker drivers: for
 * removeCreatedContainers(). Nothing else would stop them when the process must end now.
 */
const created = new Set<Docker.Container>();

/**
 * Removes (kills first) every container this process created, for a process that must end now (a
 * second SIGINT or SIGTERM, or one while it is still starting); resolves once Docker answered for
 * each, or after `timeoutMs` for an engine that does not answer, so that ending is not held up.
 * A container left by then goes at the next start, with the other leftovers of its application.
 */
export async function removeCreatedContainers(timeoutMs: number): Promise<void> {
  const removals = [...created].map((container) => container.remove({ force: true }).catch(() => undefined));
  created.clear();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
  await Promise.race([Promise.all(removals), late]);
  clearTimeout(timer);
}

/** How often containers are checked for having died or been removed behind weighbridge's back. */
const MONITOR_MS = 1_000;
const STOP_GRACE_S = 5;

/**
 * Workers as Docker containers (dockerode), named weighbridge-<uuid> and labelled with the
 * application id. By default on host networking: each listens on 127.0.0.1 at a port the driver
 * picks, so loopback-only hosts work. Optionally on a dedicated bridge network, where the name is
 * a DNS name (seed 000, section 6). A new container gets traffic only once it answers HTTP. A
 * container that dies or is removed by someone else leaves the route table within a second; the
 * autoscaler then replaces it (its count fell).
 */
export class DockerDriver implements ScalableDriver {
  readonly kind = 'docker';
  private readonly docker: Docker;
  private readonly workers = new Map<string, Container>();
  private registry: WorkerRegistry | null = null;
  private monitor: NodeJS.Timeout | null = null;
  private stopping = false;
  /** Containers being created and started: stop() waits for them, so none outlives it. */
  private readonly launching = new Set<Promise<string>>();
  /** The bridge network containers join (null: host networking), and whether stop() removes it. */
  private network: { name: string; ours: boolean } | null = null;

  constructor(private readonly options: DockerDriverOptions) {
    this.docker = new Docker({ socketPath: options.socketPath });
  }

  async start(registry: WorkerRegistry): Promise<void> {
    this.registry = registry;
    const { socketPath, image, appId } = this.options;
    try {
      await this.docker.ping();
    } catch (err) {
      throw new DriverError('ERR_DOCKER_UNREACHABLE', `cannot reach Docker at ${socketPath}: ${(err as Error).message}`, { cause: err });
    }
    try {
      await this.docker.getImage(image).inspect();
    } catch (err) {
      throw new DriverError('ERR_DOCKER_IMAGE', `Docker image ${image} is not on this host (no registry is asked; build it with npm run image:worker)`, { cause: err });
    }
    // Left over from a run that did not stop cleanly: not ours to trust, so they go.
    const stale = await this.docker.listContainers({ all: true, filters: { label: [`${APP_LABEL}=${appId}`] } });
    await Promise.all(stale.map((c) => this.docker.getContainer(c.Id).remove({ force: true })));
    if (this.options.network.mode === 'bridge') this.network = await this.bridgeNetwork();
    for (let i = 0; i < this.options.count; i++) await this.tracked(true);
    this.monitor = setInterval(() => void this.check(), MONITOR_MS);
    this.monitor.unref();
  }

  /** The configured bridge network, created when missing. One carrying our label is ours to remove at stop; a user's is not. */
  private async bridgeNetwork(): Promise<{ name: string; ours: boolean }> {
    const { appId } = this.options;
    const name = this.options.network.name ?? `weighbridge-${appId}`;
    const existing = await this.docker.getNetwork(name).inspect().catch(() => null) as { Driver?: string; Labels?: Record<string, string> | null } | null;
    if (existing !== null) {
      if (existing.Driver !== 'bridge') throw new DriverError('ERR_DOCKER_NETWORK', `Docker network ${name} exists with driver ${existing.Driver ?? '?'}, not bridge`);
      return { name, ours: existing.Labels?.[APP_LABEL] === appId };
    }
    try {
      await this.docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { [APP_LABEL]: appId } });
    } catch (err) {
      throw new DriverError('ERR_DOCKER_NETWORK', `cannot create Docker network ${name}: ${(err as Error).message}`, { cause: err });
    }
    return { name, ours: true };
  }

  add(): Promise<string> {
    return this.tracked(false);
  }

  private tracked(isDefault: boolean): Promise<string> {
    const launch = this.launch(isDefault);
    this.launching.add(launch);
    const untrack = (): void => void this.launching.delete(launch);
    launch.then(untrack, untrack);
    return launch;
  }

  async retire(id: string, drainMs: number): Promise<void> {
    const w = this.workers.get(id);
    const registry = this.registry;
    if (w === undefined || w.retiring || registry === null) return;
    w.retiring = true;
    await drain(registry, id, drainMs);
    await this.remove(w);
    registry.remove(id);
  }

  list(): ScalableWorker[] {
    return [...this.workers.values()].map(({ id, isDefault, startedAt, retiring }) => ({ id, isDefault, startedAt, retiring }));
  }

  /**
   * Docker's own counters (seed 000, section 3.1): CPU and system nanoseconds, memory against the
   * container's limit. Read from each container's stats stream: a one-off stats request waits for
   * the engine's next sample (about a second), longer than a collector interval may take.
   */
  async resources(): Promise<Map<string, ResourceReading>> {
    const readings = new Map<string, ResourceReading>();
    for (const w of this.workers.values()) if (w.latest !== null) readings.set(w.id, w.latest);
    return readings;
  }

  private async followStats(w: Container): Promise<void> {
    const stream = (await w.container.stats({ stream: true })) as NodeJS.ReadableStream;
    if (!this.workers.has(w.id)) return void (stream as unknown as { destroy(): void }).destroy();
    w.stats = stream;
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        w.latest = toReading(line) ?? w.latest;
      }
    });
    stream.on('error', () => undefined);
  }

  quiesce(): void {
    this.stopping = true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.monitor) clearInterval(this.monitor);
    await Promise.allSettled([...this.launching]);
    await Promise.all([...this.workers.values()].map((w) => this.remove(w)));
    if (this.network?.ours) await this.docker.getNetwork(this.network.name).remove().catch((err: Error) => this.options.log(`Docker network ${this.network!.name} stays: ${err.message}`));
  }

  /** Where the container listens and how the ingress reaches it, per network mode. */
  private async placement(id: string): Promise<{ create: Partial<Docker.ContainerCreateOptions>; env: string[]; host: string; port: number }> {
    const net = this.network;
    if (net === null) {
      const port = await freePort();
      return { create: { HostConfig: { NetworkMode: 'host' } }, env: [`PORT=${port}`, 'HOST=127.0.0.1'], host: '127.0.0.1', port };
    }
    const { containerPort, reach } = this.options.network;
    const exposed = `${containerPort}/tcp`;
    // On a user-defined network Docker's DNS resolves the container's name: no alias needed.
    const create: Partial<Docker.ContainerCreateOptions> = { HostConfig: { NetworkMode: net.name } };
    const env = [`PORT=${containerPort}`, 'HOST=0.0.0.0'];
    if (reach === 'dns') return { create, env, host: id, port: containerPort };
    const port = await freePort();
    create.ExposedPorts = { [exposed]: {} };
    create.HostConfig!.PortBindings = { [exposed]: [{ HostIp: '127.0.0.1', HostPort: String(port) }] };
    return { create, env, host: '127.0.0.1', port };
  }

  private async launch(isDefault: boolean): Promise<string> {
    const o = this.options;
    const id = `weighbridge-${randomUUID()}`;
    const { create, env, host, port } = await this.placement(id);
    const container = await this.docker.createContainer({
      ...create,
      name: id,
      Image: o.image,
      Env: [...env, `WORKER_ID=${id}`],
      Labels: { [APP_LABEL]: o.appId, 'weighbridge.address': `${host}:${port}` },
      HostConfig: {
        ...create.HostConfig,
        ...(o.cpus === undefined ? {} : { NanoCpus: Math.round(o.cpus * 1e9) }),
        ...(o.memoryMb === undefined ? {} : { Memory: o.memoryMb * 1024 * 1024 }),
      },
    });
    created.add(container);
    const w: Container = { id, container, isDefault, startedAt: Date.now(), retiring: false, latest: null, stats: null };
    try {
      await container.start();
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined);
      created.delete(container);
      throw err;
    }
    // Watched by check() only once started: a created container is not running yet.
    this.workers.set(id, w);
    this.followStats(w).catch((err: Error) => o.log(`worker ${id}: no stats from Docker: ${err.message}`));
    // RustyBalancer sent traffic to containers that were still starting; this one waits.
    if (!(await waitForHttp(host, port, o.readyPath, o.readyTimeoutMs, () => !this.stopping && this.workers.has(id)))) {
      await this.remove(w);
      throw new DriverError('ERR_WORKER_NOT_READY', `container ${id} (${o.image}) did not answer GET ${o.readyPath} at ${host}:${port} within ${o.readyTimeoutMs} ms`);
    }
    this.registry!.add({ id, host, port, weight: o.weight, isDefault });
    return id;
  }

  private async remove(w: Container): Promise<void> {
    this.workers.delete(w.id);
    (w.stats as unknown as { destroy?(): void } | null)?.destroy?.();
    await w.container.stop({ t: STOP_GRACE_S }).catch(() => undefined);
    await w.container.remove({ force: true }).catch(() => undefined);
    created.delete(w.container);
  }

  /** Containers that stopped running (crashed, or stopped or removed by someone else) leave the pool. */
  private async check(): Promise<void> {
    for (const w of [...this.workers.values()]) {
      if (w.retiring || this.stopping) continue;
      const running = await w.container.inspect().then((info) => info.State.Running, () => false);
      if (running || !this.workers.has(w.id) || w.retiring) continue;
      this.options.log(`worker ${w.id} is no longer running; it leaves the pool`);
      this.registry?.remove(w.id);
      await this.remove(w);
    }
  }
}

/** One line of Docker's stats stream as a reading; null for a line without the counters (the first has no system time yet). */
function toReading(line: string): ResourceReading | null {
  try {
    const s = JSON.parse(line) as { cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number }; memory_stats?: { usage?: number; limit?: number } };
    const cpu = s.cpu_stats?.cpu_usage?.total_usage;
    const system = s.cpu_stats?.system_cpu_usage;
    if (cpu === undefined || system === undefined) return null;
    return { cpu, system, cpus: s.cpu_stats?.online_cpus ?? 1, memoryBytes: s.memory_stats?.usage ?? 0, memoryLimitBytes: s.memory_stats?.limit ?? 0 };
  } catch {
    return null;
  }
}
