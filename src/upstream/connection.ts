import { UpstreamParseError } from '../errors.js';
import { ResponseParser, type BodyKind, type FieldLines, type ResponseHandlers } from './response-parser.js';
import { sweeper, type Expirable } from './deadline-sweeper.js';
import { TcpSocket, type TcpSocketEvents } from './tcp-socket.js';
import { FailureKind, UpstreamFailure, type FailureKindValue } from './upstream-failure.js';

/** What a connection reports to the request it is carrying. Callbacks run on the socket's events. */
export interface UpstreamExchange {
  /** `fields` also holds the status line (see forwardedHead). */
  onUpstreamHead(status: number, fields: FieldLines, bodyKind: BodyKind, contentLength: number): void;
  /** A view valid only during the call. */
  onUpstreamBody(chunk: Buffer): void;
  onUpstreamComplete(): void;
  onUpstreamError(failure: UpstreamFailure): void;
  /** The request body may be written again after write() returned false. */
  onUpstreamDrain(): void;
  /**
   * Runs fn with the client side corked, so everything one upstream read produces (head, body,
   * end) leaves in a single write to the client.
   */
  cork(fn: () => void): void;
}

export interface ConnectionTimeouts {
  connectMs: number;
  responseHeadersMs: number;
  idleMs: number;
  keepAliveMs: number;
}

/** Where a finished keep-alive connection goes back to. */
export interface ConnectionOwner {
  release(connection: UpstreamConnection): void;
  /** A released (idle) connection closed: the keep-alive timeout, or the worker ended it. */
  forget(connection: UpstreamConnection): void;
}

/** How long before a worker's advertised keep-alive timeout its idle connections are left. */
const KEEP_ALIVE_MARGIN_MS = 1000;

/** One read buffer per thread: reads are handled synchronously, one at a time. */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

const Phase = {
  connecting: 0,
  idle: 1,
  awaitingHead: 2,
  body: 3,
  closed: 4,
} as const;
type PhaseValue = (typeof Phase)[keyof typeof Phase];

/**
 * One keep-alive HTTP/1.1 connection to a worker, carrying one exchange at a time. Hand-written
 * because undici's request()/dispatch() halved proxy throughput in a prototype here (see the
 * data-plane issue); the parser is proven against llhttp by a differential fuzz test, and the
 * socket is a TcpSocket (see there for why not net.Socket).
 */
export class UpstreamConnection implements ResponseHandlers, Expirable, TcpSocketEvents {
  deadline: number;
  private readonly socket: TcpSocket;
  private readonly parser: ResponseParser;
  private exchange: UpstreamExchange | null = null;
  private phase: PhaseValue = Phase.connecting;
  private connected = false;
  private requestSent = false;
  private responseStarted = false;
  /** The current exchange's request head, to recognise it among the socket's unsent writes. */
  private head = '';
  /** The length of the read being parsed, at the start of readBuffer; valid only during onRead. */
  private readLength = 0;

  constructor(
    private readonly owner: ConnectionOwner,
    host: string,
    port: number,
    private readonly timeouts: ConnectionTimeouts,
    maxHeaderBytes: number,
  ) {
    this.parser = new ResponseParser(this, { maxHeaderBytes });
    // Every read lands in one reused buffer; nothing may keep a view of it past onRead (see onBody).
    this.socket = new TcpSocket(host, port, readBuffer, this);
    this.deadline = sweeper.now + timeouts.connectMs;
    sweeper.add(this);
  }

  /**
   * Starts an exchange: writes the request head (and body, if given whole). `requestDone` says
   * whether the request is complete after this write; otherwise call write() and endRequest().
   */
  start(exchange: UpstreamExchange, head: string, noResponseBody: boolean, requestDone: boolean): void {
    this.exchange = exchange;
    this.head = head;
    this.requestSent = requestDone;
    this.responseStarted = false;
    this.parser.expect(noResponseBody);
    if (this.connected) {
      this.phase = Phase.awaitingHead;
      this.deadline = sweeper.now + this.timeouts.responseHeadersMs;
    }
    this.socket.write(head);
  }

  /** A piece of the request body; false means wait for onUpstreamDrain. */
  write(chunk: Uint8Array | string): boolean {
    // Request body progress keeps the exchange alive; the head timeout runs from the last byte sent.
    if (this.phase === Phase.body) this.deadline = sweeper.now + this.timeouts.idleMs;
    else if (this.phase === Phase.awaitingHead) this.deadline = sweeper.now + this.timeouts.responseHeadersMs;
    return this.socket.write(chunk);
  }

