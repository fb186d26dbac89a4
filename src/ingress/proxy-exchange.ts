import type { HttpResponse } from 'uWebSockets.js';
import type { Policy } from '../balancing/policies/index.js';
import type { RandomSource } from '../balancing/random.js';
import { connectionTokens, isHopByHop, isIdempotent } from '../http/hop-by-hop.js';
import type { RouteTableReader } from '../shared/route-table.js';
import type { StatsTable } from '../shared/stats-table.js';
import type { UpstreamConnection, UpstreamExchange } from '../upstream/connection.js';
import type { BodyKind } from '../upstream/response-parser.js';
import type { UpstreamFailure } from '../upstream/upstream-failure.js';
import type { ClientRequestHead } from './request-head.js';
import { sendError } from './responses.js';
import type { UpstreamPools } from './upstream-pools.js';

/** Everything an ingress thread's exchanges share. */
export interface ExchangeContext {
  readonly routes: RouteTableReader;
  readonly policy: Policy;
  readonly random: RandomSource;
  readonly stats: StatsTable;
  readonly pools: UpstreamPools;
  readonly maxBodyBytes: number;
}

const NON_ASCII = /[^\x00-\x7f]/;
const CHUNK_END = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

/**
 * One client request proxied to one worker (or two, after a retry): streams the request body up
 * and the response down with backpressure both ways, and ends exactly once, which is when the
 * admission slot and the worker's in-flight count are released.
 */
export class ProxyExchange implements UpstreamExchange {
  private connection: UpstreamConnection | null = null;
  private slot = -1;
  private attempts = 0;
  private aborted = false;
  private finished = false;
  private responding = false;
  private bodyKind: BodyKind = 'none';
  private contentLength = -1;
  private status = 0;
  private readonly startedAt = performance.now();
  private bytesIn = 0;
  private bytesOut = 0;
  /** The part of a sized response chunk uWS could not take yet (tryEnd backpressure). */
  private pending: Buffer | null = null;
  private pendingOffset = 0;
  private requestBodyDone: boolean;
  private clientPaused = false;

  constructor(
    private readonly ctx: ExchangeContext,
    private readonly res: HttpResponse,
    private readonly request: ClientRequestHead,
  ) {
    this.requestBodyDone = !(request.chunked || request.contentLength > 0);
  }

  /** Picks a worker and sends the request head; false if no worker could be picked (answered 503). */
  dispatch(avoidSlot = -1): boolean {
    const { routes, policy, random, pools, stats } = this.ctx;
    for (let tries = 0; tries < 3; tries++) {
      if (!routes.pick(policy, random, avoidSlot)) break;
      const pool = pools.get(routes.slot, routes.incarnation);
      if (pool === undefined) continue; // the slot was reassigned after the pick: draw again
      this.slot = routes.slot;
      this.attempts++;
      stats.begin(this.slot);
      this.connection = pool.acquire();
      this.connection.start(this, this.request.upstreamHead, this.request.method === 'HEAD', this.requestBodyDone);
      return true;
    }
    this.fail(503, 'no worker is available', false);
    return false;
  }

