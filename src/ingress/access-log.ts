import { closeSync, openSync } from 'node:fs';
import sonicBoom, { type SonicBoom as SonicBoomStream } from 'sonic-boom';
import { ConfigError } from '../errors.js';

// The package is CommonJS with module.exports = the class; its typings declare an ES default
// export instead, which TypeScript's nodenext resolution reads as the module object.
const SonicBoom = sonicBoom as unknown as typeof SonicBoomStream;

/** How a logged request ended. */
export type AccessOutcome = 'ok' | 'worker-failed' | 'client-ended' | 'rejected';

/** One line of the access log, one JSON object per request or WebSocket. */
export interface AccessRecord {
  /** When it ended (ISO 8601, UTC). */
  time: string;
  client: string;
  method: string;
  /** Path and query as the client sent them. */
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
}

/** Buffered in memory at most; beyond it (a stalled disk) lines are dropped, not the process. */
const MAX_BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * An ingress thread's writer of the access log. Every thread appends whole lines to the same
 * file (O_APPEND, so lines do not interleave); sonic-boom buffers them off the request path and
 * writes asynchronously, at the latest a second after a request ended.
 */
export class AccessLog {
  private readonly out: SonicBoomStream;
  private failing = false;
  private dropped = 0;

  constructor(
    readonly path: string,
    private readonly log: (line: string) => void,
  ) {
    this.out = new SonicBoom({ dest: path, append: true, minLength: 8 * 1024, maxLength: MAX_BUFFER_BYTES, periodicFlush: 1000, sync: false });
    this.out.on('error', (err: Error) => {
      if (!this.failing) this.log(`access log ${path}: ${err.message}; lines are dropped until it can be written again`);
      this.failing = true;
    });
    this.out.on('drop', () => this.dropped++);
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
    const line: AccessRecord = { time: new Date().toISOString(), ...record, durationMs: Math.round(record.durationMs * 1000) / 1000 };
    this.out.write(`${JSON.stringify(line)}\n`);
  }

  /** After the file was moved away (log rotation): write to a new file at the same path. */
  reopen(): void {
    this.out.reopen();
    this.failing = false;
  }

  /** Lines lost to a full buffer since the thread started. */
  get droppedLines(): number {
    return this.dropped;
  }

  /** Writes out what is buffered, before the thread exits. */
  close(): void {
    try {
      this.out.flushSync();
    } catch {
      // Nothing more can be done for those lines; the thread is ending.
    }
    this.out.destroy();
  }
}