  endRequest(): void {
    this.requestSent = true;
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** The client went away or the exchange gave up: the connection cannot be reused. */
  abort(): void {
    this.exchange = null;
    this.close();
  }

  close(): void {
    this.closed();
    this.socket.destroy();
  }

  private closed(): void {
    if (this.phase === Phase.idle) this.owner.forget(this);
    this.phase = Phase.closed;
    sweeper.delete(this);
  }

  // ResponseHandlers: called by the parser from onData.

  onHead(status: number, fields: FieldLines, bodyKind: BodyKind, contentLength: number): void {
    // The ingress drops a client's Upgrade field (hop-by-hop; WebSockets take their own path),
    // and a server must not switch to a protocol nobody asked for (RFC 9110 section 15.2.2).
    if (status === 101) return this.fail(FailureKind.protocol, 'invalid response from upstream: 101 Switching Protocols to a request that asked for no upgrade');
    // The body is re-framed for the client, so a coding beside chunked would be lost (RFC 9112
    // section 7: transfer codings are hop-by-hop). NGINX answers such a response with 502 too.
    if (bodyKind !== 'none' && this.parser.otherCodings) return this.fail(FailureKind.protocol, 'invalid response from upstream: a Transfer-Encoding other than chunked alone, which the ingress cannot pass on');
    this.phase = Phase.body;
    this.deadline = sweeper.now + this.timeouts.idleMs;
    this.exchange?.onUpstreamHead(status, fields, bodyKind, contentLength);
  }

  onBody(chunk: Buffer): void {
    this.exchange?.onUpstreamBody(chunk);
  }

  onComplete(keepAlive: boolean): void {
    const exchange = this.exchange;
    this.exchange = null;
    // An idle connection keeps nothing of the request (its Cookie, its Authorization).
    this.head = '';
    const keepMs = this.keepMs();
    if (keepAlive && keepMs > 0 && this.requestSent && this.phase !== Phase.closed) {
      this.phase = Phase.idle;
      this.deadline = sweeper.now + keepMs;
      this.resumeReading();
      this.owner.release(this);
    } else {
      this.close();
    }
    exchange?.onUpstreamComplete();
  }

  /**
   * How long to keep the connection idle: timeouts.keepAliveMs, or less when the worker said when
   * it closes idle connections (Node's http server: `Keep-Alive: timeout=5`). Left a second
   * before then (undici's margin), as a request sent as the worker closes would be lost or
   * reset; the sweeper's tick (100 ms) fits in that second.
   */
  private keepMs(): number {
    const hintS = this.parser.keepAliveTimeoutS;
    return hintS < 0 ? this.timeouts.keepAliveMs : Math.min(this.timeouts.keepAliveMs, hintS * 1000 - KEEP_ALIVE_MARGIN_MS);
  }

  // TcpSocketEvents.

  onConnect(): void {
    this.connected = true;
    if (this.phase === Phase.closed) return;
    this.phase = this.exchange ? Phase.awaitingHead : Phase.idle;
    this.deadline = sweeper.now + (this.exchange ? this.timeouts.responseHeadersMs : this.timeouts.keepAliveMs);
  }

  /** Reads land in readBuffer (given to the socket), read in place: no view is made per read. */
  onRead(_buffer: Buffer, length: number): void {
    if (this.exchange === null) {
      // Bytes on an idle connection (or after an abort) have no request to belong to.
      this.close();
      return;
    }
    this.responseStarted = true;
    if (this.phase === Phase.body) this.deadline = sweeper.now + this.timeouts.idleMs;
    this.readLength = length;
    this.exchange.cork(this.parseRead);
  }

  /** Parses the current read; made once per connection, since a closure per read shows up. */
  private readonly parseRead = (): void => {
    try {
      this.parser.execute(readBuffer, this.readLength);
    } catch (err) {
      if (!(err instanceof UpstreamParseError)) throw err;
      this.fail(FailureKind.protocol, `invalid response from upstream: ${err.message}`, err);
    }
  };

  onDrain(): void {
    this.exchange?.onUpstreamDrain();
  }

  onEnd(): void {
    const exchange = this.exchange;
    if (exchange === null) return this.close();
    exchange.cork(() => {
      try {
        this.parser.finish();
      } catch (err) {
        if (!(err instanceof UpstreamParseError)) throw err;
        // Falls through to onClose, which reports the reset with what we know.
      }
    });
    this.close();
  }

  onClose(error: NodeJS.ErrnoException | undefined): void {
    this.closed();
    if (this.exchange === null) return;
    const code = error?.code;
    if (!this.connected) {
      this.fail(FailureKind.connect, `cannot connect to upstream: ${code ?? 'connection closed'}`, error);
    } else {
      this.fail(FailureKind.reset, `upstream closed the connection${this.responseStarted ? ' mid-response' : ' before responding'}${code ? ` (${code})` : ''}`, error);
    }
  }

  onDeadline(): void {
    const phase = this.phase;
    if (phase === Phase.idle || this.exchange === null) return this.close();
    if (phase === Phase.connecting) this.fail(FailureKind.connectTimeout, `no connection to upstream within ${this.timeouts.connectMs} ms`);
    else if (phase === Phase.awaitingHead) this.fail(FailureKind.headersTimeout, `no response head from upstream within ${this.timeouts.responseHeadersMs} ms`);
    else this.fail(FailureKind.idleTimeout, `upstream idle for ${this.timeouts.idleMs} ms mid-response`);
  }

  private fail(kind: FailureKindValue, message: string, cause?: unknown): void {
    const exchange = this.exchange;
    this.exchange = null;
    this.close();
    exchange?.onUpstreamError(new UpstreamFailure(kind, this.responseStarted, message, { cause }, this.unsentBody()));
  }

  /**
   * The exchange's body writes if its head never left (then nothing after it did either: writes
   * leave in order), else null. A live connection's socket has no unsent writes when an exchange
   * starts, so a head found first among them is this exchange's.
   */
  private unsentBody(): (string | Uint8Array)[] | null {
    const unsent = this.socket.unsent;
    return unsent !== null && unsent[0] === this.head ? unsent.slice(1) : null;
  }
}
