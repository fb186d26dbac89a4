/** Running wrk and parsing its `--latency` report. */
import fs from 'node:fs';
import { startProcess, stopProcess } from './procs.js';

export interface WrkParams {
  bin: string;
  url: string;
  threads: number;
  connections: number;
  durationSec: number;
  /** A wrk Lua script (-s), e.g. for a POST body. */
  script?: string;
}

export interface WrkResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors by kind, as wrk reports them. */
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** wrk's "Non-2xx or 3xx responses" (it counts status >= 400). */
  badStatus: number;
  /** All of the above errors added up. */
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "812.00us" / "1.23ms" / "2.01s" → milliseconds. */
export function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`cannot read wrk time "${text}"`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

function num(re: RegExp, text: string): number | null {
  const m = re.exec(text);
  return m ? Number(m[1]) : null;
}

/** Parses wrk's text report; throws if the essential lines are missing. */
export function parseWrk(text: string): WrkResult {
  const rps = num(/^Requests\/sec:\s+([\d.]+)/m, text);
  const requests = num(/^\s*(\d+) requests in /m, text);
  const p50 = /^\s*50%\s+(\S+)/m.exec(text);
  const p99 = /^\s*99%\s+(\S+)/m.exec(text);
  if (rps === null || requests === null || !p50 || !p99) {
    throw new Error(`unexpected wrk output:\n${text.trim()}`);
  }
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = {
    connect: Number(sock?.[1] ?? 0),
    read: Number(sock?.[2] ?? 0),
    write: Number(sock?.[3] ?? 0),
    timeout: Number(sock?.[4] ?? 0),
  };
  const badStatus = num(/Non-2xx or 3xx responses:\s+(\d+)/, text) ?? 0;
  const errors = socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout + badStatus;
  return { requests, rps, p50Ms: toMs(p50[1]!), p99Ms: toMs(p99[1]!), socketErrors, badStatus, errors };
}

export function wrkArgs(p: WrkParams, withLatency: boolean): string[] {
  const args = ['-t', String(p.threads), '-c', String(p.connections), '-d', `${p.durationSec}s`];
  if (withLatency) args.push('--latency');
  if (p.script) args.push('-s', p.script);
  args.push(p.url);
  return args;
}

/**
 * Runs wrk to completion (as a tracked child, so it dies with the benchmark) and
 * returns its report; fails on a non-zero exit or a hang.
 */
export async function runWrk(p: WrkParams, logFile: string, withLatency = true): Promise<string> {
  fs.rmSync(logFile, { force: true });
  const proc = startProcess('wrk', p.bin, wrkArgs(p, withLatency), logFile);
  const timer = setTimeout(() => void stopProcess(proc, 1000), (p.durationSec + 30) * 1000);
  const info = await proc.exited;
  clearTimeout(timer);
  const out = fs.readFileSync(logFile, 'utf8');
  if (info !== 'exit code 0') throw new Error(`wrk failed (${info}): ${out.trim()}`);
  return out;
}
