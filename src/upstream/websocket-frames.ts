import { randomFillSync } from 'node:crypto';
import { WeighbridgeError } from '../errors.js';

/**
 * WebSocket frames (RFC 6455 section 5) as the ingress's upstream side speaks them: masked client
 * frames out (encodeFrame), a server's unmasked frames in (FrameReader). No extensions are ever
 * offered, so every RSV bit must be clear. test/upstream/websocket-frames.test.ts checks both
 * against the `ws` library's own Sender and Receiver on random traffic.
 */

export const OP_CONTINUATION = 0;
export const OP_TEXT = 1;
export const OP_BINARY = 2;
export const OP_CLOSE = 8;
export const OP_PING = 9;
export const OP_PONG = 10;

/** The worker broke the protocol; `closeCode` is what RFC 6455 has the connection failed with. */
export class WebSocketProtocolError extends WeighbridgeError {
  constructor(
    readonly closeCode: 1002 | 1009,
    message: string,
  ) {
    super(closeCode === 1009 ? 'ERR_WEBSOCKET_MESSAGE_TOO_BIG' : 'ERR_WEBSOCKET_PROTOCOL', message);
  }
}

/**
 * Random bytes for mask keys and handshake keys, taken from a pool filled 8 KiB at a time (as `ws`
 * does): one call into the random generator per frame would cost more than the frame.
 */
const POOL_BYTES = 8192;
let pool = Buffer.alloc(0);
let poolAt = 0;

/** `n` random bytes: a view of the pool, to be read at once (later calls refill it). */
export function randomBytesFromPool(n: number): Buffer {
  if (poolAt + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    poolAt = 0;
  }
  poolAt += n;
  return pool.subarray(poolAt - n, poolAt);
}

