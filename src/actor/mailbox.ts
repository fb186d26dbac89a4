/**
 * An actor's mailbox: messages are handled one at a time, in order. It is bounded: when full,
 * the oldest message is dropped and counted, since for measurements and weights the newest
 * message supersedes the old ones.
 */
export class Mailbox<M> {
  private readonly queue: M[] = [];
  private head = 0;
  private running = false;
  private closed = false;
  dropped = 0;

  constructor(
    private readonly handle: (message: M) => Promise<void> | void,
    private readonly onError: (err: unknown) => void,
    private readonly capacity = 10_000,
  ) {}

  get size(): number {
    return this.queue.length - this.head;
  }

  post(message: M): void {
    if (this.closed) return;
    if (this.size >= this.capacity) {
      this.head++;
      this.dropped++;
    }
    this.queue.push(message);
    if (!this.running) void this.drain();
  }

  /** No more messages are handled; the one in progress finishes. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.head = 0;
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (!this.closed && this.size > 0) {
      const message = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      try {
        await this.handle(message);
      } catch (err) {
        this.onError(err);
      }
    }
    this.running = false;
  }
}
