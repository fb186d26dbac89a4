import { randomUUID } from 'node:crypto';
import { BusMessageError, BusRequestError, type MessageRejection } from '../errors.js';
import { decodeMessage, encodeMessage } from './codec.js';
import type { Message, MessageOf, MessageType } from './messages.js';
import type { Topic } from './subjects.js';
import type { RawMessage, Transport, TransportState } from './transport.js';

export type Log = (line: string) => void;

/** What a bus has refused or failed to deliver, for the admin API and tests. */
export interface BusCounters {
  delivered: number;
  rejected: Record<MessageRejection, number>;
  handlerErrors: number;
}

export interface SubscribeOptions {
  /** Members of one queue group share the messages: each goes to one of them. */
  queue?: string;
}

/** Warnings about refused messages: at most one per reason per interval, with a count. */
const WARN_INTERVAL_MS = 10_000;

/**
 * The typed bus over a transport: every message is encoded and validated on the way out and
 * decoded and validated on the way in; a malformed, unknown or oversized message is dropped
 * with a warning and a counter and never reaches a handler; a handler's error is counted and
 * logged and never escapes. Request/reply rides on per-bus inbox subjects, so it behaves the
 * same on every transport.
 */
export class Bus {
  readonly id: string;
  readonly counters: BusCounters = {
    delivered: 0,
    rejected: { 'too-large': 0, 'not-json': 0, invalid: 0, 'unexpected-type': 0 },
    handlerErrors: 0,
  };
  private readonly inbox: string;
  private readonly pending = new Map<string, { type: MessageType; resolve: (m: Message) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly unsubscribes = new Set<() => void>();
  private readonly lastWarning = new Map<MessageRejection, { at: number; suppressed: number }>();
  private nextRequest = 0;
  private inboxUnsubscribe: (() => void) | null = null;

  constructor(
    readonly transport: Transport,
    private readonly log: Log = (line) => console.error(line),
  ) {
    this.id = randomUUID().replace(/-/g, '').slice(0, 16);
    this.inbox = `_INBOX.${this.id}`;
  }

  get kind(): Transport['kind'] {
    return this.transport.kind;
  }

  get state(): TransportState {
    return this.transport.state;
  }

  publish<T extends MessageType>(topic: Topic<T>, message: MessageOf<T>): void {
    this.transport.publish(topic.subject, encodeMessage(message));
  }

  subscribe<T extends MessageType>(
    topic: Topic<T>,
    handler: (message: MessageOf<T>, subject: string) => void | Promise<void>,
    options: SubscribeOptions = {},
  ): () => void {
    return this.track(this.transport.subscribe(topic.subject, options.queue, (raw) => this.deliver(raw, topic.type, (m) => handler(m, raw.subject))));
  }

  /** Answers requests on the topic with the handler's reply message. */
  serve<T extends MessageType, R extends MessageType>(
    topic: Topic<T>,
    handler: (message: MessageOf<T>) => MessageOf<R> | Promise<MessageOf<R>>,
    options: SubscribeOptions = {},
  ): () => void {
    return this.track(
      this.transport.subscribe(topic.subject, options.queue, (raw) =>
        this.deliver(raw, topic.type, async (m) => {
          const answer = await handler(m);
          if (raw.reply !== undefined) this.transport.publish(raw.reply, encodeMessage(answer));
        }),
      ),
    );
  }

  /** Sends a request and waits for one reply of replyType, or rejects with BusRequestError. */
  request<T extends MessageType, R extends MessageType>(topic: Topic<T>, message: MessageOf<T>, replyType: R, timeoutMs: number): Promise<MessageOf<R>> {
    this.inboxUnsubscribe ??= this.track(this.transport.subscribe(`${this.inbox}.*`, undefined, (raw) => this.onReply(raw)));
    const replySubject = `${this.inbox}.${this.nextRequest++}`;
    const data = encodeMessage(message);
    return new Promise<MessageOf<R>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(replySubject);
        reject(new BusRequestError('ERR_BUS_TIMEOUT', `no reply to ${message.type} on ${topic.subject} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(replySubject, { type: replyType, resolve: resolve as (m: Message) => void, reject, timer });
      this.transport.publish(topic.subject, data, replySubject);
    });
  }

  flush(): Promise<void> {
    return this.transport.flush();
  }

  async close(): Promise<void> {
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.unsubscribes.clear();
    for (const [subject, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new BusRequestError('ERR_BUS_CLOSED', `the bus closed before a reply on ${subject}`));
    }
    this.pending.clear();
    await this.transport.close();
  }

  private track(unsubscribe: () => void): () => void {
    this.unsubscribes.add(unsubscribe);
    return () => {
      this.unsubscribes.delete(unsubscribe);
      unsubscribe();
    };
  }

  private onReply(raw: RawMessage): void {
    const p = this.pending.get(raw.subject);
    if (p === undefined) return; // late, after its timeout
    this.deliver(raw, p.type, (m) => {
      this.pending.delete(raw.subject);
      clearTimeout(p.timer);
      p.resolve(m);
    });
  }

  private deliver<T extends MessageType>(raw: RawMessage, type: T, handler: (message: MessageOf<T>) => void | Promise<void>): void {
    let message: MessageOf<T>;
    try {
      message = decodeMessage(raw.data, type);
    } catch (err) {
      if (!(err instanceof BusMessageError)) throw err;
      this.counters.rejected[err.reason]++;
      this.warn(err.reason, `bus: dropped a message on ${raw.subject}: ${err.message}`);
      return;
    }
    this.counters.delivered++;
    try {
      const done = handler(message);
      if (done instanceof Promise) done.catch((err: unknown) => this.onHandlerError(raw.subject, err));
    } catch (err) {
      this.onHandlerError(raw.subject, err);
    }
  }

  private onHandlerError(subject: string, err: unknown): void {
    this.counters.handlerErrors++;
    this.log(`bus: a handler for ${subject} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }

  private warn(reason: MessageRejection, line: string): void {
    const now = Date.now();
    const last = this.lastWarning.get(reason);
    if (last !== undefined && now - last.at < WARN_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.lastWarning.set(reason, { at: now, suppressed: 0 });
    this.log(suppressed > 0 ? `${line} (and ${suppressed} more like it since the last warning)` : line);
  }
}
