import type { Actor, ActorContext, ActorSpec } from '../src/actor/actor.js';
import type { MessageOf } from '../src/bus/messages.js';
import { topics } from '../src/bus/subjects.js';
import { mergeIngressStats } from '../src/metrics/ingress-merge.js';
import { connectTime, Prober } from '../src/metrics/probe.js';
import type { LocalWorkers, ResourceReading } from '../src/metrics/resources.js';
import { UsageTracker } from '../src/metrics/usage-tracker.js';

type In = { kind: 'stats'; message: MessageOf<'ingress.stats'> } | { kind: 'tick' };

export interface CollectorOptions {
  intervalMs: number;
  /** The workers this host runs (with a data plane), or null: then CPU and memory stay unmeasured. */
  local: LocalWorkers | null;
  /** Active probe of idle local workers; null turns it off. */
  probe: { path: string; timeoutMs: number } | null;
}

/** Reports older than this many intervals come from an ingress host that is gone. */
const STALE_INTERVALS = 3;
const CONNECT_TIMEOUT_MS = 1_000;
/** The path to a worker changes slowly: its connect time is measured every this many intervals. */
const NETWORK_DELAY_EVERY = 10;

/**
 * The collector (seed 000, section 3.1 inputs): every interval, per worker, CPU % and memory %
 * (from the driver: /proc for processes, Docker stats for containers), network MB/s (body bytes
 * through every ingress host: with host networking nothing else is per worker), response time
 * (the ingress hosts' latency EWMA, or an active probe when the worker served nothing in the
 * interval) and requests in flight; and seed 004's process time (busy time per completed
 * request, from the ingress) and network delay (TCP connect time). Publishes metrics.sample.
 *
 * Every collector measures every worker the ingress hosts report; only a collector beside a data
 * plane can add CPU, memory and probes for that host's workers. The scorer merges the samples.
 */
class Collector implements Actor<In> {
  private ctx!: ActorContext<In>;
  private readonly reports = new Map<string, MessageOf<'ingress.stats'>>();
  private readonly usage = new UsageTracker();
  private readonly completedBefore = new Map<string, number>();
  private readonly prober: Prober | null;
  private delays = new Map<string, number | null>();
  private round = 0;

  constructor(private readonly options: CollectorOptions) {
    this.prober = options.probe && options.local ? new Prober(options.probe) : null;
  }

  start(ctx: ActorContext<In>): void {
    this.ctx = ctx;
    ctx.subscribe(topics.allIngressStats(), (message) => ({ kind: 'stats', message }));
    ctx.every(this.options.intervalMs, () => ({ kind: 'tick' }));
  }

  stop(): void {
    this.prober?.close();
  }

  async receive(message: In): Promise<void> {
    if (message.kind === 'stats') this.reports.set(message.message.host, message.message);
    else await this.collect();
  }

  private async collect(): Promise<void> {
    const now = Date.now();
    const cutoff = now - STALE_INTERVALS * this.options.intervalMs;
    for (const [host, report] of this.reports) if (report.at < cutoff) this.reports.delete(host);
    const merged = mergeIngressStats(this.reports.values());
    const local = this.options.local;
    const readings = local ? await local.resources() : new Map<string, ResourceReading>();
    const [probed, delays] = await Promise.all([this.probeIdle(merged), this.networkDelays()]);

    const workers: MessageOf<'metrics.sample'>['workers'] = [];
    for (const w of merged.values()) {
      const reading = readings.get(w.id);
      const usage = this.usage.update(w.id, now, { ...(reading ? { reading } : {}), bytes: w.bytes, busyMs: w.busyMs, completed: w.completed });
      const probe = probed.get(w.id);
      const latencyMs = probe !== undefined ? (probe ?? this.options.probe!.timeoutMs) : w.ewmaMs;
      const latencySource = probe !== undefined ? 'probe' : w.ewmaMs !== null ? 'traffic' : null;
      workers.push({ id: w.id, baseWeight: w.baseWeight, isDefault: w.isDefault, ...usage, networkDelayMs: delays.get(w.id) ?? null, latencyMs, latencySource, inflight: w.inflight });
    }
    this.usage.retain(new Set(merged.keys()));
    if (workers.length === 0) return;
    this.ctx.bus.publish(topics.metricsSample(this.ctx.hostId), { type: 'metrics.sample', v: 2, host: this.ctx.hostId, at: now, workers });
  }

  /** TCP connect time to each of this host's workers, measured anew every NETWORK_DELAY_EVERY intervals and for new workers. */
  private async networkDelays(): Promise<Map<string, number | null>> {
    const local = this.options.local;
    if (local === null) return this.delays;
    const fresh = this.round++ % NETWORK_DELAY_EVERY === 0;
    const endpoints = local.endpoints();
    const delays = new Map<string, number | null>();
    await Promise.all(
      endpoints.map(async (e) => delays.set(e.id, !fresh && this.delays.has(e.id) ? this.delays.get(e.id)! : await connectTime(e.host, e.port, CONNECT_TIMEOUT_MS))),
    );
    this.delays = delays;
    return delays;
  }

  /**
   * Probes this host's workers that completed no request since the last interval. A failed
   * probe reads as the probe timeout: the slowest answer the collector can tell apart.
   */
  private async probeIdle(merged: ReturnType<typeof mergeIngressStats>): Promise<Map<string, number | null>> {
    const results = new Map<string, number | null>();
    const prober = this.prober;
    if (prober === null) return results;
    for (const id of this.completedBefore.keys()) if (!merged.has(id)) this.completedBefore.delete(id);
    const idle = this.options.local!.endpoints().filter((e) => {
      const completed = merged.get(e.id)?.completed;
      const before = this.completedBefore.get(e.id);
      if (completed !== undefined) this.completedBefore.set(e.id, completed);
      return completed !== undefined && completed === before;
    });
    await Promise.all(idle.map(async (e) => results.set(e.id, await prober.probe(e.host, e.port))));
    return results;
  }
}

export function collector(options: CollectorOptions): ActorSpec<In> {
  return { name: 'collector', create: () => new Collector(options) };
}
