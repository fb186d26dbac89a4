/** The printed table and the JSON results file. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchOptions } from './args.js';
import { ERROR_FLAG_RATE, type Row } from './results.js';

export interface Machine {
  cores: number;
  cpuModel: string;
  platform: string;
  node: string;
  loadAvg: number[];
}

export interface Report {
  timestamp: string;
  machine: Machine;
  params: {
    threads: number;
    connections: number;
    durationSec: number;
    warmupSec: number;
    wrkThreads: number;
    rounds: number;
    nginxKeepalive: number;
    targets: string[];
    wrkCommand: string;
    backends: string[];
    /** Clients spoke HTTPS to the proxies. */
    tls: boolean;
    /** wrk POSTed a body of this many bytes; 0: GETs. */
    postBytes: number;
  };
  /** --tls: the protocol and cipher each target negotiated with an OpenSSL client. */
  tlsSessions?: Record<string, string>;
  versions: Record<string, string>;
  rows: Row[];
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAvg: os.loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

export function wrkCommandLine(o: BenchOptions): string {
  return `wrk -t ${o.wrkThreads} -c ${o.connections} -d ${o.durationSec}s --latency${o.postBytes > 0 ? ` (POST, a ${o.postBytes}-byte body)` : ''}`;
}

export function headerLine(r: Report): string {
  const p = r.params;
  const m = r.machine;
  return [
    `machine: ${m.cores} cores (${m.cpuModel}), ${m.platform}, node ${m.node}`,
    `load: ${p.wrkCommand}${p.warmupSec > 0 ? ` (+${p.warmupSec}s unrecorded warm-up)` : ''}`,
    `proxy threads: ${p.threads}`,
    ...(p.tls ? [`HTTPS: wrk to each proxy, which ends the TLS (self-signed ECDSA P-256; negotiated: ${Object.entries(r.tlsSessions ?? {}).map(([t, s]) => `${t} ${s}`).join(', ')}); plain HTTP to the backends`] : []),
    `rounds: ${p.rounds}${p.rounds > 1 ? ' (interleaved, in a shuffled order each round; medians shown; a ratio to HAProxy is the median of the rounds\' ratios, each against HAProxy in the same round: for req/s with their range beside it, for p99 with a 95% confidence interval for that median in brackets (1.00 inside it: no difference this run can detect); "p99 <= HAProxy" counts the rounds in which the p99 was at or below HAProxy\'s; CPU vs HAProxy is a ratio of the medians)' : ''}`,
  ].join(' | ');
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const fmtRatio = (n: number | null): string => (n === null ? 'n/a' : `${n.toFixed(2)}x`);
const fmtUs = (n: number | null): string => (n === null ? 'n/a' : n.toFixed(1));

function fmtErrors(r: Row): string {
  if (r.errors === 0) return '0';
  const pct = `${(r.errorRate * 100).toFixed(r.errorRate < 0.001 ? 3 : 1)}%`;
  return `${fmtInt(r.errors)} (${pct})${r.flagged ? ' FLAGGED' : ''}`;
}

const COLUMNS = ['target', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'ratio to HAProxy', 'rounds', 'p99 vs HAProxy', 'p99 <= HAProxy', 'CPU us/req', 'CPU vs HAProxy', 'user us/req'];
const RIGHT_ALIGNED = new Set([1, 2, 3, 5, 6, 7, 8, 9, 10, 11]);
const fmtCount = (c: Row['p99AtOrBelowHaproxy']): string => (c === null ? '' : `${c.rounds} of ${c.of}`);
const fmtRange = (range: [number, number] | null): string => (range === null ? '' : `${range[0].toFixed(2)}-${range[1].toFixed(2)}x`);
const fmtWithInterval = (n: number | null, interval: [number, number] | null): string =>
  interval === null ? fmtRatio(n) : `${fmtRatio(n)} [${interval[0].toFixed(2)}-${interval[1].toFixed(2)}]`;

/** The results as a fixed-width text table, one line per target. */
export function formatTable(rows: Row[]): string {
  const cells = rows.map((r) =>
    r.rps === null
      ? null
      : [
          r.target, fmtInt(r.rps), fmtMs(r.p50Ms!), fmtMs(r.p99Ms!), fmtErrors(r), fmtRatio(r.ratioToHaproxy), fmtRange(r.ratioRange), fmtWithInterval(r.p99VsHaproxy, r.p99Interval), fmtCount(r.p99AtOrBelowHaproxy),
          fmtUs(r.cpuUsPerRequest), fmtRatio(r.cpuVsHaproxy), fmtUs(r.userUsPerRequest),
        ],
  );
  const widths = COLUMNS.map((c, i) =>
    Math.max(c.length, ...cells.map((row) => row?.[i]?.length ?? 0), ...(i === 0 ? rows.map((r) => r.target.length) : [])),
  );
  const line = (row: string[]): string =>
    row.map((c, i) => (RIGHT_ALIGNED.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ');
  const out = [line(COLUMNS), widths.map((w) => '-'.repeat(w)).join('-+-')];
  rows.forEach((r, i) => {
    const row = cells[i];
    // A target without numbers gets one line with its (first line of) error instead of cells.
    out.push(row ? line(row) : `${r.target.padEnd(widths[0]!)} | ${(r.error ?? 'no result').split('\n')[0]}`);
  });
  return out.join('\n');
}

/** Notes under the table: what each target is, failed rounds, flagged error rates. */
export function formatNotes(rows: Row[]): string {
  const notes = ['targets:', ...rows.map((r) => `  ${r.target.padEnd(12)} ${r.description}`)];
  for (const r of rows) {
    if (r.errors > 0) {
      const k = r.errorKinds;
      notes.push(`  errors: ${r.target}: ${k.badStatus} HTTP >= 400, socket errors: connect ${k.connect}, ` +
        `read ${k.read}, write ${k.write}, timeout ${k.timeout}`);
    }
    if (r.rps !== null && r.error) notes.push(`  note: ${r.target}: some rounds failed: ${r.error}`);
    if (r.flagged) {
      notes.push(`  WARNING: ${r.target}: ${fmtInt(r.errors)} errors in ${fmtInt(r.requests)} requests ` +
        `(> ${ERROR_FLAG_RATE * 100}%), its numbers are not comparable`);
    }
    if (r.rps === null && r.error && r.error.includes('\n')) notes.push(`  ${r.target} error detail:\n${indent(r.error, 4)}`);
  }
  return notes.join('\n');
}

const indent = (text: string, n: number): string => text.split('\n').map((l) => ' '.repeat(n) + l).join('\n');

/** proxy, plus -tls for an HTTPS run and -post for POSTs, so that no kind overwrites another's latest results. */
export function resultsPrefix(report: Report): string {
  return `proxy${report.params.tls ? '-tls' : ''}${report.params.postBytes > 0 ? '-post' : ''}`;
}

/** Writes <prefix>-<timestamp>.json and <prefix>-latest.json; returns their paths. */
export function writeJson(outDir: string, report: Report): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = report.timestamp.replace(/:/g, '-');
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const prefix = resultsPrefix(report);
  const files = [path.join(outDir, `${prefix}-${stamp}.json`), path.join(outDir, `${prefix}-latest.json`)];
  for (const f of files) fs.writeFileSync(f, text);
  return files;
}
