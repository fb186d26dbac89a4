import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Actor, ActorContext } from '../../src/actor/actor.js';
import { Supervisor } from '../../src/actor/supervisor.js';
import type { Bus } from '../../src/bus/bus.js';
import type { MessageOf } from '../../src/bus/messages.js';
import { topics } from '../../src/bus/subjects.js';

export interface Hosts {
  /** Two buses that reach each other, standing for two hosts. */
  buses: [Bus, Bus];
  close(): Promise<void>;
}

type In = { kind: 'weights'; sequence: number } | { kind: 'tick' };

const weights = (sequence: number): MessageOf<'weights.updated'> => ({ type: 'weights.updated', v: 1, pool: 'default', sequence, at: Date.now(), weights: [] });

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A test actor: records what it handles, takes a turn of the event loop per message. */
class Recorder implements Actor<In> {
  static instances = 0;
  readonly seen: number[] = [];
  ticks = 0;
  busy = 0;
  maxBusy = 0;

  constructor(
    private readonly record: (sequence: number, instance: Recorder) => void,
    private readonly crashOn = -1,
    private readonly queue?: string,
  ) {
    Recorder.instances++;
  }

  start(ctx: ActorContext<In>): void {
    ctx.subscribe(topics.weightsUpdated('default'), (m) => ({ kind: 'weights', sequence: m.sequence }), this.queue === undefined ? {} : { queue: this.queue });
  }

  async receive(message: In): Promise<void> {
    if (message.kind === 'tick') {
      this.ticks++;
      return;
    }
    this.maxBusy = Math.max(this.maxBusy, ++this.busy);
    await new Promise((r) => setImmediate(r));
    this.busy--;
    if (message.sequence === this.crashOn) throw new Error(`crash on ${message.sequence}`);
    this.seen.push(message.sequence);
    this.record(message.sequence, this);
  }
}

/** The actor behaviour, asserted unchanged on every transport. */
export function actorSuite(transport: string, makeHosts: () => Promise<Hosts>): void {
  const withHosts = (name: string, body: (hosts: Hosts, logs: string[]) => Promise<void>): void => {
    test(`${transport}: ${name}`, async () => {
      const hosts = await makeHosts();
      try {
        await body(hosts, []);
      } finally {
        await hosts.close();
      }
    });
  };
  const supervisor = (bus: Bus, logs: string[], hostId: string): Supervisor =>
    new Supervisor({ hostId, bus, log: (l) => void logs.push(l), backoff: { initial: 20, max: 100 } });

  withHosts('an actor handles its messages one at a time, in order', async ({ buses: [a, b] }, logs) => {
    const got: number[] = [];
    let actor: Recorder | undefined;
    const sup = supervisor(b, logs, 'b');
    await sup.start({ name: 'recorder', create: () => (actor = new Recorder((s) => got.push(s))) });
    await b.flush();
    for (let i = 0; i < 50; i++) a.publish(topics.weightsUpdated('default'), weights(i));
    await eventually(() => got.length === 50, '50 messages');
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i));
    assert.equal(actor!.maxBusy, 1);
    await sup.stop();
  });

  withHosts('a crashed actor is reported and restarted fresh after a backoff; others go on', async ({ buses: [a, b] }, logs) => {
    const got: number[] = [];
    const other: number[] = [];
    const sup = supervisor(b, logs, 'b');
    const before = Recorder.instances;
    await sup.start({ name: 'fragile', create: () => new Recorder((s) => got.push(s), 3) });
    await sup.start({ name: 'steady', create: () => new Recorder((s) => other.push(s)) });
    await b.flush();
    for (let i = 0; i < 5; i++) a.publish(topics.weightsUpdated('default'), weights(i));
    await eventually(() => other.length === 5, 'the steady actor');
    await eventually(() => sup.status().find((s) => s.name === 'fragile')!.restarts === 1 && sup.status().find((s) => s.name === 'fragile')!.state === 'running', 'the restart');
    const fragile = sup.status().find((s) => s.name === 'fragile')!;
    assert.match(fragile.lastCrash!.error, /crash on 3/);
    assert.ok(logs.some((l) => /actor fragile crashed; restarting in \d+ ms/.test(l)));
    assert.equal(Recorder.instances - before, 3, 'the restart should make a fresh instance');
    assert.deepEqual(got.slice(0, 3), [0, 1, 2]);
    await b.flush();
    a.publish(topics.weightsUpdated('default'), weights(10));
    await eventually(() => got.includes(10), 'a message after the restart');
    assert.equal(sup.status().find((s) => s.name === 'steady')!.restarts, 0);
    await sup.stop();
  });

  withHosts('instances on two hosts in one queue group share the work: each message once', async ({ buses: [a, b] }, logs) => {
    const handledBy = new Map<number, string[]>();
    const note = (host: string) => (s: number) => handledBy.set(s, [...(handledBy.get(s) ?? []), host]);
    const supA = supervisor(a, logs, 'a');
    const supB = supervisor(b, logs, 'b');
    await supA.start({ name: 'scorer', create: () => new Recorder(note('a'), -1, 'scorers') });
    await supB.start({ name: 'scorer', create: () => new Recorder(note('b'), -1, 'scorers') });
    await a.flush();
    await b.flush();
    for (let i = 0; i < 100; i++) a.publish(topics.weightsUpdated('default'), weights(i));
    await eventually(() => handledBy.size === 100, '100 messages');
    assert.ok([...handledBy.values()].every((hosts) => hosts.length === 1), 'a message was handled twice');
    const counts = [...handledBy.values()].flat().reduce((m, h) => m.set(h, (m.get(h) ?? 0) + 1), new Map<string, number>());
    assert.ok((counts.get('a') ?? 0) > 0 && (counts.get('b') ?? 0) > 0, `one host did all the work: ${[...counts]}`);
    await supA.stop();
    await supB.stop();
  });

  withHosts('stop removes the subscriptions and timers an actor set up', async ({ buses: [a, b] }, logs) => {
    const got: number[] = [];
    let actor: Recorder | undefined;
    const sup = supervisor(b, logs, 'b');
    await sup.start({
      name: 'ticking',
      create: () => {
        const r = new Recorder((s) => got.push(s));
        const start = r.start.bind(r);
        r.start = (ctx) => {
          start(ctx);
          ctx.every(5, () => ({ kind: 'tick' }));
        };
        return (actor = r);
      },
    });
    await b.flush();
    await eventually(() => actor!.ticks >= 3, 'ticks');
    await sup.stop();
    const ticks = actor!.ticks;
    a.publish(topics.weightsUpdated('default'), weights(1));
    await a.flush();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got, []);
    assert.equal(actor!.ticks, ticks);
    assert.equal(sup.status()[0]!.state, 'stopped');
  });
}
