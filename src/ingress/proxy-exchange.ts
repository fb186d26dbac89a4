import type { HttpResponse } from 'uWebSockets.js';
import type { Policy } from '../balancing/policies/index.js';
import type { RandomSource } from '../balancing/random.js';
import { isIdempotent } from '../http/hop-by-hop.js';
import type { RouteTableReader } from '../shared/route-table.js';
import { Outcome, type OutcomeValue, type StatsTable } from '../shared/stats-table.js';
import type { UpstreamConnection, UpstreamExchange } from '../upstream/connection.js';
import type { UpstreamPool } from '../upstream/pool.js';
import type { BodyKind, FieldLines } from '../upstream/response-parser.js';
import { FailureKind, type UpstreamFailure } from '../upstream/upstream-failure.js';
import { ACCESS_OUTCOME, type AccessLog } from './access-log.js';
import type { ClientAccess } from './client-access.js';
import type { ClientRateLimiter } from './rate-limiter.js';
import type { ClientRequestHead, HeadOptions } from './request-head.js';
import type { ResponseFields } from './response-fields.js';
import { forwardedHead } from './response-head.js';
import { sendError } from './responses.js';
import type { StickySessions } from './sticky.js';
import type { UpstreamPools } from './upstream-pools.js';
import type { QueuedRequest, WorkerQueue } from './worker-queue.js';

/** Everything an ingress thread's exchanges share. */
export interface ExchangeContext {
  readonly routes: RouteTableReader;
  readonly policy: Policy;
  readonly random: RandomSource;
  readonly stats: StatsTable;
  readonly pools: UpstreamPools;
  /** Read per request, so a reload applies to the next one. */
  readonly limits: {
    readonly maxBodyBytes: number;
    readonly maxConcurrentRequests: number;
    readonly maxRequestsPerWorker: number;
    readonly clientRequestsPerSecond: number;
    readonly clientBurst: number;
  };
  readonly rates: ClientRateLimiter;
  /** Who may use the ingress; null when everyone may. */
  readonly access: ClientAccess | null;
  /** Read when used, likewise; idleMs also bounds how long a client may take nothing. */
  readonly timeouts: { readonly idleMs: number; readonly queueMs: number };
  /** Requests waiting for a worker with room under limits.maxRequestsPerWorker. */
  readonly queue: WorkerQueue;
  readonly accessLog: AccessLog | null;
  /** The fields the ingress adds to responses. */
  readonly responseFields: ResponseFields;
  /** Sticky sessions by cookie; null when off. */
  readonly sticky: StickySessions | null;
  /** What request heads are read for (the sticky cookie, the request id). */
  readonly head: HeadOptions;
  /**
   * The host is shutting down: responses tell the client to close the connection, so a
   * keep-alive client does not send its next request into the listener's closing (as HAProxy's
   * soft stop does).
   */
  draining: boolean;
}

/** pickWorker()'s result, one per thread: the request path allocates nothing for it. */
const picked: { pool: UpstreamPool; slot: number } = { pool: undefined as unknown as UpstreamPool, slot: -1 };

/** pickWorker()'s answer when workers were found but every one is at limits.maxRequestsPerWorker. */
export const ALL_FULL = 'all-full';

/**
 * The worker for a request, with the request begun on it (its in-flight count taken): the one a
 * sticky-session token names, if it is in the route table and has room, else the policy's draw
 * (a different worker than `avoidSlot` when the table has one). A slot reassigned since the table
 * named it is drawn for again. Undefined when no worker can be had; ALL_FULL when every worker
 * is at limits.maxRequestsPerWorker. The result is overwritten by the next call.
 */
