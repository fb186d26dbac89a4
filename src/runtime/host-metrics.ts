import { formatBound, type MetricFamily, type Sample } from '../admin/prometheus.js';
import type { ActorStatus } from '../actor/supervisor.js';
import type { BusCounters } from '../bus/bus.js';
import type { LeadershipStatus } from '../cluster/leadership.js';
import type { AutoscalerStatus } from '../scaling/autoscaler.js';
import type { WorkerView } from '../routing/worker-registry.js';
import type { WorkerScore } from '../scoring/score-book.js';
import type { LatencyHistogram, WorkerStatsReport } from '../shared/stats-sampler.js';

/** What a host's /metrics shows: the same figures as its JSON views, read at scrape time. */
export interface HostFigures {
  startedAtMs: number;
  bus: { kind: string; connected: boolean; counters: BusCounters } | null;
  actors: readonly ActorStatus[];
  /** Ingress hosts only. */
  ingress: {
    threads: number;
    inflight: number;
    rejected: number;
    rateLimited: number;
    rateTableFull: number;
    queued: number;
    queueTimeouts: number;
    forbidden: number;
    workers: readonly (WorkerView & WorkerStatsReport & { latency: LatencyHistogram })[];
  } | null;
  /** Scorer hosts only, once they have scored. */
  scores: readonly WorkerScore[] | null;
  /** Autoscaler hosts only (every autoscaler host reports; the one holding the lease acts). */
  autoscaler: AutoscalerStatus | null;
  /** The leases this host competes for (autoscaler, reconciler), held or not. */
  leadership: readonly LeadershipStatus[];
}

type Labels = Record<string, string>;

const family = (name: string, type: MetricFamily['type'], help: string, samples: Sample[]): MetricFamily => ({ name, type, help, samples });
const one = (value: number, labels?: Labels): Sample[] => [{ labels, value }];

function latencySamples(w: { latency: LatencyHistogram }, labels: Labels): Sample[] {
  const { boundsSeconds, cumulative, sumSeconds } = w.latency;
  return [
    ...boundsSeconds.map((bound, i): Sample => ({ suffix: '_bucket', labels: { ...labels, le: formatBound(bound) }, value: cumulative[i]! })),
    { suffix: '_sum', labels, value: sumSeconds },
    { suffix: '_count', labels, value: cumulative[cumulative.length - 1]! },
  ];
}

function ingressFamilies(ingress: NonNullable<HostFigures['ingress']>): MetricFamily[] {
  type Worker = (typeof ingress.workers)[number];
  const each = (value: (w: Worker) => number | null, extra: Labels = {}): Sample[] =>
    ingress.workers.flatMap((w) => {
      const v = value(w);
      return v === null ? [] : [{ labels: { worker: w.id, address: w.address, ...extra }, value: v }];
    });
  return [
    family('weighbridge_ingress_threads', 'gauge', 'Ingress threads serving the port.', one(ingress.threads)),
    family('weighbridge_requests_in_flight', 'gauge', 'Requests and WebSockets admitted and not yet ended, over every ingress thread.', one(ingress.inflight)),
    family('weighbridge_requests_rejected_total', 'counter', 'Requests answered 503 over limits.maxConcurrentRequests.', one(ingress.rejected)),
    family('weighbridge_requests_rate_limited_total', 'counter', 'Requests answered 429 over limits.clientRequestsPerSecond.', one(ingress.rateLimited)),
    family('weighbridge_rate_table_full_total', 'counter', 'Requests let through unchecked because the rate table had no room for their client.', one(ingress.rateTableFull)),
    family('weighbridge_requests_forbidden_total', 'counter', 'Requests and WebSocket upgrades answered 403 by the access lists (access.allow, access.deny).', one(ingress.forbidden)),
    family('weighbridge_requests_queued', 'gauge', 'Requests waiting for a worker under limits.maxRequestsPerWorker, over every ingress thread.', one(ingress.queued)),
    family('weighbridge_requests_queue_timeouts_total', 'counter', 'Requests answered 503 after waiting timeouts.queueMs for a worker under limits.maxRequestsPerWorker.', one(ingress.queueTimeouts)),
    family('weighbridge_worker_state', 'gauge', 'Each worker, with its state as a label (value 1).', ingress.workers.map((w) => ({ labels: { worker: w.id, address: w.address, state: w.state }, value: 1 }))),
    family('weighbridge_worker_weight', 'gauge', 'The weight the ingress picks the worker by.', each((w) => w.weight)),
    family('weighbridge_worker_requests_in_flight', 'gauge', 'Requests and WebSockets on the worker, over every ingress thread.', each((w) => w.inflight)),
    family('weighbridge_worker_requests_total', 'counter', 'Requests the worker answered (success) or failed (a 5xx, refused, reset or timed out); requests the client ended are in neither.', [
      ...each((w) => w.completed, { outcome: 'success' }),
      ...each((w) => w.errors, { outcome: 'failure' }),
    ]),
    family('weighbridge_worker_sent_bytes_total', 'counter', 'Request body and WebSocket message bytes sent to the worker.', each((w) => w.bytesIn)),
    family('weighbridge_worker_received_bytes_total', 'counter', 'Response body and WebSocket message bytes received from the worker.', each((w) => w.bytesOut)),
    family('weighbridge_worker_busy_seconds_total', 'counter', 'Time with at least one request on the worker.', each((w) => w.busyMs / 1000)),
    family('weighbridge_worker_latency_seconds', 'histogram', 'Time from taking a request to the end of its response (of a WebSocket, its lifetime), for the requests counted in weighbridge_worker_requests_total.', ingress.workers.flatMap((w) => latencySamples(w, { worker: w.id, address: w.address }))),
  ];
}

