import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { seededRandom } from '../../src/balancing/random.js';
import { LineAppender } from '../../src/util/line-appender.js';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/temp-dir.js';

const PIECES = ['a', 'Z', '7', ' ', '"', 'é', '€', '😀', '\\', '\t'];

/** Random lines of 1 to 400 characters, ASCII and multi-byte, each ending in a newline. */
function randomLines(seed: number, count: number, tag: string): string[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    let text = `${tag}${i}:`;
    const length = 1 + Math.floor(random() * 400);
    while (text.length < length) text += PIECES[Math.floor(random() * PIECES.length)]!;
    return `${text}\n`;
  });
}

const bytes = (lines: string[]): number => lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
const sizeOf = (path: string): number => statSync(path, { throwIfNoEntry: false })?.size ?? 0;
/** Waits until the file holds `expected` bytes (the asynchronous writes have landed). */
const landed = (path: string, expected: number) => eventually(`${expected} bytes in ${path}`, async () => (sizeOf(path) >= expected ? true : undefined));
const linesOf = (path: string): string[] => readFileSync(path, 'utf8').split(/(?<=\n)/).filter((l) => l !== '');

test('every line lands once, whole and in order, across many flushes with the event loop turning between', async () => {
  const path = join(tempDir('appender'), 'a.log');
  const out = new LineAppender(path, () => {});
  const lines = randomLines(1, 30_000, 'x');
  const random = seededRandom(2);
  for (const line of lines) {
    out.append(line);
    if (random() < 0.01) await new Promise((r) => setImmediate(r));
  }
  out.flush();
  await landed(path, bytes(lines));
  assert.equal(readFileSync(path, 'utf8'), lines.join(''));
  // close() writes what is buffered at once.
  const tail = randomLines(3, 50, 'tail');
  for (const line of tail) out.append(line);
  out.close();
  await landed(path, bytes(lines) + bytes(tail));
  assert.equal(readFileSync(path, 'utf8'), lines.join('') + tail.join(''));
  assert.equal(out.dropped, 0);
  // After close, lines are counted as dropped, not written.
  out.append('late\n');
  assert.equal(out.dropped, 1);
});

test('a reopen after rotation: later lines go to the new file, and no line is lost or cut, even with a write in flight', async () => {
  const dir = tempDir('appender');
  const path = join(dir, 'a.log');
  const out = new LineAppender(path, () => {});
  const before = randomLines(4, 2_000, 'b');
  for (const line of before) out.append(line);
  out.flush();
  await landed(path, bytes(before));
  renameSync(path, `${path}.1`);
  out.reopen();
  const after = randomLines(5, 1_000, 'a');
  for (const line of after) out.append(line);
  out.flush();
  await landed(path, bytes(after));
  assert.equal(readFileSync(`${path}.1`, 'utf8'), before.join(''));
  assert.equal(readFileSync(path, 'utf8'), after.join(''));

  // A write still queued when the file moves and two reopens follow: libuv's four pool threads
  // are kept busy, so the write waits behind them. It must still land in the moved file.
  const burst = randomLines(6, 20_000, 'c');
  const last = randomLines(7, 500, 'd');
  const busy = Array.from({ length: 4 }, () => new Promise((r) => pbkdf2('p', 's', 1_000_000, 32, 'sha256', r)));
  for (const line of burst) out.append(line);
  renameSync(path, `${path}.2`);
  out.reopen();
  out.reopen();
  await Promise.all(busy);
  for (const line of last) out.append(line);
  out.flush();
  await eventually('every line', async () => (sizeOf(`${path}.2`) + sizeOf(path) >= bytes(after) + bytes(burst) + bytes(last) ? true : undefined));
  // The moved file: the lines from before, then the queued write's, which must not have gone
  // to the new file (or been lost with a descriptor closed under them).
  const moved = linesOf(`${path}.2`);
  assert.deepEqual(moved.slice(0, after.length), after);
  const queued = moved.slice(after.length);
  assert.ok(queued.length > 0, 'the queued write went to the file it was made for');
  assert.deepEqual(queued, burst.slice(0, queued.length));
  const all = [...moved, ...linesOf(path)];
  assert.deepEqual([...all].sort(), [...after, ...burst, ...last].sort());
  // The newest file has the lines appended after the reopen, in order, at its end.
  assert.deepEqual(linesOf(path).slice(-last.length), last);
  out.close();
});

test('two writers on one file (as two ingress threads) never cut each other\'s lines', async () => {
  const path = join(tempDir('appender'), 'a.log');
  const one = new LineAppender(path, () => {});
  const two = new LineAppender(path, () => {});
  const a = randomLines(8, 20_000, 'one');
  const b = randomLines(9, 20_000, 'two');
  for (let i = 0; i < a.length; i++) {
    one.append(a[i]!);
    two.append(b[i]!);
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  one.flush();
  two.flush();
  await landed(path, bytes(a) + bytes(b));
  const lines = linesOf(path);
  assert.deepEqual(lines.filter((l) => l.startsWith('one')), a);
  assert.deepEqual(lines.filter((l) => l.startsWith('two')), b);
  assert.equal(lines.length, a.length + b.length);
  one.close();
  two.close();
});

test('beyond its buffer bound, while the disk has not taken the last write, lines are dropped and counted', async () => {
  const path = join(tempDir('appender'), 'a.log');
  const out = new LineAppender(path, () => {}, 100_000);
  // All in one turn of the event loop: the first write cannot finish, so the buffer fills.
  const lines = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(999, '-')}\n`);
  for (const line of lines) out.append(line);
  assert.ok(out.dropped > 0, 'some lines dropped');
  const kept = lines.length - out.dropped;
  out.flush();
  await eventually('the kept lines', async () => (linesOf(path).length >= kept ? true : undefined));
  // The kept ones are the first ones, whole; no more than the bound waited at any time.
  assert.deepEqual(linesOf(path), lines.slice(0, kept));
  assert.ok(kept * 1000 <= 64 * 1024 + 100_000 + 1000, `kept ${kept}`);
  out.close();
});