export function pickWorker(ctx: ExchangeContext, stickyToken: string, avoidSlot = -1): Readonly<typeof picked> | undefined | typeof ALL_FULL {
  const { routes, policy, random, pools, sticky, stats } = ctx;
  const limit = ctx.limits.maxRequestsPerWorker;
  let full = false;
  if (stickyToken !== '' && sticky !== null && sticky.find(stickyToken)) {
    const pool = pools.get(sticky.slot, sticky.incarnation);
    // A worker at its limit lets the cookie go, as the limit is there to protect the worker.
    if (pool !== undefined) {
      if (stats.tryBegin(sticky.slot, limit)) return pick(pool, sticky.slot);
      full = true;
    }
  }
  for (let tries = 0; tries < 3; tries++) {
    if (!routes.pick(policy, random, avoidSlot)) return undefined;
    const pool = pools.get(routes.slot, routes.incarnation);
    if (pool === undefined) continue;
    if (stats.tryBegin(routes.slot, limit)) return pick(pool, routes.slot);
    full = true;
  }
  if (!full) return undefined;
  // Every draw was full: one pass over the table finds a worker with room however light its weight.
  if (routes.findRoom(Math.floor(random() * routes.capacity), limit, avoidSlot)) {
    const pool = pools.get(routes.slot, routes.incarnation);
    if (pool !== undefined && stats.tryBegin(routes.slot, limit)) return pick(pool, routes.slot);
  }
  return ALL_FULL;
}

function pick(pool: UpstreamPool, slot: number): Readonly<typeof picked> {
  picked.pool = pool;
  picked.slot = slot;
  return picked;
}

const PROBE_MAX_DELAY_MS = 1000;
/** A chunk-sized write plus its framing fits uWS's empty 16 KiB cork buffer. */
const CORK_PIECE_BYTES = 16 * 1024 - 64;
const CHUNK_END = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

/**
 * One client request proxied to one worker (or two, after a retry): streams the request body up
 * and the response down with backpressure both ways, and ends exactly once, which is when the
 * admission slot and the worker's in-flight count are released.
 */
export class ProxyExchange implements UpstreamExchange, QueuedRequest {
  private connection: UpstreamConnection | null = null;
  private slot = -1;
  private attempts = 0;
  private aborted = false;
  private finished = false;
  private responding = false;
  /**
   * The worker's head as written for the client, held until its body's first bytes or its end
   * (before either the client could not read it anyway: uWS ends a head with its framing field at
   * the first write), so that a response found bad before then (a broken first chunk, a reset, an
   * idle worker) still gets a 502 or 504 instead of a cut connection.
   */
  private heldHead: Buffer | null = null;
  /**
   * The connection is to end after this response (the ingress drains, or the client's Connection
   * field holds close among other options), and uWS will not close it by itself (see
   * ClientRequestHead.uwsCloses): the response says close, and where it ends before any of its
   * body went out, end(..., true) has uWS write the field and close after it, as RFC 9112 section
   * 9.6 asks. A streamed body's first write ends the head, and uWS.js 20.30 has no way to close
   * after a response once that is out, nor to end a 204, 304 or HEAD response with a close: those
   * only say it, and the connection closes when the client closes it (as one that asked to close
   * does) or the drain ends.
   */
  private closeAfter = false;
  private bodyKind: BodyKind = 'none';
  private contentLength = -1;
  private status = 0;
  /** On the stats table's clock: when the client's request came, and when it went to its worker. */
  private readonly startedAt: number;
  private sentAt: number;
  private bytesIn = 0;
  /** For the access log: the status the client was sent (0: none), body bytes sent, the worker. */
  private sentStatus = 0;
  private bytesOut = 0;
  private workerId: string | null = null;
  /** The sticky-session token of the worker the request went to ('' with sticky sessions off). */
  private workerToken = '';
  /**
   * Body bytes uWS has not been given yet: the part of a sized response chunk it could not take
   * (tryEnd backpressure), or, for chunked responses, what came while its buffer had not drained.
   */
  private pending: Buffer | null = null;
  private pendingOffset = 0;
  /** A chunked (or close-delimited) response's body from the current upstream read; see cork(). */
  private chunks: Buffer[] = [];
  private endAfterChunks = false;
  private requestBodyDone: boolean;
  private clientPaused = false;
  /** Upstream reads are paused until the client takes what uWS holds for it. */
  private awaitingWritable = false;
  private probeTimer: NodeJS.Timeout | null = null;
  private fruitlessProbes = 0;
  /** When the client last took what waited for it, while probes run (0: not stalled). */
  private stalledSince = 0;
  /** In the thread's queue, waiting for a worker with room; its queue timeout (Date.now() clock). */
  private queued = false;
  /** Went the queue's way, so a worker found later starts its clock then. */
  private waited = false;
  /** The worker the last look before queueing avoids (a retry's failed one), else -1. */
  private avoidSlot = -1;
  deadline = 0;
  ticket = 0;
  /** Request body that arrived while queued (null until some did), and whether its end did. */
  private early: Buffer[] | null = null;
  private earlyEnd = false;
  /** A retry's request body writes that never left for the failed worker, to send first. */
  private unsent: readonly (string | Uint8Array)[] | null = null;
  /** Request body bytes handed to the connection so far (counted on its worker's slot). */
  private forwardedBytes = 0;

