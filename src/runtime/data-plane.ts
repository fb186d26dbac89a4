import type { Config } from '../config/schema.js';
import { WeighbridgeError } from '../errors.js';
import type { WorkerDriver } from '../drivers/driver.js';
import type { LocalWorkers } from '../metrics/resources.js';
import { DockerDriver } from '../drivers/docker-driver.js';
import { ProcessDriver } from '../drivers/process-driver.js';
import { StaticDriver } from '../drivers/static-driver.js';
import { AccessLog } from '../ingress/access-log.js';
import { IngressHost } from '../ingress/ingress-host.js';
import { checkTlsFiles, tlsDigest } from '../ingress/tls-files.js';
import { HealthChecker } from '../routing/health-checker.js';
import { OutlierDetector } from '../routing/outlier-detector.js';
import { WorkerRegistry, type WorkerView } from '../routing/worker-registry.js';
import { RateTable } from '../shared/rate-table.js';
import { RouteTableWriter } from '../shared/route-table.js';
import { StatsSampler, type WorkerStatsReport } from '../shared/stats-sampler.js';
import { StatsTable } from '../shared/stats-table.js';
import { WorkerDirectory, WorkerState } from '../shared/worker-directory.js';
import { peerCacheStatus, type PeerCacheStatus } from '../ingress/peer-cache.js';
import { readsRawHeads } from '../ingress/raw-head.js';

/**
 * Clients the per-client rate limit tracks at once per host (16 bytes each): more inside their
 * burst at the same moment than this, and the rest pass unchecked (see RateTable).
 */
const RATE_LIMITED_CLIENTS = 65_536;

export interface DataPlaneStatus {
  /**
   * clientAddressCache: native/peer-cache, whether it answers the ingress's getpeername() calls;
   * rawRequestHeads: whether request heads are read as received (src/ingress/raw-head.ts).
   */
  ingress: { host: string; port: number; tlsPort: number | null; threads: number; clientAddressCache: PeerCacheStatus; rawRequestHeads: boolean };
  policy: string;
  driver: string;
  routeGeneration: number;
  workers: { total: number; ready: number };
  /**
   * rateLimited: answered 429 over limits.clientRequestsPerSecond; rateTableFull: admitted unchecked, the rate table having no room for their client;
   * queued: waiting now for a worker under limits.maxRequestsPerWorker; queueTimeouts: answered 503 after timeouts.queueMs of that;
   * forbidden: answered 403 by the access lists.
   */
  requests: { inflight: number; rejectedOverLimit: number; limit: number; rateLimited: number; rateTableFull: number; queued: number; queueTimeouts: number; forbidden: number };
}

/** The ingress role's data plane: shared tables, workers and ingress threads. */
export interface DataPlane {
  readonly ingressPort: number;
  /** The HTTPS port, null without tls. */
  readonly ingressTlsPort: number | null;
  readonly registry: WorkerRegistry;
  readonly sampler: StatsSampler;
  readonly driver: WorkerDriver;
  /** This host's workers, as its collector measures them. */
  readonly local: LocalWorkers;
  status(): DataPlaneStatus;
  workers(): (WorkerView & WorkerStatsReport)[];
  /** Each ingress thread's own counters, over comlink. */
  threads(): Promise<unknown[]>;
  /**
   * Applies new limits and timeouts to every ingress thread, and reads the TLS files again (a
   * renewed certificate). Files that do not load are a ConfigError, and nothing is applied.
   */
  reload(config: Config): Promise<void>;
  /** Every ingress thread reopens the access log (after log rotation moved the file). */
  reopenAccessLog(): Promise<void>;
  /**
   * The admin API's drain (no new requests; those in flight finish) and its undoing, for one
   * worker; a WeighbridgeError for an unknown worker or one draining for another reason.
   */
  holdWorker(id: string, hold: 'drain' | 'ready'): WorkerView;
  /** Graceful stop: no new connections, in-flight requests get timeouts.shutdownMs, workers stop. */
  stop(): Promise<void>;
}

function createDriver(config: Config, log: (line: string) => void): WorkerDriver {
  const d = config.driver;
  if (d.kind === 'static') return new StaticDriver(d.upstreams);
  if (d.kind === 'docker') {
    const { kind: _kind, ...docker } = d;
    return new DockerDriver({ ...docker, appId: config.appId, log });
  }
  const { memoryLimitMb, ...rest } = d;
  return new ProcessDriver({ ...rest, ...(memoryLimitMb === undefined ? {} : { memoryLimitBytes: memoryLimitMb * 1024 * 1024 }), log });
}

