import type { Bus, Log } from '../bus/bus.js';
import { Backoff, type BackoffPolicy } from '../util/backoff.js';
import type { Actor, ActorContext, ActorSpec } from './actor.js';
import { Mailbox } from './mailbox.js';

export interface ActorStatus {
  name: string;
  state: 'running' | 'restarting' | 'stopped';
  restarts: number;
  lastCrash: { at: number; error: string } | null;
  mailbox: { size: number; dropped: number };
}

export interface SupervisorOptions {
  hostId: string;
  bus: Bus;
  log: Log;
  backoff?: BackoffPolicy;
  /** An actor up this long has its backoff reset. */
  stableMs?: number;
}

/** One supervised actor: the current instance and everything the runtime set up for it. */
class Running<M> {
  instance: Actor<M> | null = null;
  mailbox: Mailbox<M> | null = null;
  cleanups: (() => void)[] = [];
  restartTimer: NodeJS.Timeout | null = null;
  readonly status: ActorStatus;
  readonly backoff: Backoff;

  constructor(
    readonly spec: ActorSpec<M>,
    policy: BackoffPolicy,
    stableMs: number,
  ) {
    this.status = { name: spec.name, state: 'restarting', restarts: 0, lastCrash: null, mailbox: { size: 0, dropped: 0 } };
    this.backoff = new Backoff(policy, stableMs);
  }
}

/**
 * Runs a host's actors. An actor that throws from start() or receive() is stopped (its
 * subscriptions and timers removed), the crash is logged and kept in its status, and a fresh
 * instance starts after an exponential backoff. Other actors are not affected.
 */
export class Supervisor {
  private readonly running = new Map<string, Running<unknown>>();
  private stopped = false;
  private readonly policy: BackoffPolicy;
  private readonly stableMs: number;

  constructor(private readonly options: SupervisorOptions) {
    this.policy = options.backoff ?? { initial: 200, max: 10_000 };
    this.stableMs = options.stableMs ?? 30_000;
  }

  async start<M>(spec: ActorSpec<M>): Promise<void> {
    if (this.running.has(spec.name)) throw new Error(`an actor named ${spec.name} is already running`);
    const r = new Running(spec, this.policy, this.stableMs);
    this.running.set(spec.name, r as Running<unknown>);
    await this.launch(r);
  }

  status(): ActorStatus[] {
    return [...this.running.values()].map((r) => ({ ...r.status, mailbox: { size: r.mailbox?.size ?? 0, dropped: r.status.mailbox.dropped + (r.mailbox?.dropped ?? 0) } }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.running.values()].map((r) => this.halt(r, 'stopped')));
  }

  private async launch<M>(r: Running<M>): Promise<void> {
    const instance = r.spec.create();
    const mailbox = new Mailbox<M>(
      (m) => instance.receive(m),
      (err) => void this.crash(r, instance, err),
      r.spec.mailboxCapacity,
    );
    r.instance = instance;
    r.mailbox = mailbox;
    r.backoff.started(Date.now());
    const { bus, log, hostId } = this.options;
    const ctx: ActorContext<M> = {
      hostId,
      bus,
      log: (line) => log(`${r.spec.name}: ${line}`),
      tell: (m) => mailbox.post(m),
      subscribe: (topic, toMessage, options) => {
        r.cleanups.push(bus.subscribe(topic, (m) => mailbox.post(toMessage(m)), options));
      },
      serve: (topic, handler) => {
        r.cleanups.push(bus.serve(topic, handler));
      },
      every: (intervalMs, message) => {
        const timer = setInterval(() => mailbox.post(message()), intervalMs);
        r.cleanups.push(() => clearInterval(timer));
      },
    };
    try {
      await instance.start(ctx);
      if (r.instance === instance) r.status.state = 'running';
    } catch (err) {
      await this.crash(r, instance, err);
    }
  }

  private async crash<M>(r: Running<M>, instance: Actor<M>, err: unknown): Promise<void> {
    if (r.instance !== instance || this.stopped) return; // already handled, or shutting down
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    r.status.lastCrash = { at: Date.now(), error: err instanceof Error ? err.message : String(err) };
    await this.halt(r, 'restarting');
    const delay = r.backoff.failed(Date.now());
    this.options.log(`actor ${r.spec.name} crashed; restarting in ${delay} ms: ${message}`);
    r.restartTimer = setTimeout(() => {
      r.restartTimer = null;
      if (this.stopped) return;
      r.status.restarts++;
      void this.launch(r);
    }, delay);
  }

  private async halt<M>(r: Running<M>, state: ActorStatus['state']): Promise<void> {
    const instance = r.instance;
    r.instance = null;
    r.status.state = state;
    if (r.restartTimer !== null) clearTimeout(r.restartTimer);
    r.restartTimer = null;
    for (const cleanup of r.cleanups.splice(0)) cleanup();
    if (r.mailbox !== null) {
      r.status.mailbox.dropped += r.mailbox.dropped;
      r.mailbox.close();
      r.mailbox = null;
    }
    try {
      await instance?.stop?.();
    } catch (err) {
      this.options.log(`actor ${r.spec.name}: stop failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
