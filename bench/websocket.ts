/**
 * `npm run bench:websocket`: WebSocket traffic through weighbridge, HAProxy and NGINX, beside a
 * no-proxy baseline, all in front of the same two uWebSockets.js echo backends and driven by the
 * same load generator (bench/lib/ws-load.ts, the `ws` client in a child process).
 * Two loads per target and round:
 * - sessions: open, one 32-byte echo, close handshake, again; what a reconnect storm costs.
 * - messages: held connections, one 32-byte echo after another; what a chat-like stream costs.
 * For each: rate, p50 and p99 time, and the CPU the target spent per session or message, beside
 * HAProxy's in the same round. Everything runs on 127.0.0.1 from a fresh temp dir.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration, positiveInt } from './lib/args.js';
import { freePort, HOST, urlFor } from './lib/net.js';
import { describeMachine } from './lib/report.js';
import { median } from './lib/results.js';
import { cpuSeconds, type CpuTimes } from './lib/procs.js';
import { makeTempDir, roundOrder } from './lib/rounds.js';
import { launch, NotAvailable, startTarget, type BenchEnv, type Running } from './lib/servers.js';
import { ensureTools, toolVersion } from './lib/tools.js';
import type { LoadResult } from './lib/ws-load.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARGETS = ['direct', 'weighbridge', 'haproxy', 'nginx'] as const;
type Target = (typeof TARGETS)[number];
const MODES = ['sessions', 'messages'] as const;
type Mode = (typeof MODES)[number];

const USAGE = `Usage: npm run bench:websocket -- [flags]
  --threads T       threads/workers for each proxy (default 1)
  --clients N       concurrent client loops (default 16)
  --duration D      measured seconds per target and load, e.g. 5 or 5s (default 5s)
  --warmup D        unrecorded seconds before each (default 1s, 0 = none)
  --rounds N        repeat all targets N times in a shuffled order, report medians (default 3)
  --targets a,b     subset of ${TARGETS.join(',')} (default all)
  --out DIR         results directory (default bench/results)
  --keep-tmp        keep the temp dir with configs and logs
  --help`;

interface Options {
  threads: number;
  clients: number;
  durationSec: number;
  warmupSec: number;
  rounds: number;
  targets: Target[];
  outDir: string;
  keepTmp: boolean;
}

function options(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      threads: { type: 'string', default: '1' },
      clients: { type: 'string', default: '16' },
      duration: { type: 'string', default: '5s' },
      warmup: { type: 'string', default: '1s' },
      rounds: { type: 'string', default: '3' },
      targets: { type: 'string', default: TARGETS.join(',') },
      out: { type: 'string' },
      'keep-tmp': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return null;
  const names = values.targets.split(',').map((t) => t.trim());
  const unknown = names.filter((n) => !(TARGETS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`--targets: unknown ${unknown.join(',')}; choose from ${TARGETS.join(',')}`);
  const durationSec = parseDuration(values.duration, '--duration');
  if (durationSec < 1) throw new Error('--duration must be at least 1s');
  return {
    threads: positiveInt(values.threads, '--threads'),
    clients: positiveInt(values.clients, '--clients'),
    durationSec,
    warmupSec: values.warmup.trim() === '0' ? 0 : parseDuration(values.warmup, '--warmup'),
    rounds: positiveInt(values.rounds, '--rounds'),
    targets: TARGETS.filter((t) => names.includes(t)),
    outDir: values.out ? path.resolve(values.out) : path.join(REPO_ROOT, 'bench', 'results'),
    keepTmp: values['keep-tmp'],
  };
}

/** One load against one target in one round. */
interface Measurement extends LoadResult {
  round: number;
  /** The target's CPU (all its processes) per session or message; null for direct. */
  cpuUs: number | null;
}

