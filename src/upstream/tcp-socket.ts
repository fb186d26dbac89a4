import { lookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { getSystemErrorName } from 'node:util';

/**
 * A TCP client socket on Node's own libuv stream handle (the `tcp_wrap` binding that net.Socket
 * is built on), for the upstream connections of the ingress's hot path.
 *
 * Why not net.Socket: in a proxy that holds one upstream write and one upstream read per request,
 * net.Socket's Writable state machine, its per-write nextTick (afterWriteTick) and its read
 * bookkeeping cost about 4 us of CPU per request on the bench machine, 8% of the whole proxy's
 * CPU per request (a bare uWS.js proxy measured both ways, interleaved, against HAProxy). This
 * class makes the same handle calls net.Socket makes (connect, writeLatin1String, writeBuffer,
 * readStart with a user buffer, close) and nothing else. Its contract is small: writes go out in
 * order, reads arrive in one reused buffer, and every socket ends with exactly one onClose.
 *
 * `process.binding` is a documentation-only deprecation (DEP0111) that Node keeps for tcp_wrap
 * and stream_wrap; test/upstream/tcp-socket.test.ts pins the behaviour this class relies on.
 */

/** What a socket reports. Each callback runs on a libuv event, never inside a call into the socket. */
export interface TcpSocketEvents {
  onConnect(): void;
  /** `length` bytes at the start of the socket's read buffer, valid only during the call. */
  onRead(buffer: Buffer, length: number): void;
  /** The peer ended its side; the socket closes next. */
  onEnd(): void;
  /** Every write is in the kernel again after write() returned false. */
  onDrain(): void;
  /** Exactly once per socket; `error` when a connect, read or write failed. */
  onClose(error: NodeJS.ErrnoException | undefined): void;
}

interface StreamHandle {
  /** Must stay a function (Node asserts it). */
  onread: () => void;
  connect(req: unknown, address: string, port: number): number;
  connect6(req: unknown, address: string, port: number): number;
  setNoDelay(enable: boolean): number;
  /** Bytes libuv holds for writes the kernel has not taken. */
  readonly writeQueueSize: number;
  useUserBuffer(buffer: Uint8Array): void;
  readStart(): number;
  readStop(): number;
  writeLatin1String(req: unknown, data: string): number;
  writeBuffer(req: unknown, data: Uint8Array): number;
  /** `chunks` alternates data and its encoding (ignored for buffers) unless `allBuffers`. */
  writev(req: unknown, chunks: unknown[], allBuffers: boolean): number;
  close(callback: () => void): void;
}
interface WriteRequest {
  handle: StreamHandle;
  oncomplete: (this: WriteRequest, status: number) => void;
  owner: TcpSocket;
  buffer: Uint8Array | (string | Uint8Array)[] | null;
}
interface ConnectRequest {
  oncomplete: (status: number) => void;
  address: string;
  port: number;
}
interface TcpWrapBinding {
  TCP: new (type: number) => StreamHandle;
  TCPConnectWrap: new () => ConnectRequest;
  constants: { SOCKET: number };
}
interface StreamWrapBinding {
  WriteWrap: new () => WriteRequest;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

const binding = (process as unknown as { binding(name: string): unknown }).binding;
const { TCP, TCPConnectWrap, constants } = binding('tcp_wrap') as TcpWrapBinding;
const { WriteWrap, streamBaseState, kReadBytesOrError, kLastWriteWasAsync } = binding('stream_wrap') as StreamWrapBinding;

/**
 * How long a connect to one of a name's addresses may take before the next address is tried
 * (Node's autoSelectFamilyAttemptTimeout default): an address that drops packets would otherwise
 * use up the whole connect timeout.
 */
const ATTEMPT_MS = 250;

/** libuv's UV_EOF, and UV_EAI_NONAME for a name that resolves to no address. */
const UV_EOF = -4095;
const UV_EAI_NONAME = -3008;

export class TcpSocket {
  private handle: StreamHandle;
  private connected = false;
  private closing = false;
  private paused = false;
  /** Writes libuv queued (the kernel did not take them whole); write() says false while any are. */
  private libuvWrites = 0;
  private wantDrain = false;
  /** Writes not handed to libuv yet, in order: until the connection is up, then until flush(). */
  private held: (string | Uint8Array | undefined)[] = [];
  /**
   * The held writes are held[0, heldCount). The array is never shrunk: emptying it would drop its
   * backing store and make the next request's write allocate a new one.
   */
  private heldCount = 0;
  private heldBytes = 0;
  private flushing = false;
  /** Addresses of the host still to try, in the resolver's order, when a connect fails or is slow. */
  private addresses: LookupAddress[] = [];
  private attemptTimer: NodeJS.Timeout | null = null;
  private error: NodeJS.ErrnoException | undefined;
  /**
   * The writes that never reached the kernel, in order: held when the socket closed, refused by
   * it, or made after. Null until there is one (a live socket has none). A request all of whose
   * writes are here provably never reached the peer, so it may be sent elsewhere (see
   * UpstreamConnection's unsentBody).
   */
  unsent: (string | Uint8Array)[] | null = null;

  constructor(
    host: string,
    private readonly port: number,
    private readonly readBuffer: Buffer,
    private readonly events: TcpSocketEvents,
    resolve: typeof lookup = lookup,
  ) {
    this.handle = this.newHandle();
    const family = isIP(host);
    if (family !== 0) {
      this.connect({ address: host, family });
    } else {
      // A name may resolve to ::1 and 127.0.0.1 with the worker on one of them: each is tried in
      // turn, the next once one fails or has not connected within ATTEMPT_MS, as net.Socket's
      // autoSelectFamily does.
      resolve(host, { all: true }, (err, addresses) => {
        if (this.closing) return;
        const first = addresses?.[0];
        if (err || first === undefined) return this.destroy(err ?? errnoError(UV_EAI_NONAME, 'getaddrinfo'));
        this.addresses = addresses.slice(1);
        this.connect(first);
      });
    }
  }

  /**
   * Sends data after what was written before, at the end of this event-loop iteration; false
   * means wait for onDrain before writing more. A string is a byte string, a character (0-255)
   * per byte: the ingress forwards bytes as it received them (see raw-head.ts).
   *
   * Why at the end: the requests that one poll of the event loop brings in then reach the workers
   * back to back, after the poll, instead of one at a time between the parsing of the others.
   * Measured with a bare uWS.js proxy against HAProxy, interleaved: 14% less CPU per request (the
   * workers are woken once per burst, and the loop runs each kind of work in a batch), which took
   * that proxy from trailing HAProxy to matching it. HAProxy and NGINX write this way too.
   * The delay is the rest of the current poll's callbacks, nothing more.
   */
  write(data: string | Uint8Array): boolean {
    if (this.closing) {
      (this.unsent ??= []).push(data);
      return false;
    }
    this.held[this.heldCount++] = data;
    this.heldBytes += data.length;
    if (this.connected && !this.flushing) scheduleFlush(this);
    if (this.libuvWrites === 0 && this.heldBytes < HELD_LIMIT) return true;
    this.wantDrain = true;
    return false;
  }

  /** @internal Marks the socket as on the flush list. */
  markFlushing(): void {
    this.flushing = true;
  }

  /**
   * @internal Hands what is held to libuv, in order: several writes in one writev(), so that a
   * request head and the body that came with it (or a burst of WebSocket frames) cost one system
   * call, not one each.
   */
  flush(): void {
    this.flushing = false;
    const held = this.held;
    const count = this.heldCount;
    this.heldCount = 0;
    this.heldBytes = 0;
    if (count === 0) return this.drainIfDone();
    const data = count === 1 ? held[0]! : (held.slice(0, count) as (string | Uint8Array)[]);
    this.dropHeld(count);
    if (!this.closing) this.writeNow(data);
    else if (Array.isArray(data)) (this.unsent ??= []).push(...data);
    else (this.unsent ??= []).push(data);
    this.drainIfDone();
  }

  private writeNow(data: string | Uint8Array | (string | Uint8Array)[]): void {
    // Node wraps the request object only when libuv queues the write, so one object serves every
    // write the kernel takes at once (most of them) and saves an allocation per request.
    const req = spareRequest ?? new WriteWrap();
    spareRequest = null;
    req.handle = this.handle;
    req.owner = this;
    const err =
      typeof data === 'string' ? this.handle.writeLatin1String(req, data)
      : data instanceof Uint8Array ? this.handle.writeBuffer(req, data)
      : this.handle.writev(req, writevChunks(data), false);
    if (err !== 0) {
      // Refused whole (EPIPE, ECONNRESET: the peer is gone), so none of it left.
      const unsent = (this.unsent ??= []);
      if (Array.isArray(data)) unsent.push(...data);
      else unsent.push(data);
      return this.destroy(errnoError(err, 'write'));
    }
    if (streamBaseState[kLastWriteWasAsync] === 0) {
      spareRequest = req;
      return;
    }
    req.oncomplete = afterWrite;
    // libuv holds buffers by reference until the write completes (strings, Node copies).
    req.buffer = typeof data === 'string' ? null : data;
    this.libuvWrites++;
  }

  /** Bytes written and not yet taken by the kernel: held ones and those libuv queued. */
  get bufferedBytes(): number {
    return this.heldBytes + this.handle.writeQueueSize;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    if (this.paused || this.closing) return;
    this.paused = true;
    if (this.connected) this.handle.readStop();
  }

  resume(): void {
    if (!this.paused || this.closing) return;
    this.paused = false;
    if (this.connected) this.handle.readStart();
  }

  /** Closes at once, dropping queued writes; onClose follows (from libuv), with `error` if given. */
  destroy(error?: NodeJS.ErrnoException): void {
    if (this.closing) return;
    this.closing = true;
    this.error ??= error;
    if (this.heldCount > 0) {
      const unsent = (this.unsent ??= []);
      for (let i = 0; i < this.heldCount; i++) unsent.push(this.held[i]!);
      this.dropHeld(this.heldCount);
      this.heldCount = 0;
      this.heldBytes = 0;
    }
    this.clearAttemptTimer();
    this.handle.onread = noop;
    this.handle.close(() => this.events.onClose(this.error));
  }

  /**
   * Lets go of held[0, count). A loop, not held.fill(): fill() is a call into V8's C++ runtime,
   * 0.2% of the ingress's CPU under bench:proxy (perf) for what is one store per request.
   */
  private dropHeld(count: number): void {
    const held = this.held;
    for (let i = 0; i < count; i++) held[i] = undefined;
  }

  private newHandle(): StreamHandle {
    const handle = new TCP(constants.SOCKET);
    handle.setNoDelay(true);
    handle.useUserBuffer(this.readBuffer);
    handle.onread = this.onRead;
    return handle;
  }

  private connect({ address, family }: LookupAddress): void {
    const req = new TCPConnectWrap();
    // An attempt given up on still completes (cancelled, from closing its handle): it is ignored.
    const handle = this.handle;
    req.oncomplete = (status) => {
      if (handle === this.handle) this.afterConnect(status);
    };
    req.address = address;
    req.port = this.port;
    const err = family === 6 ? this.handle.connect6(req, address, this.port) : this.handle.connect(req, address, this.port);
    // As net.Socket does, a connect that fails at once still reports from a later tick.
    if (err !== 0) process.nextTick(() => this.afterConnect(err));
    else if (this.addresses.length > 0) {
      this.attemptTimer = setTimeout(this.attemptTimedOut, ATTEMPT_MS);
      this.attemptTimer.unref();
    }
  }

  private afterConnect(status: number): void {
    this.clearAttemptTimer();
    if (this.closing) return;
    if (status !== 0) {
      if (!this.connectNext()) this.destroy(errnoError(status, 'connect'));
      return;
    }
    this.connected = true;
    this.addresses = [];
    if (!this.paused) this.handle.readStart();
    this.events.onConnect();
    if (!this.closing) this.flush();
  }

  private readonly attemptTimedOut = (): void => {
    this.attemptTimer = null;
    if (!this.closing && !this.connected) this.connectNext();
  };

  /** Gives up the current attempt for the next address; false if there is none. */
  private connectNext(): boolean {
    const next = this.addresses.shift();
    if (next === undefined) return false;
    // A handle whose connect failed or is abandoned cannot connect again.
    this.handle.close(noop);
    this.handle = this.newHandle();
    this.connect(next);
    return true;
  }

  private clearAttemptTimer(): void {
    if (this.attemptTimer === null) return;
    clearTimeout(this.attemptTimer);
    this.attemptTimer = null;
  }

  /** The handle's onread: the byte count (or error) is in streamBaseState, the bytes in readBuffer. */
  private readonly onRead = (): void => {
    const n = streamBaseState[kReadBytesOrError]!;
    if (n > 0) {
      // Returning anything would hand Node a new read buffer (a non-buffer aborts the process).
      this.events.onRead(this.readBuffer, n);
      return;
    }
    if (n === 0 || this.closing) return;
    if (n === UV_EOF) {
      this.events.onEnd();
      this.destroy();
    } else {
      this.destroy(errnoError(n, 'read'));
    }
  };

  /** @internal A queued write completed. */
  writeDone(status: number): void {
    this.libuvWrites--;
    if (this.closing) return;
    if (status < 0) return this.destroy(errnoError(status, 'write'));
    this.drainIfDone();
  }

  private drainIfDone(): void {
    if (this.wantDrain && this.libuvWrites === 0 && this.heldCount === 0 && this.connected && !this.closing) {
      this.wantDrain = false;
      this.events.onDrain();
    }
  }
}

let spareRequest: WriteRequest | null = null;

/**
 * Held bytes from which write() asks the writer to wait. Holding lasts one loop iteration, in
 * which uWS hands over at most one read (up to 512 KiB) per client, so an upload is not paused
 * and resumed for every chunk; what the kernel does not take still makes write() say false.
 */
const HELD_LIMIT = 1024 * 1024;

/** Connected sockets holding writes, flushed once per event-loop iteration (check phase). */
let toFlush: TcpSocket[] = [];

function scheduleFlush(socket: TcpSocket): void {
  socket.markFlushing();
  toFlush.push(socket);
  if (toFlush.length === 1) setImmediate(flushAll);
}

function flushAll(): void {
  const batch = toFlush;
  toFlush = [];
  let i = 0;
  try {
    for (; i < batch.length; i++) batch[i]!.flush();
  } finally {
    // An onDrain that threw: the sockets after it still hold writes, so they go to the next flush.
    for (i++; i < batch.length; i++) scheduleFlush(batch[i]!);
  }
}

/** writev()'s chunks for a mix of strings and buffers: each followed by its encoding. */
function writevChunks(data: readonly (string | Uint8Array)[]): unknown[] {
  const chunks = new Array<unknown>(2 * data.length);
  for (let i = 0; i < data.length; i++) {
    chunks[2 * i] = data[i];
    chunks[2 * i + 1] = typeof data[i] === 'string' ? 'latin1' : 'buffer';
  }
  return chunks;
}

function noop(): void {}

function afterWrite(this: WriteRequest, status: number): void {
  this.owner.writeDone(status);
}

function errnoError(code: number, syscall: string): NodeJS.ErrnoException {
  const name = getSystemErrorName(code);
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${name}`);
  err.code = name;
  err.errno = code;
  err.syscall = syscall;
  return err;
}
