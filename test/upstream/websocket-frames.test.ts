import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import test from 'node:test';
import { seededRandom } from '../../src/balancing/random.js';
import {
  FrameReader, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, WebSocketProtocolError, closePayload, encodeFrame,
} from '../../src/upstream/websocket-frames.js';

// The `ws` library's own frame code is the reference: its Receiver reads what encodeFrame writes
// (as a server, it insists on masked frames), and its Sender writes what FrameReader reads.
interface WsReceiver {
  on(event: 'message', fn: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'ping' | 'pong', fn: (data: Buffer) => void): void;
  on(event: 'conclude', fn: (code: number, reason: Buffer) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  write(chunk: Buffer): void;
}
const ws = createRequire(import.meta.url)('ws') as {
  Receiver: new (options: { isServer: boolean; maxPayload: number; binaryType: string; skipUTF8Validation: boolean }) => WsReceiver;
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] };
};

type Event = ['message', string, boolean] | ['ping', string] | ['pong'] | ['close', number, string];

/** A random payload whose size is often at a length-encoding boundary. */
function payload(random: () => number): Buffer {
  const sizes = [0, 1, 125, 126, 127, 65535, 65536, 65537];
  const n = random() < 0.3 ? sizes[Math.floor(random() * sizes.length)]! : Math.floor(random() ** 3 * 200_000);
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Frames for a random conversation, and the events a reader should report for it, in order. */
function conversation(seed: number, frame: (opcode: number, data: Buffer, fin: boolean) => Buffer[]): { bytes: Buffer; events: Event[] } {
  const random = seededRandom(seed);
  const frames: Buffer[] = [];
  const events: Event[] = [];
  for (let m = 0; m < 12; m++) {
    const data = payload(random);
    const binary = random() < 0.5;
    // Fragmented at random points, with pings and pongs between the fragments.
    const cuts = [0, ...Array.from({ length: Math.floor(random() * 4) }, () => Math.floor(random() * (data.length + 1))).sort((a, b) => a - b), data.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const last = i + 2 === cuts.length;
      frames.push(...frame(i === 0 ? (binary ? OP_BINARY : OP_TEXT) : OP_CONTINUATION, data.subarray(cuts[i], cuts[i + 1]), last));
      if (last) events.push(['message', data.toString('hex'), binary]);
      if (random() < 0.3) {
        const ping = Buffer.from(`ping ${m}.${i}`);
        frames.push(...frame(OP_PING, ping, true));
        events.push(['ping', ping.toString('hex')]);
      }
      if (random() < 0.1) {
        frames.push(...frame(OP_PONG, Buffer.alloc(0), true));
        events.push(['pong']);
      }
    }
  }
  frames.push(...frame(OP_CLOSE, closePayload(4001, Buffer.from('bye')), true));
  events.push(['close', 4001, 'bye']);
  return { bytes: Buffer.concat(frames), events };
}

/** Feeds `bytes` in random pieces, single bytes among them, to `push`. */
function feed(bytes: Buffer, seed: number, push: (piece: Buffer) => void): void {
  const random = seededRandom(seed);
  for (let at = 0; at < bytes.length; ) {
    const n = random() < 0.2 ? 1 : 1 + Math.floor(random() * 70_000);
    push(bytes.subarray(at, at + n));
    at += n;
  }
}

function readAll(bytes: Buffer, seed: number, maxMessageBytes = 1 << 20): Event[] {
  const events: Event[] = [];
  const reader = new FrameReader(maxMessageBytes, {
    // The view is only valid during the call, so it is read at once.
    onMessage: (data, isBinary) => events.push(['message', data.toString('hex'), isBinary]),
    onPing: (data) => events.push(['ping', data.toString('hex')]),
    onPong: () => events.push(['pong']),
    onClose: (code, reason) => events.push(['close', code, reason.toString()]),
  });
  // A reused buffer, as a socket's reads land in: a view kept past its call would change.
  const scratch = Buffer.alloc(70_000);
  feed(bytes, seed, (piece) => {
    piece.copy(scratch);
    reader.push(scratch, 0, piece.length);
    scratch.fill(0xee);
  });
  return events;
}

test('FrameReader reads what ws sends, split at random across reads: messages, fragments, pings, pongs, close', () => {
  for (let seed = 1; seed <= 25; seed++) {
    const { bytes, events } = conversation(seed, (opcode, data, fin) => ws.Sender.frame(data, { fin, opcode, mask: false, readOnly: true, rsv1: false }));
    assert.deepEqual(readAll(bytes, seed + 1000), events, `seed ${seed}`);
  }
});

test('encodeFrame writes masked frames that ws, as a server, reads back as sent', async () => {
  for (let seed = 1; seed <= 25; seed++) {
    const { bytes, events } = conversation(seed, (opcode, data, fin) => [encodeFrame(opcode, data, fin)]);
    const got: Event[] = [];
    const receiver = new ws.Receiver({ isServer: true, maxPayload: 0, binaryType: 'nodebuffer', skipUTF8Validation: true });
    receiver.on('message', (data, isBinary) => got.push(['message', data.toString('hex'), isBinary]));
    receiver.on('ping', (data) => got.push(['ping', data.toString('hex')]));
    receiver.on('pong', () => got.push(['pong']));
    receiver.on('conclude', (code, reason) => got.push(['close', code, reason.toString()]));
    receiver.on('error', (err) => assert.fail(`seed ${seed}: ${err.message}`));
    feed(bytes, seed + 2000, (piece) => receiver.write(Buffer.from(piece)));
    // The receiver may hand on each message in a later tick.
    for (let i = 0; i < 1000 && got.at(-1)?.[0] !== 'close'; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(got, events, `seed ${seed}`);
  }
});

test('encodeFrame masks with a fresh key per frame', () => {
  const data = Buffer.alloc(64, 0);
  const a = encodeFrame(OP_BINARY, data);
  const b = encodeFrame(OP_BINARY, data);
  assert.equal(a[1]! & 0x80, 0x80, 'the mask bit is set');
  // Over zero bytes the masked payload is the key repeated.
  assert.deepEqual(a.subarray(6, 10), a.subarray(2, 6));
  assert.notDeepEqual(a.subarray(2, 6), b.subarray(2, 6));
});

const frameOf = (b0: number, b1: number, rest: number[] = []): Buffer => Buffer.from([b0, b1, ...rest]);

test('FrameReader fails the connection on what a server may not send, with 1002, or 1009 past the message limit', () => {
  const cases: [string, Buffer, number][] = [
    ['RSV1 set', frameOf(0x80 | 0x40 | OP_TEXT, 0), 1002],
    ['masked', frameOf(0x80 | OP_TEXT, 0x80 | 1, [1, 2, 3, 4, 5]), 1002],
    ['reserved data opcode', frameOf(0x80 | 3, 0), 1002],
    ['reserved control opcode', frameOf(0x80 | 11, 0), 1002],
    ['fragmented ping', frameOf(OP_PING, 0), 1002],
    ['ping over 125 bytes', frameOf(0x80 | OP_PING, 126, [0, 126]), 1002],
    ['continuation with nothing under way', frameOf(0x80 | OP_CONTINUATION, 0), 1002],
    ['a new message inside a fragmented one', Buffer.concat([frameOf(OP_TEXT, 1, [0x61]), frameOf(0x80 | OP_TEXT, 0)]), 1002],
    ['close with a 1-byte payload', frameOf(0x80 | OP_CLOSE, 1, [3]), 1002],
    ['close with code 1005', frameOf(0x80 | OP_CLOSE, 2, [0x03, 0xed]), 1002],
    ['close with code 999', frameOf(0x80 | OP_CLOSE, 2, [0x03, 0xe7]), 1002],
    ['a 2^63 length', frameOf(0x80 | OP_BINARY, 127, [0x80, 0, 0, 0, 0, 0, 0, 0]), 1002],
    ['one frame over the limit', frameOf(0x80 | OP_BINARY, 126, [0x04, 0x01]), 1009],
    ['fragments over the limit together', Buffer.concat([frameOf(OP_BINARY, 126, [0x02, 0x00]), Buffer.alloc(512), frameOf(0x80 | OP_CONTINUATION, 126, [0x02, 0x01])]), 1009],
  ];
  for (const [name, bytes, code] of cases) {
    for (const split of [bytes.length, 1]) {
      let messages = 0;
      const reader = new FrameReader(1024, { onMessage: () => messages++, onPing: () => {}, onPong: () => {}, onClose: () => {} });
      assert.throws(
        () => {
          for (let at = 0; at < bytes.length; at += split) reader.push(bytes, at, Math.min(bytes.length, at + split));
        },
        (err: unknown) => err instanceof WebSocketProtocolError && err.closeCode === code,
        `${name} (pieces of ${split})`,
      );
      assert.equal(messages, 0, name);
      // Stopped: what comes after is not read.
      reader.push(frameOf(0x80 | OP_TEXT, 1, [0x61]), 0, 3);
      assert.equal(messages, 0, `${name}: read after the error`);
    }
  }
});

test('FrameReader takes a close frame without a code as 1005, and reads nothing after a close frame', () => {
  const events: Event[] = [];
  const reader = new FrameReader(1024, {
    onMessage: (data, isBinary) => events.push(['message', data.toString('hex'), isBinary]),
    onPing: () => {},
    onPong: () => {},
    onClose: (code, reason) => events.push(['close', code, reason.toString()]),
  });
  const bytes = Buffer.concat([frameOf(0x80 | OP_CLOSE, 0), frameOf(0x80 | OP_TEXT, 1, [0x61])]);
  reader.push(bytes, 0, bytes.length);
  assert.deepEqual(events, [['close', 1005, '']]);
});
