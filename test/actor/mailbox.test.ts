import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Mailbox } from '../../src/actor/mailbox.js';

test('a full mailbox drops its oldest message and counts it; errors do not stop it', async () => {
  const handled: number[] = [];
  const errors: unknown[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const box = new Mailbox<number>(
    async (n) => {
      if (n === 0) await gate; // hold the first message while the rest queue up
      if (n === 5) throw new Error('five');
      handled.push(n);
    },
    (err) => errors.push(err),
    3,
  );
  for (let i = 0; i < 7; i++) box.post(i);
  assert.equal(box.size, 3); // 0 is in progress; 1..3 dropped for 4..6
  assert.equal(box.dropped, 3);
  release();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(handled, [0, 4, 6]);
  assert.equal((errors[0] as Error).message, 'five');
});
