import { subjectMatches } from './subjects.js';
import type { RawMessage, Transport, TransportState } from './transport.js';

interface Subscription {
  readonly subject: string;
  readonly queue: string | undefined;
  readonly onMessage: (message: RawMessage) => void;
}

/**
 * The default transport: subjects, wildcards and queue groups inside one process, with no
 * external service. Delivery is asynchronous (setImmediate), as it is over a network, so a
 * publisher never runs its subscribers' code on its own stack.
 */
export class InProcessTransport implements Transport {
  readonly kind = 'in-process';
  private subscriptions: Subscription[] = [];
  private readonly nextMember = new Map<string, number>();
  private closed = false;

  get state(): TransportState {
    return this.closed ? 'closed' : 'connected';
  }

  publish(subject: string, data: Uint8Array, reply?: string): void {
    if (this.closed) return;
    const message: RawMessage = { subject, data, reply };
    const groups = new Map<string, Subscription[]>();
    for (const s of this.subscriptions) {
      if (!subjectMatches(s.subject, subject)) continue;
      if (s.queue === undefined) setImmediate(s.onMessage, message);
      else groups.set(s.queue, [...(groups.get(s.queue) ?? []), s]);
    }
    // A queue group shares the work: each message goes to one member, in turn.
    for (const [queue, members] of groups) {
      const turn = this.nextMember.get(queue) ?? 0;
      this.nextMember.set(queue, turn + 1);
      setImmediate(members[turn % members.length]!.onMessage, message);
    }
  }

  subscribe(subject: string, queue: string | undefined, onMessage: (message: RawMessage) => void): () => void {
    const subscription: Subscription = { subject, queue, onMessage };
    this.subscriptions.push(subscription);
    return () => {
      this.subscriptions = this.subscriptions.filter((s) => s !== subscription);
    };
  }

  flush(): Promise<void> {
    // Everything published so far is queued with setImmediate; one more turn delivers it.
    return new Promise((resolve) => setImmediate(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscriptions = [];
  }
}