  constructor(
    private readonly ctx: ExchangeContext,
    private readonly res: HttpResponse,
    private readonly request: ClientRequestHead,
  ) {
    this.requestBodyDone = !(request.chunked || request.contentLength > 0);
    this.startedAt = this.sentAt = ctx.stats.now();
  }

  /**
   * Picks a worker and sends the request head, or queues the request while every worker is at
   * limits.maxRequestsPerWorker (behind this thread's earlier ones); false if no worker could be
   * had (answered 503).
   */
  dispatch(avoidSlot = -1): boolean {
    const { queue, stats, limits } = this.ctx;
    // Behind requests waiting on any thread: first come, first served.
    const behind = limits.maxRequestsPerWorker > 0 && (queue.length > 0 || stats.queuedTotal > 0);
    const sent = behind ? ALL_FULL : this.send(avoidSlot);
    if (sent !== ALL_FULL) return sent;
    this.waited = true;
    // The last look before queueing still avoids a retry's failed worker, whose place that
    // failure just freed; a retry that waited takes any worker, as waiting for one other than
    // the failed one would hold up every request queued behind it.
    this.avoidSlot = avoidSlot;
    if (queue.add(this, Date.now() + this.ctx.timeouts.queueMs)) this.queued = true;
    this.avoidSlot = -1;
    // The failed worker's place, freed before this request was counted as waiting, woke nobody:
    // the queue looks again at once, now for any worker.
    if (this.queued && avoidSlot >= 0) queue.wake();
    return !this.finished;
  }

  /** A request body is declared and its end has not come: answering must close the connection. */
  private get bodyUnread(): boolean {
    return !this.requestBodyDone && !this.earlyEnd;
  }

  /** The queue's turn: false while every worker is still full. */
  retryDispatch(): boolean {
    const wasQueued = this.queued;
    // Not queued while it tries: a 503 from send() ends the exchange without touching the queue.
    this.queued = false;
    const sent = this.send(this.avoidSlot);
    if (sent === ALL_FULL) {
      this.queued = wasQueued;
      return false;
    }
    if (sent) this.sendEarlyBody();
    return true;
  }

  /** A queued request's time is up: 503, as HAProxy answers a queue timeout. */
  onDeadline(): void {
    if (!this.queued) return;
    this.queued = false;
    this.ctx.queue.remove(this);
    this.ctx.stats.countQueueTimeout();
    this.fail(503, `no worker had room within ${this.ctx.timeouts.queueMs} ms (limits.maxRequestsPerWorker)`, this.bodyUnread);
  }

  private send(avoidSlot: number): boolean | typeof ALL_FULL {
    // A retry goes by the policy: the cookie's worker is the one that just failed.
    const picked = pickWorker(this.ctx, this.attempts === 0 ? this.request.stickyToken : '', avoidSlot);
    if (picked === ALL_FULL) return ALL_FULL;
    if (picked === undefined) {
      this.fail(503, 'no worker is available', this.bodyUnread);
      return false;
    }
    const { pool, slot } = picked;
    this.slot = slot;
    this.workerId = pool.workerId;
    if (this.ctx.sticky !== null) this.workerToken = this.ctx.sticky.tokenOf(pool.workerId);
    // The worker's latency leaves out a wait in the queue and an earlier worker's attempt.
    if (this.waited || this.attempts > 0) this.sentAt = this.ctx.stats.now();
    this.attempts++;
    this.connection = pool.acquire();
    this.connection.start(this, this.request.upstreamHead, this.request.method === 'HEAD', this.requestBodyDone);
    if (this.unsent !== null) this.resend(this.connection);
    return true;
  }