/** Runs the load generator against `url`, with the target's CPU over the recorded part. */
async function runLoad(o: Options, url: string, mode: Mode, target: Running): Promise<Omit<Measurement, 'round'>> {
  const script = path.join(REPO_ROOT, 'dist', 'bench', 'lib', 'ws-load.js');
  const child = spawn(process.execPath, [script, '--url', url, '--mode', mode, '--clients', String(o.clients), '--seconds', String(o.durationSec), '--warmup', String(o.warmupSec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let cpuBefore: CpuTimes | undefined;
  let result: LoadResult | null = null;
  for await (const line of readline.createInterface({ input: child.stdout })) {
    if (line === 'measuring') cpuBefore = target.cpuTimes?.();
    else if (line.startsWith('{')) result = JSON.parse(line) as LoadResult;
  }
  const cpuAfter = target.cpuTimes?.();
  const code = await exited;
  if (result === null) throw new Error(`the load generator exited (${code}) without a result`);
  const cpuUs = cpuBefore !== undefined && cpuAfter !== undefined && result.count > 0 ? ((cpuSeconds(cpuAfter) - cpuSeconds(cpuBefore)) * 1e6) / result.count : null;
  return { ...result, cpuUs };
}

/** The two echo backends, uWebSockets.js processes of their own. */
async function startBackends(env: BenchEnv): Promise<Running[]> {
  const script = path.join(REPO_ROOT, 'dist', 'bench', 'lib', 'ws-echo-server.js');
  const backends: Running[] = [];
  for (const n of [1, 2]) {
    const port = await freePort();
    backends.push(await launch(env, `backend${n}`, process.execPath, [script, '--port', String(port)], port));
  }
  return backends;
}

const portOf = (r: Running): number => Number(new URL(r.url).port);

interface Row {
  target: Target;
  mode: Mode;
  /** Medians over the rounds. */
  rate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  cpuUs: number | null;
  errors: number;
  /** The median of the rounds' rate ratios to HAProxy in the same round. */
  ratioToHaproxy: number | null;
  /** The ratio of the medians of CPU per session or message. */
  cpuVsHaproxy: number | null;
  rounds: Measurement[];
  error: string | null;
}

function buildRow(target: Target, mode: Mode, all: Map<string, Measurement[]>, failures: Map<string, string>): Row {
  const ms = all.get(`${target}/${mode}`)!;
  const haproxy = all.get(`haproxy/${mode}`) ?? [];
  const rate = (m: Measurement): number => m.count / m.seconds;
  const ratios = ms.flatMap((m) => haproxy.filter((h) => h.round === m.round && h.count > 0).map((h) => rate(m) / rate(h)));
  const cpu = median(ms.flatMap((m) => (m.cpuUs === null ? [] : [m.cpuUs])));
  const haproxyCpu = median(haproxy.flatMap((m) => (m.cpuUs === null ? [] : [m.cpuUs])));
  return {
    target, mode, rate: median(ms.map(rate)), p50Ms: median(ms.map((m) => m.p50Ms)), p99Ms: median(ms.map((m) => m.p99Ms)), cpuUs: cpu,
    errors: ms.reduce((n, m) => n + m.errors, 0), ratioToHaproxy: median(ratios), cpuVsHaproxy: cpu !== null && haproxyCpu ? cpu / haproxyCpu : null,
    rounds: ms, error: failures.get(target) ?? null,
  };
}

function formatTable(rows: Row[], mode: Mode): string {
  const unit = mode === 'sessions' ? 'session' : 'msg';
  const columns = ['target', `${mode}/s`, 'p50 ms', 'p99 ms', 'errors', 'ratio to HAProxy', `CPU us/${unit}`, 'CPU vs HAProxy'];
  const x = (n: number | null): string => (n === null ? 'n/a' : `${n.toFixed(2)}x`);
  const ms = (n: number | null): string => (n === null ? 'n/a' : n.toFixed(2));
  const cells = rows.map((r) =>
    r.rate === null ? [r.target, r.error ?? 'no result'] : [r.target, Math.round(r.rate).toLocaleString('en-US'), ms(r.p50Ms), ms(r.p99Ms), String(r.errors), x(r.ratioToHaproxy), r.cpuUs === null ? 'n/a' : r.cpuUs.toFixed(1), x(r.cpuVsHaproxy)],
  );
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row.length > 2 ? row[i]!.length : 0))));
  const line = (row: string[]): string => (row.length === 2 ? `${row[0]!.padEnd(widths[0]!)} | ${row[1]}` : row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | '));
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.map(line)].join('\n');
}

