import { createHash } from 'node:crypto';
import { WeighbridgeError } from '../errors.js';
import { ResponseParser, type BodyKind, type FieldLines } from './response-parser.js';
import { TcpSocket } from './tcp-socket.js';
import {
  FrameReader, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, WebSocketProtocolError, closePayload, encodeFrame, randomBytesFromPool,
} from './websocket-frames.js';

/**
 * The ingress's side of a WebSocket to a worker: the opening handshake (RFC 6455 section 4.1)
 * and frames, on the same TcpSocket as the HTTP path's upstream connections.
 *
 * Why not the `ws` client, which this replaced: it opens each connection through node:http's
 * ClientRequest and runs every frame through net.Socket's streams. bench:websocket measured the
 * ingress at several times HAProxy's CPU per session with it (see the README), and most of that
 * was this client's share.
 */

/** Each runs on a later event (a read, a timer, the socket's close), never inside a call into the socket. */
export interface UpstreamWebSocketEvents {
  /** The worker accepted; `protocol` is the subprotocol it chose ('' for none). */
  onOpen(protocol: string): void;
  /**
   * The worker answered the upgrade with another status: it, the reason phrase, the field lines
   * ([name, value, ...] as received) and the body, null when it was over maxRefusalBytes, broke
   * off or stayed idle for idleMs. The connection is closed.
   */
  onRefused(status: number, reason: string, fields: string[], body: Buffer | null): void;
  /** `data` may be a view of a read buffer, valid only during the call. */
  onMessage(data: Buffer, isBinary: boolean): void;
  onPong(): void;
  /**
   * Once, after onOpen: the worker's close frame (its code, 1005 for none), or 1006 when the
   * connection ended without one, or the code and reason of the worker's protocol error.
   * Not after the owner's own close() or terminate().
   */
  onClose(code: number, reason: Buffer): void;
  /** Once, instead of onOpen or onRefused: the connection or the handshake failed. */
  onError(err: Error): void;
}

export interface UpstreamWebSocketOptions {
  /** For the connection and the worker's answer to the upgrade, as ws's handshakeTimeout. */
  connectMs: number;
  /** How long a refusal's body may take between reads. */
  idleMs: number;
  maxMessageBytes: number;
  maxRefusalBytes: number;
}

/** The handshake failed: what the worker sent, or did not send, was no WebSocket's answer. */
export class WebSocketHandshakeError extends WeighbridgeError {
  constructor(message: string) {
    super('ERR_WEBSOCKET_HANDSHAKE', message);
  }
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** How long the worker may take to end the connection once both close frames are out, as ws's closeTimeout. */
const CLOSE_TIMEOUT_MS = 30_000;
/** What the owner gets for a worker whose frames break the protocol (the worker gets 1002 or 1009). */
const BAD_GATEWAY = 1014;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Reads are consumed before the next one, so one buffer serves every upstream WebSocket of a thread. */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

const enum State {
  Connecting,
  Refused,
  Open,
  /** The owner closed or terminated it, or it ended: no more events. */
  Done,
}

/**
 * The subprotocols a client asked for, from its Sec-WebSocket-Protocol value; throws when one is
 * not a token or comes twice (RFC 6455 section 4.1), which no worker could answer.
 */
export function parseSubprotocols(value: string): string[] {
  if (value.trim() === '') return [];
  const protocols = value.split(',').map((p) => p.trim());
  for (const [i, p] of protocols.entries()) {
    if (!TOKEN.test(p)) throw new WebSocketHandshakeError(`invalid subprotocol "${p}"`);
    if (protocols.indexOf(p) !== i) throw new WebSocketHandshakeError(`subprotocol "${p}" listed twice`);
  }
  return protocols;
}

export class UpstreamWebSocket {
  private state = State.Connecting;
  private readonly socket: TcpSocket;
  private readonly parser: ResponseParser;
  private readonly frames: FrameReader;
  private readonly accept: string;
  private timer: NodeJS.Timeout | null;
  /** A refusal's head and body so far. */
  private refusal: { status: number; reason: string; fields: string[]; body: Buffer[]; bytes: number } | null = null;
  /** A close frame went out (ours, or our answer to the worker's). */
  private closeSent = false;