/** Starts the data plane: shared tables, workers and ingress threads. */
export async function startDataPlane(config: Config, log: (line: string) => void): Promise<DataPlane> {
  if (config.accessLog !== undefined) AccessLog.check(config.accessLog);
  if (config.tls !== undefined) checkTlsFiles(config.tls);
  /** What the TLS listeners serve now, to skip reloads that change none of it. */
  let tlsLoaded = config.tls === undefined ? null : tlsDigest(config.tls);
  const capacity = config.limits.maxWorkers;
  const routes = RouteTableWriter.create(capacity);
  // A lane per ingress thread, so a thread that dies does not leave its requests in flight.
  const stats = StatsTable.create(capacity, config.threads);
  const rates = RateTable.create(RATE_LIMITED_CLIENTS);
  const directory = WorkerDirectory.create(capacity);
  const sampler = new StatsSampler(stats);
  const registry = new WorkerRegistry(routes, directory, stats, sampler, { slowStartMs: config.slowStartMs });
  const driver = createDriver(config, log);

  let ingress: IngressHost | undefined;
  const sampling = setInterval(() => sampler.sample(registry.activeSlots()), 1000);
  const detector = new OutlierDetector(config.outlierDetection);
  // Five times a second, so a broken worker is out well within a second of its last failure.
  const outliers = setInterval(() => {
    registry.tick();
    const candidates = registry.list().filter((w) => w.state === WorkerState.ready || w.state === WorkerState.ejected);
    const failures = new Map(candidates.map((w) => [w.id, stats.consecutiveFailures(w.slot)]));
    const verdict = detector.check(
      Date.now(),
      candidates.map((w) => ({ id: w.id, consecutiveFailures: failures.get(w.id)!, ejected: w.state === WorkerState.ejected })),
    );
    for (const { id, forMs } of verdict.eject) {
      registry.setState(id, WorkerState.ejected);
      stats.resetConsecutiveFailures(registry.get(id)!.slot);
      log(`worker ${id} ejected for ${forMs} ms after ${failures.get(id)} failures in a row`);
    }
    for (const id of verdict.readmit) {
      registry.setState(id, WorkerState.ready);
      log(`worker ${id} readmitted after its ejection`);
    }
  }, 200);
  const health = config.healthCheck.enabled ? new HealthChecker(registry, config.healthCheck, log) : null;
  try {
    await driver.start(registry);
    health?.start();
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
        rates: rates.buffer,
        timeouts: config.timeouts,
        accessLog: config.accessLog ?? null,
        tls: config.tls ?? null,
        sticky: config.stickySessions ?? null,
        requestId: config.requestId ?? null,
        trustedProxies: config.trustedProxies,
        access: config.access,
        headers: config.headers,
      },
      config.threads,
      log,
    );
  } catch (err) {
    clearInterval(sampling);
    clearInterval(outliers);
    health?.stop();
    await ingress?.close();
    await driver.stop();
    throw err;
  }
  const ingressHost = ingress;

  let stopping: Promise<void> | undefined;
  return {
    ingressPort: ingressHost.port,
    ingressTlsPort: ingressHost.tlsPort,
    registry,
    sampler,
    driver,
    local: {
      resources: () => driver.resources?.() ?? Promise.resolve(new Map()),
      endpoints: () => registry.list().map((w) => ({ id: w.id, host: w.host, port: w.port })),
    },
    status: () => ({
      ingress: { host: config.host, port: ingressHost.port, tlsPort: ingressHost.tlsPort, threads: ingressHost.threadCount, clientAddressCache: peerCacheStatus(), rawRequestHeads: readsRawHeads },
      policy: config.policy,
      driver: driver.kind,
      routeGeneration: routes.generation,
      workers: { total: registry.list().length, ready: registry.list().filter((w) => w.state === WorkerState.ready).length },
      requests: { inflight: stats.inflightTotal, rejectedOverLimit: stats.rejectedTotal, limit: config.limits.maxConcurrentRequests, rateLimited: rates.limitedTotal, rateTableFull: rates.tableFullTotal, queued: stats.queuedTotal, queueTimeouts: stats.queueTimeoutsTotal, forbidden: stats.forbiddenTotal },
    }),
    workers: () => registry.list().map((w) => ({ ...registry.view(w), ...sampler.report(w.slot) })),
    threads: () => ingressHost.snapshot(),
    async reload(next) {
      // TLS first: files that do not load (Node's check, then every thread's) leave every setting as it was.
      if (next.tls !== undefined && config.tls !== undefined) {
        checkTlsFiles(next.tls);
        const digest = tlsDigest(next.tls);
        if (digest !== tlsLoaded) {
          const { certFile, keyFile, passphrase, certificates } = next.tls;
          await ingressHost.reloadTls({ certFile, keyFile, passphrase, certificates });
          tlsLoaded = digest;
          log('TLS: the new certificates serve new connections');
        }
      }
      await ingressHost.reload({ limits: next.limits, timeouts: next.timeouts });
      if (driver instanceof StaticDriver && next.driver.kind === 'static') {
        const changes = driver.update(next.driver.upstreams, next.timeouts.shutdownMs, log);
        if (changes.length > 0) log(`static upstreams reloaded: ${changes.join('; ')}`);
      }
    },
    reopenAccessLog: () => ingressHost.reopenAccessLog(),
    holdWorker(id, hold) {
      const worker = registry.get(id);
      if (worker === undefined) throw new WeighbridgeError('ERR_BAD_REQUEST', `no worker ${id} on this host`);
      // Only a worker drained this way is made ready: one in Sundown or leaving stays on its course.
      if (hold === 'drain') {
        if (worker.state !== WorkerState.draining) registry.hold(id);
      } else if (!registry.release(id)) {
        throw new WeighbridgeError('ERR_BAD_REQUEST', `worker ${id} is ${registry.view(worker).state}, not drained through the admin API`);
      }
      return registry.view(worker);
    },
    stop() {
      stopping ??= (async () => {
        driver.quiesce();
        await ingressHost.drain();
        const deadline = Date.now() + config.timeouts.shutdownMs;
        while (stats.inflightTotal > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        if (stats.inflightTotal > 0) log(`shutdown: ${stats.inflightTotal} requests still in flight after ${config.timeouts.shutdownMs} ms; closing them`);
        clearInterval(sampling);
        clearInterval(outliers);
        health?.stop();
        await ingressHost.close();
        await driver.stop();
      })();
      return stopping;
    },
  };
}
