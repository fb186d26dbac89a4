/**
 * `npm run bench:proxy`: weighbridge against HAProxy, NGINX and npm http-proxy, beside a
 * no-proxy baseline and uws-floor (weighbridge's platform doing none of weighbridge's work), all
 * in front of the same two NGINX backends and driven by the same wrk.
 * Everything runs on 127.0.0.1 from a fresh temp dir; every child is killed on exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, USAGE, type BenchOptions, type TargetName } from './lib/args.js';
import { httpGet, tlsSession, urlFor } from './lib/net.js';
import {
  describeMachine, formatNotes, formatTable, headerLine, resultsPrefix, wrkCommandLine, writeJson, type Report,
} from './lib/report.js';
import { buildRows, type Measurement } from './lib/results.js';
import { cpuSeconds } from './lib/procs.js';
import { makeTempDir, roundOrder } from './lib/rounds.js';
import { describeTarget, makeBenchCert, NotAvailable, startBackends, startTarget, type BenchEnv, type Running } from './lib/servers.js';
import { renderSvg } from './lib/svg.js';
import { ensureTools, toolVersion } from './lib/tools.js';
import { parseWrk, runWrk, type WrkParams, type WrkResult } from './lib/wrk.js';

// dist/bench/proxy.js -> repo root
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

function wrkParams(env: BenchEnv, o: BenchOptions, url: string, durationSec: number): WrkParams {
  const params: WrkParams = { bin: env.tools.wrk, url, threads: o.wrkThreads, connections: o.connections, durationSec };
  if (o.postBytes > 0) params.script = path.join(env.dir, 'post.lua');
  return params;
}

/**
 * Warm-up (not recorded) and the measured wrk run against an already running target, with the
 * CPU its processes spent per request during the measured run, and the user-space part of it.
 */
async function measure(env: BenchEnv, o: BenchOptions, target: Running): Promise<{ wrk: WrkResult; cpuUsPerRequest: number | null; userUsPerRequest: number | null }> {
  const check = await httpGet(target.url);
  if (check.status !== 200) throw new Error(`pre-check GET ${target.url} answered HTTP ${check.status}`);
  const logFile = path.join(env.dir, `wrk-${target.name}.log`);
  if (o.warmupSec > 0) await runWrk(wrkParams(env, o, target.url, o.warmupSec), logFile, false);
  const cpuBefore = target.cpuTimes?.();
  const wrk = parseWrk(await runWrk(wrkParams(env, o, target.url, o.durationSec), logFile, true));
  const cpuAfter = target.cpuTimes?.();
  if (cpuBefore === undefined || cpuAfter === undefined || wrk.requests === 0) return { wrk, cpuUsPerRequest: null, userUsPerRequest: null };
  const perRequest = (seconds: number): number => (seconds * 1e6) / wrk.requests;
  return {
    wrk,
    cpuUsPerRequest: perRequest(cpuSeconds(cpuAfter) - cpuSeconds(cpuBefore)),
    userUsPerRequest: perRequest(cpuAfter.userSeconds - cpuBefore.userSeconds),
  };
}

/** One round for one target: start it, measure, stop it. Never throws; failures become error measurements. */
async function runOnce(
  env: BenchEnv, o: BenchOptions, backendPorts: number[], name: TargetName, round: number, tlsSessions: Record<string, string>,
): Promise<Measurement> {
  // The floor writes a request line and fixed fields, never a body.
  if (name === 'uws-floor' && o.postBytes > 0) return { round, ok: false, error: 'not available: uws-floor forwards no request body' };
  let target: Running;
  try {
    target = await startTarget(name, env, backendPorts);
  } catch (err) {
    const prefix = err instanceof NotAvailable ? 'not available' : 'failed to start';
    return { round, ok: false, error: `${prefix}: ${(err as Error).message}` };
  }
  try {
    if (target.url.startsWith('https:')) tlsSessions[name] ??= await tlsSession(target.url);
    return { round, ok: true, ...(await measure(env, o, target)) };
  } catch (err) {
    return { round, ok: false, error: `failed: ${(err as Error).message}` };
  } finally {
    await target.stop();
  }
}