/** One whole masked client frame: header, mask key, masked payload, in one buffer. */
export function encodeFrame(opcode: number, payload: Uint8Array, fin = true): Buffer {
  const n = payload.length;
  const header = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(header + 4 + n);
  out[0] = (fin ? 0x80 : 0) | opcode;
  if (n < 126) {
    out[1] = 0x80 | n;
  } else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  const mask = randomBytesFromPool(4);
  const m0 = (out[header] = mask[0]!);
  const m1 = (out[header + 1] = mask[1]!);
  const m2 = (out[header + 2] = mask[2]!);
  const m3 = (out[header + 3] = mask[3]!);
  let at = header + 4;
  let i = 0;
  // Four bytes a turn: the loop runs a quarter as often, which shows on large messages.
  for (const whole = n & ~3; i < whole; i += 4) {
    out[at++] = payload[i]! ^ m0;
    out[at++] = payload[i + 1]! ^ m1;
    out[at++] = payload[i + 2]! ^ m2;
    out[at++] = payload[i + 3]! ^ m3;
  }
  for (; i < n; i++) out[at++] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** A close frame's payload: the code (none when 0) and the reason after it. */
export function closePayload(code: number, reason: Uint8Array): Buffer {
  if (code === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(2 + reason.length);
  out.writeUInt16BE(code, 0);
  out.set(reason, 2);
  return out;
}

export interface FrameEvents {
  /** A whole message; `data` may be a view of the input, valid only during the call. */
  onMessage(data: Buffer, isBinary: boolean): void;
  onPing(payload: Buffer): void;
  onPong(): void;
  /** The peer's close frame: its code (1005 when it had none) and reason. */
  onClose(code: number, reason: Buffer): void;
}

/** Close codes a peer may send (RFC 6455 section 7.4, and the registry's 1012-1014). */
function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

const fail = (message: string): never => {
  throw new WebSocketProtocolError(1002, message);
};

/**
 * Reads a server's frames from successive reads, which may split them anywhere. A message that
 * arrives whole in one read is handed on as a view of it (no copy); others are gathered. Text is
 * passed on as it came, not checked for UTF-8, as HAProxy and NGINX pass it: the client's own
 * WebSocket checks what it receives.
 */
export class FrameReader {
  /** The current frame's header, gathered byte by byte only when a read splits it. */
  private readonly header = Buffer.alloc(14);
  private headerBytes = 0;
  /** Payload bytes of the current frame still to come; -1 while its header is being read. */
  private remaining = -1;
  private opcode = 0;
  private fin = false;
  /** The message being gathered: its opcode (0 when none is under way) and pieces. */
  private messageOpcode = 0;
  private pieces: Buffer[] = [];
  private messageBytes = 0;
  /** A control frame's payload split across reads. */
  private control: Buffer[] = [];
  private stopped = false;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly events: FrameEvents,
  ) {}

  /** Stops reading: what push() is still given is ignored (after a close frame, or an error). */
  stop(): void {
    this.stopped = true;
  }

  /** Reads data[start, end). Throws WebSocketProtocolError; the reader is stopped after it. */
  push(data: Buffer, start: number, end: number): void {
    let pos = start;
    try {
      while (pos < end && !this.stopped) {
        if (this.remaining < 0) {
          pos = this.readHeader(data, pos, end);
          continue;
        }
        const take = Math.min(this.remaining, end - pos);
        this.remaining -= take;
        if (this.opcode >= OP_CLOSE) {
          this.control.push(Buffer.from(data.subarray(pos, pos + take)));
          if (this.remaining === 0) this.controlFrame(this.control.length === 1 ? this.control[0]! : Buffer.concat(this.control));
        } else if (this.remaining === 0 && this.fin && this.pieces.length === 0) {
          // The whole message is in this read, or its last piece with nothing gathered before it.
          const opcode = this.messageOpcode;
          this.messageOpcode = 0;
          this.messageBytes = 0;
          this.events.onMessage(data.subarray(pos, pos + take), opcode === OP_BINARY);
        } else {
          if (take > 0) this.pieces.push(Buffer.from(data.subarray(pos, pos + take)));
          if (this.remaining === 0 && this.fin) this.endMessage();
        }
        pos += take;
        if (this.remaining === 0) this.remaining = -1;
      }
    } catch (err) {
      this.stopped = true;
      throw err;
    }
  }

  /** Reads (the rest of) a frame header; returns where reading stopped. */
  private readHeader(data: Buffer, pos: number, end: number): number {
    let h: Buffer = data;
    let at = pos;
    if (this.headerBytes === 0 && end - pos >= 2 && end - pos >= headerLength(data[pos + 1]!)) {
      pos += headerLength(data[pos + 1]!);
    } else {
      // Split across reads: gathered until whole.
      while (pos < end && (this.headerBytes < 2 || this.headerBytes < headerLength(this.header[1]!))) this.header[this.headerBytes++] = data[pos++]!;
      if (this.headerBytes < 2 || this.headerBytes < headerLength(this.header[1]!)) return pos;
      h = this.header;
      at = 0;
      this.headerBytes = 0;
    }
    this.startFrame(h, at);
    return pos;
  }

  private startFrame(h: Buffer, at: number): void {
    const b0 = h[at]!;
    const b1 = h[at + 1]!;
    if (b0 & 0x70) fail('a frame with RSV bits set (no extension was negotiated)');
    if (b1 & 0x80) fail('a masked frame from the server');
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    let length = b1 & 0x7f;
    if (length === 126) length = h.readUInt16BE(at + 2);
    else if (length === 127) {
      const high = h.readUInt32BE(at + 2);
      // Lengths past 2^53 cannot be counted exactly, and are far past any message limit anyway.
      if (high > 0x1fffff) fail('a frame length beyond 2^53');
      length = high * 2 ** 32 + h.readUInt32BE(at + 6);
    }
    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) fail(`a frame with reserved opcode ${opcode}`);
      if (!fin) fail('a fragmented control frame');
      if (length > 125) fail('a control frame longer than 125 bytes');
      this.control = [];
    } else if (opcode === OP_CONTINUATION) {
      if (this.messageOpcode === 0) fail('a continuation frame with no message under way');
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (this.messageOpcode !== 0) fail('a new message before the last one ended');
      this.messageOpcode = opcode;
    } else {
      fail(`a frame with reserved opcode ${opcode}`);
    }
    if (opcode < OP_CLOSE) {
      this.messageBytes += length;
      if (this.messageBytes > this.maxMessageBytes) throw new WebSocketProtocolError(1009, `a message over ${this.maxMessageBytes} bytes`);
    }
    this.opcode = opcode;
    this.fin = fin;
    this.remaining = length;
    if (length === 0) this.emptyFrame();
  }

  /** A frame without payload ends at its header: nothing else would see it. */
  private emptyFrame(): void {
    this.remaining = -1;
    if (this.opcode >= OP_CLOSE) this.controlFrame(Buffer.alloc(0));
    else if (this.fin) this.endMessage();
  }

  private endMessage(): void {
    const pieces = this.pieces;
    const opcode = this.messageOpcode;
    this.pieces = [];
    this.messageOpcode = 0;
    this.messageBytes = 0;
    this.events.onMessage(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces), opcode === OP_BINARY);
  }

  private controlFrame(payload: Buffer): void {
    this.control = [];
    if (this.opcode === OP_PING) return this.events.onPing(payload);
    if (this.opcode === OP_PONG) return this.events.onPong();
    if (payload.length === 1) fail('a close frame with a 1-byte payload');
    const code = payload.length === 0 ? 1005 : payload.readUInt16BE(0);
    if (payload.length > 0 && !isValidCloseCode(code)) fail(`a close frame with invalid code ${code}`);
    this.stopped = true;
    this.events.onClose(code, payload.subarray(2));
  }
}

/** A frame header's length from its second byte: 2, plus 2 or 8 for the extended length, plus 4 for a mask. */
function headerLength(b1: number): number {
  const length = b1 & 0x7f;
  return 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}