  /** A retry's body so far, framed as it was; the client reads on once the writes are taken. */
  private resend(connection: UpstreamConnection): void {
    const writes = this.unsent!;
    this.unsent = null;
    this.ctx.stats.countBytesIn(this.slot, this.forwardedBytes);
    let writable = true;
    for (const data of writes) writable = connection.write(data);
    if (writable) this.onUpstreamDrain();
  }

  /** Forwards what the client sent while the request waited in the queue, and reads on. */
  private sendEarlyBody(): void {
    const chunks = this.early ?? [];
    this.early = null;
    const wasPaused = this.clientPaused;
    this.clientPaused = false;
    // The end went already if a retry replayed a body that had come whole while it first waited.
    const end = this.earlyEnd && !this.requestBodyDone;
    const last = chunks.length - 1;
    for (let i = 0; i <= last; i++) this.forwardBody(chunks[i]!, end && i === last);
    if (last < 0 && end) this.forwardBody(null, true);
    if (wasPaused && !this.clientPaused && !this.finished) this.res.resume();
  }

  /** Request body from uWS; the ArrayBuffer is neutered after the call, so it is copied. */
  onClientData(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.finished) return;
    const size = chunk.byteLength;
    this.bytesIn += size;
    const limit = this.ctx.limits.maxBodyBytes;
    if (limit > 0 && this.bytesIn > limit) {
      this.connection?.abort();
      this.connection = null;
      this.fail(413, `request body exceeds ${limit} bytes`, true, Outcome.clientEnded);
      return;
    }
    const copy = size > 0 ? Buffer.from(new Uint8Array(chunk)) : null;
    if (this.queued) {
      // Held until a worker has room; the client is paused, so at most its current read waits.
      if (copy !== null) (this.early ??= []).push(copy);
      if (isLast) this.earlyEnd = true;
      else if (!this.clientPaused) this.pauseClient();
      return;
    }
    this.forwardBody(copy, isLast);
  }

  private forwardBody(copy: Buffer | null, isLast: boolean): void {
    const connection = this.connection;
    if (connection === null) return;
    let writable = true;
    if (copy !== null) {
      const size = copy.length;
      this.ctx.stats.countBytesIn(this.slot, size);
      this.forwardedBytes += size;
      if (this.request.chunked) {
        connection.write(`${size.toString(16)}\r\n`);
        connection.write(copy);
        writable = connection.write(CHUNK_END);
      } else {
        writable = connection.write(copy);
      }
    }
    if (isLast) {
      this.requestBodyDone = true;
      if (this.request.chunked) writable = connection.write(LAST_CHUNK);
      connection.endRequest();
      // uWS may hand over the last of the body in the same read as a chunk that paused the
      // client. Left paused, the client socket is not polled for writability either, so an echo
      // whose worker waits for its response to be read before it reads the rest of the request
      // would move only at the probes' pace (and, chunked, be cut as stalled after idleMs). No
      // more body is coming, so there is nothing left to hold back.
      if (this.clientPaused) {
        this.clientPaused = false;
        this.res.resume();
      }
    } else if (!writable) {
      this.pauseClient();
    }
  }

  onClientAborted(): void {
    this.aborted = true;
    this.connection?.abort();
    this.connection = null;
    this.finish(Outcome.clientEnded);
  }

  /**
   * uWS 20.30 loses data when a res.write() in a cork does not fit the rest of its 16 KiB cork
   * buffer and flushing that buffer fails: the corked bytes (the chunk header among them) are
   * buffered, the new ones dropped, and the client's chunked framing breaks. tryEnd() is safe (it
   * reports what it did not take), so sized bodies are written in this cork; chunked bodies are
   * gathered and written after it in pieces that each fit an empty cork buffer (flushChunks).
   * Writing outside a cork is not an option either: uWS prints a warning for every such write.
   */
  cork(fn: () => void): void {
    if (this.aborted) return fn();
    this.res.cork(fn);
    // A head that came without body bytes waits past this read: a copy, as forwardedHead's result
    // is a view of a buffer the next head reuses.
    if (this.heldHead !== null) this.heldHead = Buffer.from(this.heldHead);
    if (this.chunks.length > 0 || this.endAfterChunks) this.flushChunks();
  }

  onUpstreamDrain(): void {
    if (this.clientPaused && !this.finished) {
      this.clientPaused = false;
      this.res.resume();
    }
  }

  // onUpstreamHead, onUpstreamBody and onUpstreamComplete run inside cork(), called by the
  // connection around each parse, so they write to res without corking again.

  onUpstreamHead(status: number, fields: FieldLines, bodyKind: BodyKind, contentLength: number): void {
    if (this.aborted) return;
    this.responding = true;
    this.status = status;
    this.sentStatus = status;
    this.bodyKind = bodyKind;
    this.contentLength = contentLength;
    const own = this.ctx.responseFields;
    const lines = own.proxied(this.request, this.workerToken);
    this.closeAfter = (this.ctx.draining || this.request.closes) && !this.request.uwsCloses;
    this.heldHead = forwardedHead(fields, this.request.method === 'HEAD', own.replaced(this.request.scheme), lines);
  }

  /**
   * The held head goes to uWS with the body's first bytes or the response's end, saying close
   * when the connection ends after it. `endsNow`: the response is ended in the same call, by
   * end(..., closeAfter), which writes the field itself when closeAfter (uWS writes none where it
   * closes by itself).
   */
  private writeHead(endsNow: boolean): void {
    this.res.writeStatus(this.heldHead!);
    this.heldHead = null;
    if (this.request.uwsCloses || (this.closeAfter && !endsNow)) this.res.writeHeader('connection', 'close');
  }

  onUpstreamBody(chunk: Buffer): void {
    // An empty write would end a chunked response in uWS.
    if (this.aborted || chunk.length === 0) return;
    // Only the first chunk can be the whole body.
    if (this.heldHead !== null) this.writeHead(chunk.length === this.contentLength);
    this.ctx.stats.countBytesOut(this.slot, chunk.length);
    this.bytesOut += chunk.length;
    if (this.bodyKind !== 'length') {
      // A view of the read buffer, which is not reused before cork() returns. Gathered, not
      // joined to `pending` one by one: a read can hold thousands of tiny chunks.
      this.chunks.push(chunk);
      return;
    }
    if (this.pending !== null) {
      // Still waiting for the client: queue behind what uWS has not taken yet (one chunk per read).
      this.pending = Buffer.concat([this.pending, chunk]);
      return;
    }
    const res = this.res;
    if (this.bytesOut === this.contentLength) this.letClientGo();
    if (chunk.length === this.contentLength) {
      // The whole body in one read, the common case: end() takes it all (buffering what the
      // socket does not, at most one read) and skips tryEnd's result array and offset call.
      res.end(chunk, this.closeAfter);
      return;
    }
    const offset = res.getWriteOffset();
    if (!res.tryEnd(chunk, this.contentLength)[0]) {
      // Keep what uWS did not take; the chunk is a view of a reused read buffer.
      this.pending = Buffer.from(chunk.subarray(res.getWriteOffset() - offset));
      this.pendingOffset = res.getWriteOffset();
      this.waitForClient();
    } else if (this.awaitingWritable) {
      // A probe's read went out whole: the client is taking data again.
      this.clientWritable();
    }
  }

  private flushChunks(): void {
    const chunks = this.chunks;
    this.chunks = [];
    if (this.finished) return;
    if (chunks.length > 0) {
      if (this.awaitingWritable) {
        // uWS may still hold earlier bytes: new ones wait here (copied, as the chunks are views of
        // the read buffer) and go out as it takes them.
        this.pending = Buffer.concat(this.pending === null ? chunks : [this.pending, ...chunks]);
        return this.writePending(true);
      }
      // One write per piece of the read, not per chunk: every write in a cork of its own is a
      // send(), and a read can hold thousands of small chunks (a worker streaming events).
      const rest = this.writePieces(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      if (rest !== null) {
        // The rest waits here, copied: it may be a view of the read buffer.
        if (rest.length > 0) this.pending = Buffer.from(rest);
        this.waitForClient();
      }
    }
    this.endChunkedIfDone();
  }

  /**
   * Hands data to uWS in pieces that fit its empty cork buffer (see cork()) until a write fails;
   * returns what it did not hand over (uWS keeps the unsent part of the failed piece), or null
   * when every write went through.
   */
  private writePieces(data: Buffer): Buffer | null {
    const res = this.res;
    let ok = true;
    let offset = 0;
    while (ok && offset < data.length) {
      const piece = data.subarray(offset, offset + CORK_PIECE_BYTES);
      res.cork(() => (ok = res.write(piece)));
      offset += piece.length;
    }
    return ok ? null : data.subarray(offset);
  }

  /**
   * Chunked: gives uWS the held bytes in pieces until a write fails, and keeps the rest. uWS 20.30
   * counts no write offset for chunked bodies, so with `test` the first write is of one byte:
   * inside a cork it succeeds only if uWS's own buffer has drained, which is the one sign that the
   * client took what waited for it. Without the test, a probe would add a whole upstream read to
   * that buffer every time, every write would fail, and a client reading slowly but steadily
   * would be cut as stalled after idleMs.
   */
  private writePending(test: boolean): void {
    const res = this.res;
    let held = this.pending!;
    let ok = true;
    if (test) {
      const first = held.subarray(0, 1);
      res.cork(() => (ok = res.write(first)));
      held = held.subarray(1);
      if (ok) this.clientProgressed();
    }
    const rest = ok ? this.writePieces(held) : held;
    ok = rest === null;
    this.pending = rest !== null && rest.length > 0 ? rest : null;
    if (!ok) {
      // Again each time: a probe may have resumed upstream reads, and a failed write makes
      // uSockets poll a paused client for reading again.
      this.waitForClient();
    } else if (this.awaitingWritable) {
      this.clientWritable();
    }
    this.endChunkedIfDone();
  }

  private endChunkedIfDone(): void {
    if (!this.endAfterChunks || this.pending !== null) return;
    this.endAfterChunks = false;
    this.res.cork(() => this.res.end());
    this.finish(this.status < 500 ? Outcome.ok : Outcome.workerFailed);
  }

  onUpstreamComplete(): void {
    this.connection = null;
    if (this.aborted) return;
    this.letClientGo();
    const res = this.res;
    // endWithoutBody(length) would leave uWS 20.30 waiting for a body, and given no length it
    // writes a bogus one: so these end without closing (a HEAD response's length header was
    // written with the head instead).
    const bodiless = this.bodyKind === 'none' && (this.request.method === 'HEAD' || this.status === 204 || this.status === 304);
    if (this.heldHead !== null) this.writeHead(!bodiless && (this.bodyKind === 'none' || this.contentLength === 0));
    if (this.bodyKind === 'none') {
      if (bodiless) res.endWithoutBody();
      else res.end(undefined, this.closeAfter);
      this.finish(this.status < 500 ? Outcome.ok : Outcome.workerFailed);
    } else if (this.bodyKind === 'length') {
      // tryEnd ended the response when the last byte went out (or will, from onWritable).
      if (this.contentLength === 0) res.end(undefined, this.closeAfter);
      if (this.pending === null) this.finish(this.status < 500 ? Outcome.ok : Outcome.workerFailed);
    } else {
      this.endAfterChunks = true;
    }
  }

  /**
   * The worker answered in full before the request body's end, which it will not read now: a
   * client paused for its backpressure is read again, the rest of its body dropped (connection is
   * null), as NGINX discards it. Left paused, it would hang until uWS's idle timeout. Before the
   * response's last write, as res may not be touched after it.
   */
  private letClientGo(): void {
    if (!this.clientPaused || !this.bodyUnread) return;
    this.clientPaused = false;
    this.res.resume();
  }

  onUpstreamError(failure: UpstreamFailure): void {
    this.connection = null;
    if (this.aborted || this.finished) return;
    // A request that never reached its worker goes to another as it is, whatever its method (as
    // HAProxy retries connection failures); one that may have, only if sending it twice is safe.
    const unsent = failure.unsentBody;
    const retry =
      this.attempts < 2 &&
      !this.responding &&
      (unsent !== null || (failure.safeToRetry && this.request.contentLength <= 0 && !this.request.chunked && isIdempotent(this.request.method)));
    // An upstream idle while we held it back for a client that takes nothing is the client's doing.
    const outcome = this.awaitingWritable && failure.kind === FailureKind.idleTimeout ? Outcome.clientEnded : Outcome.workerFailed;
    this.endOnWorker(outcome);
    // The worker's part is counted; nothing below may end it again: res.close() runs onAborted,
    // and so finish(), at once.
    const failed = this.slot;
    this.slot = -1;
    if (retry) {
      // The body goes to the next worker instead: none of it reached this one.
      if (unsent !== null) this.ctx.stats.countBytesIn(failed, -this.forwardedBytes);
      this.unsent = unsent;
      this.dispatch(failed);
      return;
    }
    if (this.responding && this.heldHead === null) {
      // Headers are out: the only honest signal left is to cut the connection. Finished first:
      // close() runs onAborted at once, which would log a worker's failure as the client's.
      this.finish(outcome);
      this.res.close();
      return;
    }
    this.fail(failure.status, failure.message, !this.requestBodyDone);
  }

  /**
   * Request body backpressure. A failed write may make uWS poll the socket for reading again,
   * so every failed upstream write pauses the client, not only the first.
   */
  private pauseClient(): void {
    this.clientPaused = true;
    this.res.pause();
    if (this.awaitingWritable) this.scheduleProbe();
  }

  /** Response backpressure: upstream reads wait until the client takes what uWS holds. */
  private waitForClient(): void {
    // Also once the worker is done: the end of a chunked body may still wait in `pending`.
    this.connection?.pauseReading();
    this.awaitingWritable = true;
    this.res.onWritable((offset) => this.onClientWritable(offset));
    // A failed write makes uSockets poll the client socket for reading again, undoing pause():
    // without this, an upload whose echo backs up would be read as fast as the client sends and
    // buffered towards the worker without bound.
    if (this.clientPaused) this.res.pause();
    this.scheduleProbe();
  }

  /** Sends what waited for the client; false while it still does not fit. */
  private onClientWritable(offset: number): boolean {
    if (this.aborted) return true;
    const pending = this.pending;
    if (this.bodyKind !== 'length') {
      // A writable event: the client took something.
      this.clientProgressed();
      if (pending !== null) {
        this.writePending(false);
        return this.pending === null;
      }
      // While onWritable is registered, uWS leaves its own buffer to the handler's next write, and
      // nothing waits to go after it: an uncork drains it (an empty cork writes nothing else).
      // Without this, the last bytes a client fell behind on waited for the worker's next read:
      // in a stream of events, for the next event.
      this.res.cork(() => {});
      this.clientWritable();
      return true;
    }
    if (pending !== null) {
      const [ok, done] = this.res.tryEnd(pending.subarray(offset - this.pendingOffset), this.contentLength);
      if (!ok && !done) {
        // The socket took part of it: a slow client, not a stalled one.
        if (this.res.getWriteOffset() !== offset) this.clientProgressed();
        if (this.clientPaused) this.res.pause();
        return false;
      }
      this.pending = null;
      if (done && this.connection === null) {
        this.finish(this.status < 500 ? Outcome.ok : Outcome.workerFailed);
        return true;
      }
    }
    this.clientWritable();
    return true;
  }

  private clientWritable(): void {
    this.awaitingWritable = false;
    this.fruitlessProbes = 0;
    this.clientProgressed();
    this.connection?.resumeReading();
  }

  /** The client took some of what waited for it: the stall clock restarts. */
  private clientProgressed(): void {
    this.stalledSince = 0;
  }

  /**
   * While the response waits for the client, a timer retries the write, with a growing delay,
   * and measures the client's progress, for two reasons. uWS stops polling a paused socket for
   * writability too, so while the request waits for the worker and the response for the client,
   * onWritable would never come: an echo of a large upload would stall both ways. And the kernel
   * reports a socket writable only once a third of its send buffer (up to 4 MiB) is free, so a
   * slow reader may take data for longer than idleMs between two onWritable calls. Each retry
   * lets at most one more upstream read in (a chunked one waits in `pending` until uWS's buffer
   * has drained; see writePending). A paused socket is not polled for reading either, so a
   * client that left is not noticed: one that takes nothing for timeouts.idleMs is cut (see
   * probe()).
   */
  private scheduleProbe(): void {
    if (this.stalledSince === 0) this.stalledSince = Date.now();
    if (this.probeTimer !== null) return;
    const delay = Math.min(PROBE_MAX_DELAY_MS, 2 ** this.fruitlessProbes);
    this.fruitlessProbes++;
    this.probeTimer = setTimeout(() => this.probe(), delay);
  }

  private probe(): void {
    this.probeTimer = null;
    if (this.finished || !this.awaitingWritable) return;
    if (this.stalledSince !== 0 && Date.now() - this.stalledSince >= this.ctx.timeouts.idleMs) {
      // Gone or stuck: either way the client's doing. close() runs onAborted, which ends the
      // exchange as clientEnded and the upstream connection with it. (From a timer, never from
      // inside a uWS callback that goes on using res.)
      this.res.close();
      return;
    }
    if (this.pending !== null && this.bodyKind !== 'length') {
      // Not in a cork: writePending corks each piece (see cork()).
      this.writePending(true);
    } else if (this.pending !== null) {
      let sent = false;
      this.res.cork(() => (sent = this.onClientWritable(this.res.getWriteOffset())));
      if (!sent) this.scheduleProbe();
    } else {
      // The next upstream read is written as a probe's would be (flushChunks).
      this.connection?.resumeReading();
    }
  }

  /** Answers the client with an error of the ingress's own; the worker's part, if any, ends as `outcome`. */
  private fail(status: number, message: string, closeClient: boolean, outcome: OutcomeValue = Outcome.workerFailed): void {
    // Nothing of the worker's response has left while its head is held: the client can still
    // have an answer of the ingress's own (a 502, or a 413 for an upload gone over the limit).
    if (this.heldHead !== null) {
      this.heldHead = null;
      this.responding = false;
    }
    if (!this.aborted && !this.responding) {
      const { scheme, requestId } = this.request;
      // A client paused for backpressure would never be read again on this connection.
      sendError(this.res, status, message, closeClient || this.clientPaused || this.ctx.draining || this.request.closes, this.ctx.responseFields.own(scheme, requestId, status === 503 ? { 'retry-after': '1' } : undefined), this.request.uwsCloses);
      this.sentStatus = status;
    }
    this.finish(outcome);
  }

  private finish(outcome: OutcomeValue): void {
    if (this.finished) return;
    this.finished = true;
    if (this.queued) {
      this.queued = false;
      this.ctx.queue.remove(this);
    }
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    if (this.slot >= 0) this.endOnWorker(outcome);
    this.ctx.stats.release();
    const log = this.ctx.accessLog;
    if (log !== null) {
      const { client, method, scheme, target, requestId } = this.request;
      const durationMs = this.ctx.stats.now() - this.startedAt;
      // One no worker was picked for was refused by the ingress, unless its client left first.
      log.write({ client, method, scheme, target, status: this.sentStatus, worker: this.workerId, durationMs, bytesIn: this.bytesIn, bytesOut: this.bytesOut, outcome: this.workerId !== null || this.aborted ? ACCESS_OUTCOME[outcome] : 'rejected', requestId });
    }
  }

  /** Ends the request on its worker's stats, with one read of the clock. */
  private endOnWorker(outcome: OutcomeValue): void {
    const stats = this.ctx.stats;
    const now = stats.now();
    stats.end(this.slot, (now - this.sentAt) * 1000, outcome, now);
  }
}