function progress(name: TargetName, round: number, rounds: number, m: Measurement): string {
  const head = `[round ${round}/${rounds}] ${name.padEnd(11)}`;
  if (!m.ok) return `${head} ${m.error.split('\n')[0]}`;
  const w = m.wrk;
  return `${head} ${Math.round(w.rps).toLocaleString('en-US')} req/s, p50 ${w.p50Ms.toFixed(2)} ms, ` +
    `p99 ${w.p99Ms.toFixed(2)} ms, errors ${w.errors}` +
    (m.cpuUsPerRequest === null ? '' : `, CPU ${m.cpuUsPerRequest.toFixed(1)} us/req (user ${m.userUsPerRequest!.toFixed(1)})`);
}

async function main(): Promise<number> {
  const opts = parseBenchArgs(process.argv.slice(2), path.join(REPO_ROOT, 'bench', 'results'));
  if (!opts) {
    console.log(USAGE);
    return 0;
  }
  const tools = ensureTools();
  const dir = makeTempDir('weighbridge-bench-', opts.keepTmp);
  const env: BenchEnv = { dir, tools, repoRoot: REPO_ROOT, threads: opts.threads, nginxKeepalive: opts.nginxKeepalive, tls: opts.tls ? makeBenchCert(dir) : null };
  const tlsSessions: Record<string, string> = {};
  const timestamp = new Date().toISOString();
  if (opts.postBytes > 0) fs.writeFileSync(path.join(dir, 'post.lua'), `wrk.method = "POST"\nwrk.body = string.rep("x", ${opts.postBytes})\nwrk.headers["Content-Type"] = "text/plain"\n`);

  log(`starting 2 nginx backends in ${dir}`);
  const backends = await startBackends(env);
  const measurements = new Map<TargetName, Measurement[]>(opts.targets.map((t) => [t, []]));
  const unavailable = new Set<TargetName>();

  for (let round = 1; round <= opts.rounds; round++) {
    for (const name of roundOrder(opts.targets, round)) {
      if (unavailable.has(name)) continue; // "not available" will not change between rounds
      const m = await runOnce(env, opts, backends.ports, name, round, tlsSessions);
      if (!m.ok && m.error.startsWith('not available')) unavailable.add(name);
      measurements.get(name)!.push(m);
      log(progress(name, round, opts.rounds, m));
    }
  }
  for (const b of backends.servers) await b.stop();

  const report: Report = {
    timestamp,
    machine: describeMachine(),
    params: {
      threads: opts.threads,
      connections: opts.connections,
      durationSec: opts.durationSec,
      warmupSec: opts.warmupSec,
      wrkThreads: opts.wrkThreads,
      rounds: opts.rounds,
      nginxKeepalive: opts.nginxKeepalive,
      targets: opts.targets,
      wrkCommand: wrkCommandLine(opts),
      backends: backends.ports.map((p) => urlFor(p)),
      tls: opts.tls,
      postBytes: opts.postBytes,
    },
    ...(opts.tls ? { tlsSessions } : {}),
    versions: {
      wrk: toolVersion(tools.wrk, ['--version']),
      haproxy: toolVersion(tools.haproxy, ['-v']),
      nginx: toolVersion(tools.nginx, ['-v']),
      'http-proxy': readPackageVersion('http-proxy'),
      node: process.version,
    },
    rows: buildRows(opts.targets, (t) => describeTarget(t, opts.threads, opts.nginxKeepalive, opts.tls), measurements),
  };

  console.log('');
  console.log(headerLine(report));
  console.log(formatTable(report.rows));
  console.log(formatNotes(report.rows));
  const files = writeJson(opts.outDir, report);
  const svgFile = path.join(opts.outDir, `${resultsPrefix(report)}-latest.svg`);
  fs.writeFileSync(svgFile, renderSvg(report));
  console.log(`\nwrote ${[...files, svgFile].map((f) => path.relative(process.cwd(), f) || f).join(', ')}`);
  return report.rows.some((r) => r.rps !== null) ? 0 : 1;
}

function readPackageVersion(name: string): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench:proxy failed: ${err instanceof Error ? err.message : String(err)} (see --help)`);
    process.exit(1);
  },
);