  /** Request body from uWS; the ArrayBuffer is neutered after the call, so it is copied. */
  onClientData(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.finished) return;
    const size = chunk.byteLength;
    this.bytesIn += size;
    const limit = this.ctx.maxBodyBytes;
    if (limit > 0 && this.bytesIn > limit) {
      this.connection?.abort();
      this.connection = null;
      this.fail(413, `request body exceeds ${limit} bytes`, true);
      return;
    }
    const connection = this.connection;
    if (connection === null) return;
    let writable = true;
    if (size > 0) {
      const copy = Buffer.from(new Uint8Array(chunk));
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
    } else if (!writable && !this.clientPaused) {
      this.clientPaused = true;
      this.res.pause();
    }
  }

  onClientAborted(): void {
    this.aborted = true;
    this.connection?.abort();
    this.connection = null;
    this.finish(false);
  }

  cork(fn: () => void): void {
    if (this.aborted) fn();
    else this.res.cork(fn);
  }

  onUpstreamDrain(): void {
    if (this.clientPaused && !this.finished) {
      this.clientPaused = false;
      this.res.resume();
    }
  }

  // onUpstreamHead, onUpstreamBody and onUpstreamComplete run inside cork(), called by the
  // connection around each parse, so they write to res without corking again.

  onUpstreamHead(status: number, reason: string, headers: string[], bodyKind: BodyKind, contentLength: number): void {
    if (this.aborted) return;
    this.responding = true;
    this.status = status;
    this.bodyKind = bodyKind;
    this.contentLength = contentLength;
    const res = this.res;
    res.writeStatus(reason ? `${status} ${reason}` : `${status}`);
    const isHead = this.request.method === 'HEAD';
    let named: Set<string> | undefined;
    for (let i = 0; i < headers.length; i += 2) {
      const lower = headers[i]!.toLowerCase();
      if (lower === 'connection') named = connectionTokens(headers[i + 1]!);
    }
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const lower = name.toLowerCase();
      // uWS writes its own Date and Content-Length (framing is re-done hop by hop), except for
      // HEAD, whose Content-Length describes the GET body and is passed on as it is.
      if ((lower === 'content-length' && !isHead) || lower === 'date' || isHopByHop(lower) || named?.has(lower)) continue;
      const value = headers[i + 1]!;
      // Values arrive as latin1; uWS would re-encode a non-ASCII string as UTF-8.
      res.writeHeader(name, NON_ASCII.test(value) ? Buffer.from(value, 'latin1') : value);
    }
  }

  onUpstreamBody(chunk: Buffer): void {
    if (this.aborted) return;
    this.bytesOut += chunk.length;
    if (this.pending !== null) {
      // Still waiting for the client: queue behind what uWS has not taken yet.
      this.pending = Buffer.concat([this.pending, chunk]);
      return;
    }
    const res = this.res;
    if (this.bodyKind === 'length') {
      const offset = res.getWriteOffset();
      if (!res.tryEnd(chunk, this.contentLength)[0]) {
        // Keep what uWS did not take; the chunk is a view of a reused read buffer.
        this.pending = Buffer.from(chunk.subarray(res.getWriteOffset() - offset));
        this.pendingOffset = res.getWriteOffset();
        this.waitForClient();
      }
    } else if (!res.write(chunk)) {
      this.waitForClient();
    }
  }

  onUpstreamComplete(): void {
    this.connection = null;
    if (this.aborted) return;
    const res = this.res;
    if (this.bodyKind === 'none') {
      // endWithoutBody(length) would leave uWS 20.30 waiting for a body; a HEAD response's
      // length header was written with the head instead.
      if (this.request.method === 'HEAD' || this.status === 204 || this.status === 304) res.endWithoutBody();
      else res.end();
      this.finish(this.status < 500);
    } else if (this.bodyKind === 'length') {
      // tryEnd ended the response when the last byte went out (or will, from onWritable).
      if (this.contentLength === 0) res.end();
      if (this.pending === null) this.finish(this.status < 500);
    } else {
      res.end();
      this.finish(this.status < 500);
    }
  }

  onUpstreamError(failure: UpstreamFailure): void {
    this.connection = null;
    if (this.aborted || this.finished) return;
    const retry =
      failure.safeToRetry && this.attempts < 2 && !this.responding && this.bytesIn === 0 && this.request.contentLength <= 0 && !this.request.chunked && isIdempotent(this.request.method);
    this.ctx.stats.end(this.slot, this.elapsedUs(), false, 0, 0);
    if (retry) {
      const failed = this.slot;
      this.slot = -1;
      this.dispatch(failed);
      return;
    }
    if (this.responding) {
      // Headers are out: the only honest signal left is to cut the connection.
      this.res.close();
      this.slot = -1;
      this.finish(false);
      return;
    }
    this.slot = -1;
    this.fail(failure.status, failure.message, !this.requestBodyDone);
  }

  private waitForClient(): void {
    const connection = this.connection;
    if (connection === null) return;
    connection.pauseReading();
    this.res.onWritable((offset) => {
      if (this.aborted) return true;
      const pending = this.pending;
      if (pending !== null) {
        const [ok, done] = this.res.tryEnd(pending.subarray(offset - this.pendingOffset), this.contentLength);
        if (!ok && !done) return false;
        this.pending = null;
        if (done && this.connection === null) {
          this.finish(this.status < 500);
          return true;
        }
      }
      this.connection?.resumeReading();
      return true;
    });
  }

  private fail(status: number, message: string, closeClient: boolean): void {
    if (!this.aborted && !this.responding) sendError(this.res, status, message, closeClient, status === 503 ? { 'retry-after': '1' } : undefined);
    this.finish(false);
  }

  private finish(ok: boolean): void {
    if (this.finished) return;
    this.finished = true;
    if (this.slot >= 0) this.ctx.stats.end(this.slot, this.elapsedUs(), ok, this.bytesIn, this.bytesOut);
    this.ctx.stats.release();
  }

  private elapsedUs(): number {
    return (performance.now() - this.startedAt) * 1000;
  }
}