function describe(target: Target, o: Options): string {
  switch (target) {
    case 'direct':
      return 'no proxy: the load straight at backend #1';
    case 'weighbridge':
      return `weighbridge (dist/src/cli/main.js), --threads ${o.threads}, its default policy, both backends`;
    case 'haproxy':
      return `HAProxy, nbthread ${o.threads}, HTTP mode (upgrades pass by themselves), roundrobin over both backends`;
    case 'nginx':
      return `NGINX proxy, worker_processes ${o.threads}, both backends, Upgrade and Connection: upgrade set as its documentation does`;
  }
}

async function main(): Promise<number> {
  const o = options(process.argv.slice(2));
  if (o === null) {
    console.log(USAGE);
    return 0;
  }
  const tools = ensureTools();
  const dir = makeTempDir('weighbridge-bench-ws-', o.keepTmp);
  const env: BenchEnv = { dir, tools, repoRoot: REPO_ROOT, threads: o.threads, nginxKeepalive: 64, tls: null, webSockets: true };
  const backends = await startBackends(env);
  const backendPorts = backends.map(portOf);
  const all = new Map<string, Measurement[]>(o.targets.flatMap((t) => MODES.map((mode) => [`${t}/${mode}`, []] as [string, Measurement[]])));
  const failures = new Map<Target, string>();
  for (let round = 1; round <= o.rounds; round++) {
    for (const name of roundOrder(o.targets, round)) {
      if (failures.has(name)) continue;
      let target: Running;
      try {
        target = await startTarget(name, env, backendPorts);
      } catch (err) {
        failures.set(name, `${err instanceof NotAvailable ? 'not available' : 'failed to start'}: ${(err as Error).message.split('\n')[0]}`);
        continue;
      }
      try {
        const url = `ws://${HOST}:${portOf(target)}/`;
        for (const mode of MODES) {
          const m = { round, ...(await runLoad(o, url, mode, target)) };
          all.get(`${name}/${mode}`)!.push(m);
          console.error(`[round ${round}/${o.rounds}] ${name.padEnd(11)} ${mode.padEnd(8)} ${Math.round(m.count / m.seconds)}/s, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms, errors ${m.errors}${m.cpuUs === null ? '' : `, CPU ${m.cpuUs.toFixed(1)} us`}`);
        }
      } catch (err) {
        failures.set(name, `failed: ${(err as Error).message}`);
      } finally {
        await target.stop();
      }
    }
  }
  for (const b of backends) await b.stop();

  const rows = MODES.flatMap((mode) => o.targets.map((t) => buildRow(t, mode, all, failures)));
  const machine = describeMachine();
  console.log(`\nmachine: ${machine.cores} cores (${machine.cpuModel}), ${machine.platform}, node ${machine.node} | load: bench/lib/ws-load.js (ws client), ${o.clients} concurrent loops, ${o.durationSec}s recorded after ${o.warmupSec}s | proxy threads: ${o.threads} | rounds: ${o.rounds} (shuffled order; medians; ratio to HAProxy: median of the rounds' ratios to HAProxy in the same round; CPU vs HAProxy: ratio of the medians)`);
  for (const mode of MODES) console.log(`\n${formatTable(rows.filter((r) => r.mode === mode), mode)}`);
  console.log(`\ntargets:\n${o.targets.map((t) => `  ${t.padEnd(12)} ${describe(t, o)}`).join('\n')}`);
  const report = {
    timestamp: new Date().toISOString(), machine,
    params: { threads: o.threads, clients: o.clients, durationSec: o.durationSec, warmupSec: o.warmupSec, rounds: o.rounds, targets: o.targets, backends: backends.map((b) => urlFor(portOf(b))) },
    versions: { haproxy: toolVersion(tools.haproxy, ['-v']), nginx: toolVersion(tools.nginx, ['-v']), node: process.version },
    rows,
  };
  fs.mkdirSync(o.outDir, { recursive: true });
  const files = [`websocket-${report.timestamp.replace(/:/g, '-')}.json`, 'websocket-latest.json'].map((f) => path.join(o.outDir, f));
  for (const f of files) fs.writeFileSync(f, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
  return rows.some((r) => r.rate !== null) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:websocket failed: ${err instanceof Error ? err.message : String(err)} (see --help)`);
    process.exit(1);
  },
);
