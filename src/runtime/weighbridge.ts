import { startAdminServer, type AdminServer } from '../admin/admin-server.js';
import type { Config } from '../config/schema.js';
import type { WorkerDriver } from '../drivers/driver.js';
import { ProcessDriver } from '../drivers/process-driver.js';
import { StaticDriver } from '../drivers/static-driver.js';
import { IngressHost } from '../ingress/ingress-host.js';
import { WorkerRegistry } from '../routing/worker-registry.js';
import { RouteTableWriter } from '../shared/route-table.js';
import { StatsSampler } from '../shared/stats-sampler.js';
import { StatsTable } from '../shared/stats-table.js';
import { WorkerDirectory, WorkerState } from '../shared/worker-directory.js';

export interface Weighbridge {
  readonly ingressPort: number;
  readonly adminPort: number;
  readonly registry: WorkerRegistry;
  readonly driver: WorkerDriver;
  /** Graceful stop: no new connections, in-flight requests get timeouts.shutdownMs, workers stop. */
  stop(): Promise<void>;
}

function createDriver(config: Config, log: (line: string) => void): WorkerDriver {
  const d = config.driver;
  return d.kind === 'static' ? new StaticDriver(d.upstreams) : new ProcessDriver({ ...d, log });
}

/** Starts one weighbridge host: shared tables, workers, ingress threads and the admin API. */
export async function startWeighbridge(config: Config, log: (line: string) => void = (l) => console.error(l)): Promise<Weighbridge> {
  const capacity = config.limits.maxWorkers;
  const routes = RouteTableWriter.create(capacity);
  const stats = StatsTable.create(capacity);
  const directory = WorkerDirectory.create(capacity);
  const sampler = new StatsSampler(stats);
  const registry = new WorkerRegistry(routes, directory, stats, sampler);
  const driver = createDriver(config, log);
  const startedAt = Date.now();

  let ingress: IngressHost | undefined;
  let admin: AdminServer | undefined;
  const sampling = setInterval(() => sampler.sample(registry.activeSlots()), 1000);
  try {
    await driver.start(registry);
    ingress = await IngressHost.start(
      {
        host: config.host,
        port: config.port,
        policy: config.policy,
        capacity,
        routes: routes.buffer,
        stats: stats.buffer,
        directory: directory.buffer,
        limits: config.limits,
        timeouts: config.timeouts,
      },
      config.threads,
      log,
    );
    const ingressHost = ingress;
    admin = await startAdminServer(config.admin.host, config.admin.port, {
      status: () => ({
        name: 'weighbridge',
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        ingress: { host: config.host, port: ingressHost.port, threads: ingressHost.threadCount },
        policy: config.policy,
        driver: driver.kind,
        routeGeneration: routes.generation,
        workers: { total: registry.list().length, ready: registry.list().filter((w) => w.state === WorkerState.ready).length },
        requests: { inflight: stats.inflightTotal, rejectedOverLimit: stats.rejectedTotal, limit: config.limits.maxConcurrentRequests },
      }),
      workers: () => registry.list().map((w) => ({ ...registry.view(w), ...sampler.report(w.slot) })),
    });
  } catch (err) {
    clearInterval(sampling);
    admin?.close();
    await ingress?.close();
    await driver.stop();
    throw err;
  }
  const ingressHost = ingress;
  const adminServer = admin;

  let stopping: Promise<void> | undefined;
  return {
    ingressPort: ingressHost.port,
    adminPort: adminServer.port,
    registry,
    driver,
    stop() {
      stopping ??= (async () => {
        driver.quiesce();
        await ingressHost.stopAccepting();
        const deadline = Date.now() + config.timeouts.shutdownMs;
        while (stats.inflightTotal > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        if (stats.inflightTotal > 0) log(`shutdown: ${stats.inflightTotal} requests still in flight after ${config.timeouts.shutdownMs} ms; closing them`);
        clearInterval(sampling);
        adminServer.close();
        await ingressHost.close();
        await driver.stop();
      })();
      return stopping;
    },
  };
}
