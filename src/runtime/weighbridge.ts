import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { collector } from '../../actors/collector.js';
import { ingressAgent, type AppliedWeights } from '../../actors/ingress-agent.js';
import { leaderOnly, watch } from '../../actors/leader-only.js';
import { scorer } from '../../actors/scorer.js';
import { Supervisor } from '../actor/supervisor.js';
import { startAdminServer, TextReply, type AdminServer } from '../admin/admin-server.js';
import { EXPOSITION_CONTENT_TYPE, formatExposition } from '../admin/prometheus.js';
import type { Bus, Log } from '../bus/bus.js';
import { connectBus } from '../bus/connect.js';
import type { LeadershipStatus } from '../cluster/leadership.js';
import { Presence } from '../cluster/presence.js';
import type { Config } from '../config/schema.js';
import { ConfigError, WeighbridgeError } from '../errors.js';
import type { WorkerScore } from '../scoring/score-book.js';
import { MemoryStateStore } from '../state/memory-store.js';
import { Reconciler } from '../state/reconciler.js';
import { RedisStateStore } from '../state/redis-store.js';
import { isScalable } from '../drivers/driver.js';
import { Autoscaler } from '../scaling/autoscaler.js';
import { ClusterFleet } from '../scaling/fleet.js';
import { fleetAgent } from '../../actors/fleet-agent.js';
import { minWorkers, weightBasis } from '../config/schema.js';
import type { StateStore } from '../state/state-store.js';
import { topics } from '../bus/subjects.js';
import { startDataPlane, type DataPlane } from './data-plane.js';
import { hostMetrics } from './host-metrics.js';
import type { RoleName } from './roles.js';

/** The one pool until pools arrive; subjects and leases are per pool already. */
const POOL = 'default';

export interface Weighbridge {
  readonly hostId: string;
  readonly roles: readonly RoleName[];
  /** The ingress port, or null on a host without the ingress role. */
  readonly ingressPort: number | null;
  readonly adminPort: number;
  readonly dataPlane: DataPlane | null;
  /** Resolves once the bus is connected and the roles' actors run. */
  readonly ready: Promise<void>;
  /**
   * Applies a changed configuration's limits and timeouts at once and reads the TLS files again;
   * returns the changed fields that need a restart instead (listeners, roles, bus, driver, policy).
   */
  reload(next: Config): Promise<string[]>;
  /** Graceful stop: actors give up their leases, the ingress drains, workers stop, the bus closes. */
  stop(): Promise<void>;
}

function defaultHostId(): string {
  return `${hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 48)}-${process.pid}`;
}

/**
 * Starts one weighbridge host with the roles of its configuration. The data plane and the admin
 * API start at once; the actors start when the bus is up, so an ingress host serves with its
 * configured weights even while NATS is unreachable.
 */