  /**
   * Connects to host:port and asks for `target` with the client's subprotocols and `fields`
   * (the other request fields, each line ending in CRLF).
   */
  constructor(
    host: string,
    port: number,
    target: string,
    private readonly requested: readonly string[],
    fields: string,
    private readonly options: UpstreamWebSocketOptions,
    private readonly events: UpstreamWebSocketEvents,
  ) {
    const key = randomBytesFromPool(16).toString('base64');
    this.accept = createHash('sha1').update(key + GUID).digest('base64');
    this.parser = new ResponseParser({ onHead: (status, lines, kind) => this.onHead(status, lines, kind), onBody: (chunk) => this.onRefusalBody(chunk), onComplete: () => this.refused(true) });
    this.parser.expect(false);
    this.frames = new FrameReader(options.maxMessageBytes, {
      onMessage: (data, isBinary) => this.events.onMessage(data, isBinary),
      onPing: (payload) => {
        if (this.state === State.Open) this.socket.write(encodeFrame(OP_PONG, payload));
      },
      onPong: () => this.events.onPong(),
      onClose: (code, reason) => this.onCloseFrame(code, reason),
    });
    this.socket = new TcpSocket(host, port, readBuffer, {
      onConnect: () => {},
      onRead: (buf, n) => this.onRead(buf, n),
      onEnd: () => {},
      onDrain: () => {},
      onClose: (err) => this.onSocketClose(err),
    });
    const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const offered = requested.length > 0 ? `sec-websocket-protocol: ${requested.join(', ')}\r\n` : '';
    this.socket.write(`GET ${target} HTTP/1.1\r\nhost: ${authority}\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: ${key}\r\n${offered}${fields}\r\n`);
    this.timer = setTimeout(() => this.fail(new WebSocketHandshakeError(`the worker did not answer the upgrade within ${options.connectMs} ms`)), options.connectMs);
  }

  /** Bytes written and not yet taken by the kernel. */
  get bufferedAmount(): number {
    return this.socket.bufferedBytes;
  }

  get isPaused(): boolean {
    return this.socket.isPaused;
  }

  get isOpen(): boolean {
    return this.state === State.Open;
  }

  send(data: Uint8Array, isBinary: boolean): void {
    if (this.state === State.Open) this.socket.write(encodeFrame(isBinary ? OP_BINARY : OP_TEXT, data));
  }

