/** Command-line flags of `bench/proxy.ts`, parsed and validated. */
import path from 'node:path';
import { parseArgs } from 'node:util';

export const ALL_TARGETS = ['direct', 'weighbridge', 'uws-floor', 'haproxy', 'nginx', 'http-proxy'] as const;
export type TargetName = (typeof ALL_TARGETS)[number];

export interface BenchOptions {
  /** Threads (or worker processes) given to every proxy under test. */
  threads: number;
  /** Open connections held by wrk. */
  connections: number;
  /** Recorded measurement length per target, whole seconds. */
  durationSec: number;
  /** Unrecorded warm-up length per target, whole seconds (0 = none). */
  warmupSec: number;
  /** wrk's own thread count. */
  wrkThreads: number;
  targets: TargetName[];
  rounds: number;
  /** `keepalive N` of the NGINX proxy's upstream block (idle connections cached per worker). */
  nginxKeepalive: number;
  /** Clients speak HTTPS to every proxy (TLS ended there); the backends stay plain HTTP. */
  tls: boolean;
  /** wrk POSTs a body of this many bytes instead of GETs; 0 = GET. */
  postBytes: number;
  outDir: string;
  keepTmp: boolean;
}

export const USAGE = `Usage: npm run bench:proxy -- [flags]
  --threads T         threads/workers for each proxy (default 1)
  --connections N     wrk connections (default 64)
  --duration D        measured seconds per target, e.g. 10 or 10s or 1m (default 10s)
  --warmup D          unrecorded warm-up per target (default 2s, 0 = none)
  --wrk-threads N     wrk threads (default 1)
  --targets a,b,...   subset of ${ALL_TARGETS.join(',')} (default all)
  --rounds N          repeat all targets N times interleaved, report the median (default 1)
  --nginx-keepalive N idle upstream connections the nginx proxy caches per worker (default 64)
  --tls               wrk speaks HTTPS to each proxy, which ends the TLS (a fresh self-signed
                      ECDSA P-256 certificate); results go to proxy-tls-*.json and .svg
  --post-bytes N      wrk POSTs an N-byte body instead of GETs (default 0: GET); results go to
                      proxy-post-*.json and .svg (uws-floor forwards no body: not run)
  --out DIR           results directory (default bench/results)
  --keep-tmp          keep the temp dir with configs and logs
  --help`;

/**
 * A bench script's flags, parsed by `parse` (node:util's parseArgs, with a `help` flag among its
 * options): `--help` prints `usage` and exits; a flag it does not know or a missing value prints
 * the error and the usage and exits with 2, instead of a stack trace or, with no flags, running
 * the bench anyway.
 */
export function withUsage<T extends { values: { help?: boolean | undefined } }>(usage: string, parse: () => T): T {
  let parsed: T;
  try {
    parsed = parse();
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed;
}

/** Parses "10", "10s", "2m" into whole seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+)(s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`${flag}: expected seconds like 10, 10s or 1m, got "${text}"`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

export function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive integer, got "${text}"`);
  return n;
}

function parseTargets(text: string): TargetName[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(ALL_TARGETS as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(`--targets: unknown ${unknown.join(',') || '(empty)'}; choose from ${ALL_TARGETS.join(',')}`);
  }
  // Keep the canonical order so tables and charts read the same from run to run.
  return ALL_TARGETS.filter((t) => names.includes(t));
}

/** Returns the options, or null when --help was asked for. */
export function parseBenchArgs(argv: string[], defaultOutDir: string): BenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      threads: { type: 'string', default: '1' },
      connections: { type: 'string', default: '64' },
      duration: { type: 'string', default: '10s' },
      warmup: { type: 'string', default: '2s' },
      'wrk-threads': { type: 'string', default: '1' },
      targets: { type: 'string', default: ALL_TARGETS.join(',') },
      rounds: { type: 'string', default: '1' },
      'nginx-keepalive': { type: 'string', default: '64' },
      out: { type: 'string' },
      'keep-tmp': { type: 'boolean', default: false },
      tls: { type: 'boolean', default: false },
      'post-bytes': { type: 'string', default: '0' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return null;
  const opts: BenchOptions = {
    threads: positiveInt(values.threads, '--threads'),
    connections: positiveInt(values.connections, '--connections'),
    durationSec: parseDuration(values.duration, '--duration'),
    warmupSec: values.warmup.trim() === '0' ? 0 : parseDuration(values.warmup, '--warmup'),
    wrkThreads: positiveInt(values['wrk-threads'], '--wrk-threads'),
    targets: parseTargets(values.targets),
    rounds: positiveInt(values.rounds, '--rounds'),
    nginxKeepalive: positiveInt(values['nginx-keepalive'], '--nginx-keepalive'),
    outDir: values.out ? path.resolve(values.out) : defaultOutDir,
    keepTmp: values['keep-tmp'],
    tls: values.tls,
    postBytes: values['post-bytes'].trim() === '0' ? 0 : positiveInt(values['post-bytes'], '--post-bytes'),
  };
  if (opts.durationSec < 1) throw new Error('--duration must be at least 1s');
  if (opts.connections < opts.wrkThreads) {
    throw new Error('--connections must be >= --wrk-threads (wrk gives each thread at least one connection)');
  }
  return opts;
}