export async function startWeighbridge(config: Config, log: Log = (l) => console.error(l)): Promise<Weighbridge> {
  const hostId = config.hostId ?? defaultHostId();
  const roles = new Set<RoleName>(config.roles);
  const startedAt = Date.now();
  const leadership = new Map<string, LeadershipStatus>();
  let applied: AppliedWeights | null = null;
  let scores: { at: number; workers: WorkerScore[] } | null = null;
  let bus: Bus | null = null;
  let supervisor: Supervisor | null = null;
  let presence: Presence | null = null;
  let stopped = false;

  // Listen addresses that are no address (a typo, a name that does not resolve) stop the start
  // before any worker runs, as the configuration's fault.
  await checkListenHosts(config, roles.has('ingress'));
  // The state store first: a wrong Redis URL or password stops the start before anything runs.
  let store: StateStore | null = null;
  if (roles.has('reconciler') || roles.has('autoscaler')) store = config.redis ? await RedisStateStore.connect(config.redis.url, config.appId, { tls: config.redis.tls }) : new MemoryStateStore(config.appId);
  const reconciler = store !== null && roles.has('reconciler') ? new Reconciler(store, { staleMs: 3 * config.bus.statsIntervalMs, log }) : null;
  let dataPlane: DataPlane | null;
  try {
    dataPlane = roles.has('ingress') ? await startDataPlane(config, log) : null;
  } catch (err) {
    await store?.close();
    throw err;
  }
  // The autoscaler scales every host's process or Docker workers, through each host's fleet agent.
  const fleet = roles.has('autoscaler') ? new ClusterFleet({ hostId, staleMs: 3 * config.bus.statsIntervalMs, commandTimeoutMs: config.autoscaler.startTimeoutMs }) : null;
  const autoscaler = store !== null && fleet !== null ? new Autoscaler(fleet, store, { ...config.autoscaler, minWorkers: minWorkers(config), log }) : null;
  const driver = dataPlane?.driver;
  const scalable = driver !== undefined && isScalable(driver) ? driver : null;
  const holdWorker = (body: unknown, hold: 'drain' | 'ready') => {
    if (dataPlane === null) throw new WeighbridgeError('ERR_BAD_REQUEST', 'no data plane runs on this host');
    const id = (body as { id?: unknown } | null)?.id;
    if (typeof id !== 'string') throw new WeighbridgeError('ERR_BAD_REQUEST', 'expected {"id": "<worker id>"}');
    return dataPlane.holdWorker(id, hold);
  };
  let admin: AdminServer;
  try {
    admin = await startAdminServer(config.admin.host, config.admin.port, {
      '/api/status': () => ({
        name: 'weighbridge',
        host: hostId,
        roles: config.roles,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        bus: bus === null ? { kind: config.bus.nats ? 'nats' : 'in-process', state: 'connecting' } : { kind: bus.kind, state: bus.state, counters: bus.counters },
        leadership: [...leadership.values()],
        weights: applied,
        ...(dataPlane === null ? {} : (dataPlane.status() as object)),
      }),
      '/api/workers': () => dataPlane?.workers() ?? [],
      '/api/scores': () => scores ?? { at: null, workers: [] },
      '/api/hosts': () => presence?.list() ?? [],
      '/api/state': () => (reconciler === null ? null : { store: store!.kind, app: store!.app, workers: reconciler.entries() }),
      '/api/autoscaler': () => autoscaler?.status() ?? null,
      '/api/actors': () => supervisor?.status() ?? [],
      '/api/threads': () => dataPlane?.threads() ?? [],
      '/metrics': () => {
        const plane = dataPlane;
        const status = plane?.status();
        const families = hostMetrics({
          startedAtMs: startedAt,
          bus: bus === null ? null : { kind: bus.kind, connected: bus.state === 'connected', counters: bus.counters },
          actors: supervisor?.status() ?? [],
          ingress: plane === null || status === undefined ? null : {
            threads: status.ingress.threads,
            inflight: status.requests.inflight,
            rejected: status.requests.rejectedOverLimit,
            rateLimited: status.requests.rateLimited,
            rateTableFull: status.requests.rateTableFull,
            queued: status.requests.queued,
            queueTimeouts: status.requests.queueTimeouts,
            forbidden: status.requests.forbidden,
            workers: plane.workers().map((w) => ({ ...w, latency: plane.sampler.latencyHistogram(w.slot) })),
          },
          scores: scores?.workers ?? null,
          autoscaler: autoscaler?.status() ?? null,
          leadership: [...leadership.values()],
        });
        return new TextReply(EXPOSITION_CONTENT_TYPE, formatExposition(families));
      },
    }, {
      '/api/workers/drain': async (body) => holdWorker(body, 'drain'),
      '/api/workers/ready': async (body) => holdWorker(body, 'ready'),
      '/api/autoscaler/default-count': async (body) => {
        if (autoscaler === null) throw new WeighbridgeError('ERR_BAD_REQUEST', 'no autoscaler runs on this host');
        const count = (body as { count?: unknown } | null)?.count;
        return { defaultCount: await autoscaler.setDefaultCount(typeof count === 'number' ? count : NaN) };
      },
    });
  } catch (err) {
    await dataPlane?.stop();
    await store?.close();
    throw err;
  }

  const startRoles = async (): Promise<void> => {
    const b = await connectBus(config.bus.nats, hostId, log, () => !stopped);
    if (stopped) return void (await b.close());
    bus = b;
    const sup = new Supervisor({ hostId, bus: b, log });
    supervisor = sup;
    const interval = config.bus.statsIntervalMs;
    if (scalable !== null) await sup.start(fleetAgent({ driver: scalable, intervalMs: interval }));
    if (dataPlane !== null) {
      await sup.start(ingressAgent({ registry: dataPlane.registry, sampler: dataPlane.sampler, pool: POOL, statsIntervalMs: interval, onApplied: (a) => (applied = a) }));
    }
    const c = config.collector;
    if (roles.has('collector')) await sup.start(collector({ intervalMs: c.intervalMs, local: dataPlane?.local ?? null, probe: c.probe.enabled ? c.probe : null }));
    if (roles.has('scorer')) await sup.start(scorer({ pool: POOL, intervalMs: c.intervalMs, scoring: { ...config.scoring, weightBy: weightBasis(config) }, onScores: (s) => (scores = s) }));
    const lease = (role: 'autoscaler' | 'reconciler') => ({ name: role, intervalMs: interval, leaseTtlMs: 3 * interval, onStatus: (s: LeadershipStatus) => leadership.set(role, s) });
    if (autoscaler !== null && fleet !== null) {
      fleet.attach(b, Date.now());
      await sup.start(
        leaderOnly({
          ...lease('autoscaler'),
          watches: [watch(topics.scoresUpdated(POOL), (m) => autoscaler.observeScores(m)), watch(topics.allFleetInventories(), (m) => fleet.observe(m))],
          act: () => autoscaler.tick(Date.now()),
        }),
      );
    }
    if (reconciler !== null) {
      await sup.start(
        leaderOnly({
          ...lease('reconciler'),
          watches: [watch(topics.allIngressStats(), (m) => reconciler.observeStats(m)), watch(topics.scoresUpdated(POOL), (m) => reconciler.observeScores(m))],
          act: () => reconciler.sync(Date.now()),
        }),
      );
    }
    presence = new Presence(b, { host: hostId, roles: config.roles, startedAt }, config.bus.presenceIntervalMs);
    presence.start();
  };
  const ready = startRoles().catch((err: Error) => log(`bus: cannot start the roles: ${err.message}`));

  let stopping: Promise<void> | undefined;
  return {
    hostId,
    roles: config.roles,
    ingressPort: dataPlane?.ingressPort ?? null,
    adminPort: admin.port,
    dataPlane,
    ready,
    async reload(next) {
      const restartNeeded = (Object.keys(next) as (keyof Config)[]).filter(
        (k) => k !== 'limits' && k !== 'timeouts' && k !== 'tls' && k !== 'driver' && JSON.stringify(next[k]) !== JSON.stringify(config[k]),
      );
      // Static upstreams apply at once (the data plane's reload); any other driver change needs a restart.
      if ((next.driver.kind !== 'static' || config.driver.kind !== 'static') && JSON.stringify(next.driver) !== JSON.stringify(config.driver)) restartNeeded.push('driver');
      if (next.limits.maxWorkers !== config.limits.maxWorkers) restartNeeded.push('limits');
      // The files (and the passphrase) are read again on every reload; the listener is not moved.
      if ((next.tls === undefined) !== (config.tls === undefined) || next.tls?.port !== config.tls?.port || next.tls?.redirectHttp !== config.tls?.redirectHttp || JSON.stringify(next.tls?.hsts) !== JSON.stringify(config.tls?.hsts)) restartNeeded.push('tls');
      await dataPlane?.reload(next);
      return restartNeeded;
    },
    stop() {
      stopping ??= (async () => {
        stopped = true;
        presence?.stop();
        await supervisor?.stop();
        await dataPlane?.stop();
        admin.close();
        await bus?.close();
        await store?.close();
      })();
      return stopping;
    },
  };
}

/** Each listen host (the ingress's, the admin API's) is an address or a name that resolves. */
async function checkListenHosts(config: Config, ingress: boolean): Promise<void> {
  const fields: [string, string][] = [['admin.host', config.admin.host]];
  if (ingress) fields.unshift(['host', config.host]);
  for (const [field, host] of fields) {
    if (isIP(host) !== 0) continue;
    await lookup(host).catch((err: NodeJS.ErrnoException) => {
      throw new ConfigError(`${field}: "${host}" is neither an IP address nor a name that resolves (${err.code ?? err.message})`);
    });
  }
}
