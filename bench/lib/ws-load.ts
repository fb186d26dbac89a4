/**
 * The load generator of bench:websocket, a child process so that its CPU is not the parent's:
 * `--clients` concurrent loops against `--url`, `--warmup` unrecorded seconds, then `--seconds`
 * recorded ones.
 * - sessions: each loop opens a WebSocket, sends one message, waits for its echo, closes and waits
 *   for the close handshake to end; a session's time runs from the open call to that end.
 * - messages: each loop holds one WebSocket and sends the next message when the last one's echo
 *   is back; a message's time is its round trip.
 * Prints "measuring" as the recorded part starts, then one line of JSON (LoadResult).
 *
 * Run as: node ws-load.js --url ws://... --mode sessions|messages --clients C --seconds S --warmup W
 */
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';

export interface LoadResult {
  /** Sessions or messages completed in the recorded part. */
  count: number;
  /** Ones that failed: an error, a close other than 1000, or nothing for OPERATION_TIMEOUT_MS. */
  errors: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

const OPERATION_TIMEOUT_MS = 5000;
const MESSAGE = Buffer.alloc(32, 'x');

const { values } = parseArgs({ options: { url: { type: 'string' }, mode: { type: 'string' }, clients: { type: 'string' }, seconds: { type: 'string' }, warmup: { type: 'string' } } });
const url = values.url ?? '';
const clients = Number(values.clients);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
if (!url.startsWith('ws') || (values.mode !== 'sessions' && values.mode !== 'messages') || !(clients > 0) || !(seconds > 0) || !(warmup >= 0)) {
  console.error('usage: ws-load --url ws://... --mode sessions|messages --clients C --seconds S --warmup W');
  process.exit(2);
}

let recording = false;
let stopping = false;
let errors = 0;
const times: number[] = [];
const record = (startedAt: number): void => {
  if (recording) times.push(performance.now() - startedAt);
};
const fail = (): void => {
  if (recording) errors++;
};

/** One session; resolves when it has ended either way. */
function session(): Promise<void> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let echoed = false;
    const timer = setTimeout(() => ws.terminate(), OPERATION_TIMEOUT_MS);
    ws.on('open', () => ws.send(MESSAGE));
    ws.on('message', () => {
      echoed = true;
      ws.close(1000);
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      clearTimeout(timer);
      if (echoed && code === 1000) record(startedAt);
      else fail();
      resolve();
    });
  });
}

async function sessionLoop(): Promise<void> {
  while (!stopping) await session();
}

/** One held WebSocket sending message after message; a broken one is replaced. */
async function messageLoop(): Promise<void> {
  while (!stopping) {
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      let sentAt = 0;
      let timer: NodeJS.Timeout | null = null;
      const send = (): void => {
        if (stopping) return void ws.close(1000);
        sentAt = performance.now();
        ws.send(MESSAGE);
        timer?.refresh();
      };
      timer = setTimeout(() => ws.terminate(), OPERATION_TIMEOUT_MS);
      ws.on('open', send);
      ws.on('message', () => {
        record(sentAt);
        send();
      });
      ws.on('error', () => {});
      ws.on('close', () => {
        clearTimeout(timer!);
        if (!stopping) fail();
        resolve();
      });
    });
  }
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

const loops = Array.from({ length: clients }, values.mode === 'sessions' ? sessionLoop : messageLoop);
await new Promise((r) => setTimeout(r, warmup * 1000));
console.log('measuring');
recording = true;
const startedAt = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
recording = false;
const elapsed = (performance.now() - startedAt) / 1000;
stopping = true;
await Promise.all(loops);
times.sort((a, b) => a - b);
const result: LoadResult = { count: times.length, errors, seconds: elapsed, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99) };
console.log(JSON.stringify(result));
