import type { Bus, Log } from '../bus/bus.js';
import type { MessageOf, MessageType } from '../bus/messages.js';
import type { Topic } from '../bus/subjects.js';

/**
 * What an actor gets from the runtime. Everything it sets up through the context (bus
 * subscriptions, timers) is torn down by the runtime when the actor stops or crashes, so a
 * restarted actor starts clean.
 */
export interface ActorContext<M> {
  readonly hostId: string;
  readonly bus: Bus;
  readonly log: Log;
  /** Puts a message in this actor's own mailbox. */
  tell(message: M): void;
  /** Bus messages on the topic arrive in the mailbox, mapped to the actor's message type. */
  subscribe<T extends MessageType>(topic: Topic<T>, toMessage: (message: MessageOf<T>) => M, options?: { queue?: string }): void;
  /**
   * Answers requests on the topic. Handlers run as requests arrive, outside the mailbox, so a slow
   * answer (a worker starting) holds up neither the actor's other messages nor other requests.
   */
  serve<T extends MessageType, R extends MessageType>(topic: Topic<T>, handler: (message: MessageOf<T>) => Promise<MessageOf<R>>): void;
  /** A message in the mailbox every intervalMs (a tick), so timers too are handled one at a time. */
  every(intervalMs: number, message: () => M): void;
}

/**
 * An actor: a name, a typed mailbox handled one message at a time, start and stop. A crash (an
 * error from start or receive) stops it; its supervisor starts a fresh instance after a backoff.
 */
export interface Actor<M> {
  start(ctx: ActorContext<M>): Promise<void> | void;
  receive(message: M): Promise<void> | void;
  /** Releases what the actor holds beyond its context (optional). */
  stop?(): Promise<void> | void;
}

/** How a supervisor makes (and remakes) an actor. */
export interface ActorSpec<M> {
  readonly name: string;
  create(): Actor<M>;
  /** Mailbox bound; the oldest message is dropped beyond it. */
  readonly mailboxCapacity?: number;
}