  ping(): void {
    if (this.state === State.Open) this.socket.write(encodeFrame(OP_PING, EMPTY));
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /**
   * Sends a close frame (with `code`, or without one when it is 0) and waits for the worker to end
   * the connection (CLOSE_TIMEOUT_MS at most); no events follow.
   */
  close(code = 0, reason: Uint8Array = EMPTY): void {
    if (this.state !== State.Open) return this.terminate();
    this.state = State.Done;
    this.frames.stop();
    this.sendClose(code, reason);
  }

  /** Drops the connection at once; no events follow. */
  terminate(): void {
    this.state = State.Done;
    this.frames.stop();
    this.clearTimer();
    this.socket.destroy();
  }

  private sendClose(code: number, reason: Uint8Array): void {
    if (!this.closeSent) this.socket.write(encodeFrame(OP_CLOSE, closePayload(code, reason)));
    this.closeSent = true;
    this.clearTimer();
    this.timer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
    this.timer.unref();
  }

  private onRead(buf: Buffer, n: number): void {
    try {
      if (this.state === State.Open) return this.frames.push(buf, 0, n);
      // Once done, what the worker still sends (its answer to our close frame) is not read.
      if (this.state === State.Done) return;
      const used = this.parser.execute(buf, n);
      // A 101: what follows it in this read is the worker's first frames.
      if (this.isOpen && used < n) this.frames.push(buf, used, n);
    } catch (err) {
      if (err instanceof WebSocketProtocolError) return this.protocolError(err);
      // Anything else is a bug of the code the events ran, not the worker's doing.
      if (!(err instanceof WeighbridgeError)) throw err;
      if (this.state === State.Refused) this.refused(false);
      else this.fail(err);
    }
  }

  private onHead(status: number, lines: FieldLines, kind: BodyKind): void {
    if (status !== 101) {
      this.state = State.Refused;
      this.refusal = { status, reason: lines.reason(), fields: lines.list(), body: [], bytes: 0 };
      // The body may take its time; each read restarts the clock.
      this.clearTimer();
      this.timer = setTimeout(() => this.refused(false), this.options.idleMs);
      if (kind === 'none') this.refused(true);
      return;
    }
    let upgrade = '';
    let connection = '';
    let accept = '';
    let protocol = '';
    let extensions = '';
    for (let i = 0; i < lines.count; i++) {
      const name = lines.name(i).toLowerCase();
      if (name === 'upgrade') upgrade = lines.value(i);
      else if (name === 'connection') connection += `,${lines.value(i)}`;
      else if (name === 'sec-websocket-accept') accept = lines.value(i);
      else if (name === 'sec-websocket-protocol') protocol = lines.value(i);
      else if (name === 'sec-websocket-extensions') extensions = lines.value(i);
    }
    const why =
      upgrade.toLowerCase() !== 'websocket' ? 'its 101 does not upgrade to websocket'
      : !connection.toLowerCase().split(',').some((t) => t.trim() === 'upgrade') ? 'its 101 has no Connection: upgrade'
      : accept !== this.accept ? 'its Sec-WebSocket-Accept does not match the key'
      : protocol !== '' && !this.requested.includes(protocol) ? `it chose subprotocol "${protocol}", which the client did not offer`
      : extensions !== '' ? `it chose extensions "${extensions}", which were not offered`
      : '';
    if (why !== '') throw new WebSocketHandshakeError(`the worker's answer to the upgrade is not valid: ${why}`);
    this.clearTimer();
    this.state = State.Open;
    this.events.onOpen(protocol);
  }

  private onRefusalBody(chunk: Buffer): void {
    const r = this.refusal;
    if (r === null || this.state !== State.Refused) return;
    r.bytes += chunk.length;
    if (r.bytes > this.options.maxRefusalBytes) return this.refused(false);
    r.body.push(Buffer.from(chunk));
    this.timer?.refresh();
  }

  /** Hands the refusal on, with its body when `whole`, and closes. */
  private refused(whole: boolean): void {
    const r = this.refusal;
    if (r === null || this.state !== State.Refused) return;
    this.terminate();
    this.events.onRefused(r.status, r.reason, r.fields, whole ? Buffer.concat(r.body) : null);
  }

  /** The worker's close frame (only read while open): answered, then the worker ends the connection. */
  private onCloseFrame(code: number, reason: Buffer): void {
    this.state = State.Done;
    this.sendClose(code === 1005 ? 0 : code, reason);
    this.events.onClose(code, Buffer.from(reason));
  }

  /**
   * Fails the connection (RFC 6455 section 7.1.7) with the error's close frame; the worker ends
   * it then, or CLOSE_TIMEOUT_MS does.
   */
  private protocolError(err: WebSocketProtocolError): void {
    this.state = State.Done;
    this.sendClose(err.closeCode, EMPTY);
    this.events.onClose(BAD_GATEWAY, Buffer.from(`the worker broke the WebSocket protocol: ${err.message}`));
  }

  private onSocketClose(err: Error | undefined): void {
    this.clearTimer();
    if (this.state === State.Refused) {
      // A body that runs to the connection's end is whole there (finish() completes it); any
      // other ending cut it short.
      if (err === undefined) {
        try {
          this.parser.finish();
        } catch {
          // cut short: below
        }
      }
      return this.refused(false);
    }
    const state = this.state;
    this.state = State.Done;
    if (state === State.Open) this.events.onClose(1006, EMPTY);
    else if (state === State.Connecting) this.events.onError(err ?? new WebSocketHandshakeError('the worker closed the connection before it answered the upgrade'));
  }

  private fail(err: Error): void {
    if (this.state !== State.Connecting) return;
    this.state = State.Done;
    this.clearTimer();
    this.socket.destroy();
    this.events.onError(err);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

const EMPTY = Buffer.alloc(0);
