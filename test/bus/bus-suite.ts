import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Bus } from '../../src/bus/bus.js';
import type { MessageOf } from '../../src/bus/messages.js';
import { topics } from '../../src/bus/subjects.js';
import { BusRequestError } from '../../src/errors.js';

/** Two buses that can reach each other (two connections for NATS), and how to end them. */
export interface BusPair {
  a: Bus;
  b: Bus;
  close(): Promise<void>;
}

const weights = (sequence: number): MessageOf<'weights.updated'> => ({
  type: 'weights.updated',
  v: 1,
  pool: 'default',
  sequence,
  at: Date.now(),
  weights: [
    { id: 'w1', weight: 3 },
    { id: 'w2', weight: 1 },
  ],
});

/** Resolves when `check` holds, polling; the suites wait on delivery, never on fixed sleeps. */
async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The same behaviour, asserted for every transport. */
export function busSuite(transport: string, makePair: (log: (line: string) => void) => Promise<BusPair>): void {
  const withPair = (name: string, body: (pair: BusPair, logs: string[]) => Promise<void>): void => {
    test(`${transport}: ${name}`, async () => {
      const logs: string[] = [];
      const pair = await makePair((line) => logs.push(line));
      try {
        await body(pair, logs);
      } finally {
        await pair.close();
      }
    });
  };

  withPair('publish reaches every subscriber, by exact subject and by wildcard', async ({ a, b }) => {
    const exact: number[] = [];
    const wild: string[] = [];
    b.subscribe(topics.weightsUpdated('default'), (m) => void exact.push(m.sequence));
    b.subscribe(topics.allWeightsUpdated(), (_m, subject) => void wild.push(subject));
    await b.flush();
    a.publish(topics.weightsUpdated('default'), weights(1));
    a.publish(topics.weightsUpdated('other'), { ...weights(2), pool: 'other' });
    await eventually(() => exact.length === 1 && wild.length === 2, 'deliveries');
    assert.deepEqual(exact, [1]);
    assert.deepEqual(wild.sort(), ['wb.weights.default', 'wb.weights.other']);
  });

  withPair('a queue group shares the messages: each goes to exactly one member', async ({ a, b }) => {
    const seen: Record<string, number[]> = { first: [], second: [] };
    b.subscribe(topics.weightsUpdated('default'), (m) => void seen.first!.push(m.sequence), { queue: 'scorers' });
    b.subscribe(topics.weightsUpdated('default'), (m) => void seen.second!.push(m.sequence), { queue: 'scorers' });
    await b.flush();
    for (let i = 0; i < 200; i++) a.publish(topics.weightsUpdated('default'), weights(i));
    await eventually(() => seen.first!.length + seen.second!.length === 200, '200 deliveries');
    const all = [...seen.first!, ...seen.second!].sort((x, y) => x - y);
    assert.deepEqual(all, Array.from({ length: 200 }, (_, i) => i));
    assert.ok(seen.first!.length > 0 && seen.second!.length > 0, `one member got everything: ${seen.first!.length}/${seen.second!.length}`);
  });

  withPair('request and reply, and a request nobody answers times out', async ({ a, b }) => {
    b.serve(topics.ping('host-b'), (m): MessageOf<'presence'> => ({ type: 'presence', v: 1, host: 'host-b', roles: [m.from], startedAt: 1, at: Date.now() }));
    await b.flush();
    const reply = await a.request(topics.ping('host-b'), { type: 'ping', v: 1, from: 'host-a', at: Date.now() }, 'presence', 5_000);
    assert.equal(reply.host, 'host-b');
    assert.deepEqual(reply.roles, ['host-a']);
    await assert.rejects(a.request(topics.ping('nobody'), { type: 'ping', v: 1, from: 'host-a', at: Date.now() }, 'presence', 150), (err: unknown) => {
      assert.ok(err instanceof BusRequestError);
      assert.equal(err.code, 'ERR_BUS_TIMEOUT');
      return true;
    });
  });

  withPair('malformed messages are dropped and counted; the subscriber sees only valid ones', async ({ a, b }, logs) => {
    const got: number[] = [];
    b.subscribe(topics.weightsUpdated('default'), (m) => void got.push(m.sequence));
    await b.flush();
    const raw = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
    const subject = topics.weightsUpdated('default').subject;
    a.transport.publish(subject, raw({ ...weights(1), v: 2 })); // a version this reader does not know
    a.transport.publish(subject, raw({ type: 'weights.updated', v: 1, pool: 'default' })); // fields missing
    a.transport.publish(subject, raw({ ...weights(1), weights: [{ id: 'w1', weight: -1 }] })); // out of range
    a.transport.publish(subject, raw({ type: 'no.such.message', v: 1 })); // unknown type
    a.transport.publish(subject, raw({ type: 'ping', v: 1, from: 'x', at: 1 })); // valid, but not what this subject carries
    a.transport.publish(subject, raw('{"type": "weights.updated", ')); // not JSON
    a.transport.publish(subject, new Uint8Array([0xff, 0xfe, 0x00, 0x7b])); // not UTF-8
    a.transport.publish(subject, randomBytes(1 << 20)); // 1 MiB of garbage
    a.transport.publish(subject, raw(`"${'x'.repeat(8 << 20)}"`)); // over the size limit
    a.publish(topics.weightsUpdated('default'), weights(7));
    await eventually(() => got.length === 1 && b.counters.delivered === 1, 'the valid message');
    await eventually(() => Object.values(b.counters.rejected).reduce((x, y) => x + y, 0) === 9, 'nine rejections');
    assert.deepEqual(got, [7]);
    assert.deepEqual(b.counters.rejected, { 'too-large': 1, 'not-json': 3, invalid: 4, 'unexpected-type': 1 });
    assert.ok(logs.some((l) => /dropped a message on wb\.weights\.default/.test(l)), 'no warning was logged');
  });

  withPair('a failing handler is counted and logged, and delivery goes on', async ({ a, b }, logs) => {
    const got: number[] = [];
    b.subscribe(topics.weightsUpdated('default'), (m) => {
      if (m.sequence === 1) throw new Error('handler bug');
      got.push(m.sequence);
    });
    b.subscribe(topics.weightsUpdated('default'), async (m) => {
      if (m.sequence === 2) throw new Error('async handler bug');
    });
    await b.flush();
    for (const s of [1, 2, 3]) a.publish(topics.weightsUpdated('default'), weights(s));
    await eventually(() => got.includes(3) && b.counters.handlerErrors === 2, 'delivery after failures');
    assert.deepEqual(got, [2, 3]);
    assert.ok(logs.some((l) => l.includes('handler bug')));
  });

  withPair('publishing an invalid message throws at the sender and sends nothing', async ({ a, b }) => {
    let got = 0;
    b.subscribe(topics.weightsUpdated('default'), () => void got++);
    await b.flush();
    assert.throws(() => a.publish(topics.weightsUpdated('default'), { ...weights(1), sequence: -1 }), /refusing to send an invalid weights.updated message/);
    a.publish(topics.weightsUpdated('default'), weights(2));
    await eventually(() => got === 1, 'the valid message');
    assert.equal(b.counters.rejected.invalid, 0);
  });
}
