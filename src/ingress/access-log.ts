import { closeSync, openSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { bytesAsText, isAscii } from '../http/byte-strings.js';
import { Outcome, type OutcomeValue } from '../shared/stats-table.js';
import { LineAppender } from '../util/line-appender.js';
import type { Scheme } from './request-head.js';

/** How a logged request ended. */
export type AccessOutcome = 'ok' | 'worker-failed' | 'client-ended' | 'rejected' | 'redirected';

/** The access log's name for how a request or WebSocket that reached a worker ended. */
export const ACCESS_OUTCOME: Record<OutcomeValue, AccessOutcome> = { [Outcome.ok]: 'ok', [Outcome.workerFailed]: 'worker-failed', [Outcome.clientEnded]: 'client-ended' };

/** One line of the access log, one JSON object per request or WebSocket. */
export interface AccessRecord {
  /** When it ended (ISO 8601, UTC). */
  time: string;
  client: string;
  method: string;
  /** The listener the request came in on. */
  scheme: Scheme;
  /** Path and query as the client sent them: a byte string (see raw-head.ts) to write(), text in the line. */
  target: string;
  /** What the client got; 0 when it got nothing (it left first, or the response was cut). */
  status: number;
  /** The worker's id; null when none was picked (the ingress answered by itself). */
  worker: string | null;
  durationMs: number;
  /** Body (or WebSocket message) bytes from the client, and to it. */
  bytesIn: number;
  bytesOut: number;
  outcome: AccessOutcome;
  /** With request ids on, the request's ('' otherwise, and the key is left out). */
  requestId: string;
}

/**
 * The record as one JSON line, keys in AccessRecord's order, durationMs to the microsecond, an
 * empty requestId left out: what JSON.stringify would write, plus a newline. Written out by hand because the generic walk, and
 * the object spread to add the time, cost about 3 us per request (test/ingress/access-log.test.ts
 * compares the two on random records).
 */
export function formatAccessLine(time: string, r: Omit<AccessRecord, 'time'>): string {
  const worker = r.worker === null ? 'null' : JSON.stringify(r.worker);
  const durationMs = Math.round(r.durationMs * 1000) / 1000;
  return `{"time":"${time}","client":${JSON.stringify(r.client)},"method":${JSON.stringify(r.method)},"scheme":"${r.scheme}","target":${JSON.stringify(r.target)},"status":${r.status},"worker":${worker},"durationMs":${durationMs},"bytesIn":${r.bytesIn},"bytesOut":${r.bytesOut},"outcome":"${r.outcome}"${r.requestId === '' ? '' : `,"requestId":${JSON.stringify(r.requestId)}`}}\n`;
}

/**
 * An ingress thread's writer of the access log. Every thread appends whole lines to the same
 * file (see LineAppender), off the request path, at the latest a second after a request ended.
 */
export class AccessLog {
  private readonly out: LineAppender;
  /** The time of the last line, formatted once per millisecond. */
  private isoAt = 0;
  private iso = '';

  constructor(path: string, log: (line: string) => void) {
    this.out = new LineAppender(path, log);
  }

  /** Whether the file can be opened for appending: a wrong path is a start-up error. */
  static check(path: string): void {
    try {
      closeSync(openSync(path, 'a'));
    } catch (err) {
      throw new ConfigError(`accessLog: cannot append to ${path}: ${(err as Error).message}`);
    }
  }

  /** Logs a request that ends now. */
  write(record: Omit<AccessRecord, 'time'>): void {
    const now = Date.now();
    if (now !== this.isoAt) {
      this.iso = new Date(now).toISOString();
      this.isoAt = now;
    }
    // Bytes above 0x7f in a target (rare: clients percent-encode) are read as the UTF-8 they
    // mostly are, so that the line is readable text; others become U+FFFD.
    this.out.append(formatAccessLine(this.iso, isAscii(record.target) ? record : { ...record, target: bytesAsText(record.target) }));
  }

  /** After the file was moved away (log rotation): write to a new file at the same path. */
  reopen(): void {
    this.out.reopen();
  }

  /** Lines lost to a full buffer or a failed write since the thread started. */
  get droppedLines(): number {
    return this.out.dropped;
  }

  /** Writes out what is buffered, before the thread exits. */
  close(): void {
    this.out.close();
  }
}