function scoreFamilies(scores: readonly WorkerScore[]): MetricFamily[] {
  const each = (value: (s: WorkerScore) => number): Sample[] => scores.map((s) => ({ labels: { worker: s.id }, value: value(s) }));
  return [
    family('weighbridge_worker_score', 'gauge', 'The scorer\'s score of the worker, 0 to 100 (seed 000, section 3).', each((s) => s.score)),
    family('weighbridge_worker_phase', 'gauge', 'Each scored worker, with its category or state as a label (value 1).', scores.map((s) => ({ labels: { worker: s.id, phase: s.phase }, value: 1 }))),
    family('weighbridge_worker_scored_weight', 'gauge', 'The weight the scorer published for the worker.', each((s) => s.weight)),
  ];
}

function autoscalerFamilies(a: AutoscalerStatus): MetricFamily[] {
  return [
    family('weighbridge_autoscaler_default_workers', 'gauge', 'C_default: the workers the autoscaler keeps at least (seed 000, section 3.4).', one(a.defaultCount)),
    family('weighbridge_autoscaler_min_workers', 'gauge', 'The least C_default may be set to.', one(a.minWorkers)),
    family('weighbridge_autoscaler_max_workers', 'gauge', 'C_max: the most workers the autoscaler starts.', one(a.maxWorkers)),
    family('weighbridge_autoscaler_workers', 'gauge', 'Scalable workers the autoscaler sees over the cluster, by whether they are in Sundown.', [
      { labels: { sundown: 'false' }, value: a.workers.filter((w) => !w.retiring).length },
      { labels: { sundown: 'true' }, value: a.workers.filter((w) => w.retiring).length },
    ]),
    family('weighbridge_autoscaler_scaled_workers_total', 'counter', 'Workers this autoscaler started (up) or sent to Sundown (down).', [
      { labels: { direction: 'up' }, value: a.scaledWorkers.up },
      { labels: { direction: 'down' }, value: a.scaledWorkers.down },
    ]),
  ];
}

/** Every metric family of the host, in a stable order. */
export function hostMetrics(f: HostFigures): MetricFamily[] {
  const families: MetricFamily[] = [
    family('weighbridge_start_time_seconds', 'gauge', 'When this weighbridge process started, in seconds since the Unix epoch.', one(f.startedAtMs / 1000)),
  ];
  if (f.bus !== null) {
    const c = f.bus.counters;
    families.push(
      family('weighbridge_bus_connected', 'gauge', '1 when the message bus is connected.', one(f.bus.connected ? 1 : 0, { kind: f.bus.kind })),
      family('weighbridge_bus_messages_delivered_total', 'counter', 'Messages delivered to this host\'s handlers.', one(c.delivered)),
      family('weighbridge_bus_messages_rejected_total', 'counter', 'Messages dropped at this host\'s boundary, by reason.', Object.entries(c.rejected).map(([reason, value]) => ({ labels: { reason }, value }))),
      family('weighbridge_bus_handler_errors_total', 'counter', 'Handlers that threw on a delivered message.', one(c.handlerErrors)),
    );
  }
  if (f.actors.length > 0) {
    const each = (value: (a: ActorStatus) => number): Sample[] => f.actors.map((a) => ({ labels: { actor: a.name }, value: value(a) }));
    families.push(
      family('weighbridge_actor_running', 'gauge', '1 while the actor runs, 0 while it restarts or after it stopped.', each((a) => (a.state === 'running' ? 1 : 0))),
      family('weighbridge_actor_restarts_total', 'counter', 'Restarts after the actor crashed.', each((a) => a.restarts)),
      family('weighbridge_actor_mailbox_messages', 'gauge', 'Messages waiting in the actor\'s mailbox.', each((a) => a.mailbox.size)),
      family('weighbridge_actor_mailbox_dropped_total', 'counter', 'Messages dropped because the actor\'s mailbox was full.', each((a) => a.mailbox.dropped)),
    );
  }
  if (f.ingress !== null) families.push(...ingressFamilies(f.ingress));
  if (f.scores !== null) families.push(...scoreFamilies(f.scores));
  if (f.leadership.length > 0) {
    families.push(family('weighbridge_lease_held', 'gauge', '1 while this host holds the lease (and so acts in the role), 0 while another host does or none.', f.leadership.map((l) => ({ labels: { lease: l.lease }, value: l.leader ? 1 : 0 }))));
  }
  if (f.autoscaler !== null) families.push(...autoscalerFamilies(f.autoscaler));
  return families;
}
