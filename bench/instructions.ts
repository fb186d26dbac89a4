/**
 * `npm run bench:instructions`: CPU instructions the ingress thread spends per proxied request,
 * counted by valgrind (callgrind) while wrk drives weighbridge in front of two NGINX backends.
 * Unlike wall-clock figures on a shared 2-core machine, which move by 2x between runs, the count
 * repeats within about 2% when the runs pass about as many requests, so it can show a change of
 * a few percent; with fewer requests, the event loop's per-iteration and per-second work weighs
 * more per request (about 15% at 30% fewer), which is why each line prints its request count. It measures user-space work
 * only: the kernel's share (the socket calls) is not counted. `--baseline DIR` measures another
 * checkout (its dist/ built) in the same run, for a before/after pair.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { withUsage } from './lib/args.js';
import { freePort, urlFor, waitFor200 } from './lib/net.js';
import { installCleanup } from './lib/procs.js';
import { startBackends } from './lib/servers.js';
import { ensureExecutable, ensureTools } from './lib/tools.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const USAGE = `Usage: npm run bench:instructions -- [flags]
  --baseline DIR  another built checkout, measured in the same run
  --seconds S     measured seconds per build (default 10)
  --warmup S      unmeasured seconds before (default 20)
  --help`;
const { values } = withUsage(USAGE, () =>
  parseArgs({ options: { baseline: { type: 'string' }, seconds: { type: 'string', default: '10' }, warmup: { type: 'string', default: '20' }, help: { type: 'boolean', default: false } } }),
);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weighbridge-instructions-'));
fs.chmodSync(dir, 0o755); // nginx workers run unprivileged
installCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
const tools = ensureTools();
const valgrind = ensureExecutable('valgrind', 'valgrind');
const callgrindControl = ensureExecutable('callgrind_control', 'valgrind');
const { ports, servers } = await startBackends({ dir, tools, repoRoot: REPO_ROOT, threads: 1, nginxKeepalive: 64, tls: null });

/** Instructions per thread (by callgrind's thread number) since the last zeroing. */
async function dumpThreads(pid: number, out: string): Promise<Map<string, number>> {
  execFileSync(callgrindControl, ['-d', String(pid)], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
  const counts = new Map<string, number>();
  for (const f of fs.readdirSync(dir).filter((name) => name.startsWith(`${path.basename(out)}.`))) {
    const m = /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(path.join(dir, f), 'utf8'));
    if (m) counts.set(f.replace(/^.*-/, ''), Number(m[1]));
    fs.rmSync(path.join(dir, f));
  }
  return counts;
}

function wrk(url: string, secs: number): number {
  const text = execFileSync(tools.wrk, ['-t1', '-c16', `-d${secs}s`, url], { encoding: 'utf8' });
  return Number(/(\d+) requests in/.exec(text)![1]);
}

async function measure(root: string): Promise<{ perRequest: number; requests: number }> {
  const port = await freePort();
  const out = path.join(dir, 'callgrind.out');
  const args = ['--tool=callgrind', '--smc-check=all-non-file', '--separate-threads=yes', '--dump-instr=no', `--callgrind-out-file=${out}`, process.execPath, path.join(root, 'dist', 'src', 'cli', 'main.js'), '--port', String(port), '--admin-port', '0', '--threads', '1', '--upstreams', ports.map((p) => urlFor(p, '')).join(',')];
  const child = spawn(valgrind, args, { stdio: 'ignore' });
  try {
    await waitFor200(urlFor(port), 120_000, () => child.exitCode === null);
    wrk(urlFor(port), warmup); // until the hot path is optimized
    execFileSync(callgrindControl, ['-z', String(child.pid)], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const idle = await dumpThreads(child.pid!, out);
    execFileSync(callgrindControl, ['-z', String(child.pid)], { stdio: 'ignore' });
    const requests = wrk(urlFor(port), seconds);
    const loaded = await dumpThreads(child.pid!, out);
    // The ingress thread is the busiest; its idle work (timers) over as long is taken off.
    const [thread, count] = [...loaded].sort((a, b) => b[1] - a[1])[0]!;
    return { perRequest: (count - (idle.get(thread) ?? 0)) / requests, requests };
  } finally {
    child.kill('SIGKILL');
  }
}

const builds = [...(values.baseline ? [['baseline', path.resolve(values.baseline)]] : []), ['this build', REPO_ROOT]] as const;
const rows: { build: string; root: string; perRequest: number; requests: number }[] = [];
for (const [build, root] of builds) rows.push({ build, root, ...(await measure(root)) });
for (const s of servers) await s.stop();

console.log(`instructions per proxied request, ingress thread (callgrind, wrk -c16, ${seconds} s after ${warmup} s warm-up, 2 NGINX backends)`);
for (const r of rows) console.log(`${r.build.padEnd(12)} ${Math.round(r.perRequest).toLocaleString('en-US').padStart(8)}  (${r.requests} requests) ${r.root}`);
if (rows.length === 2) console.log(`this build / baseline: ${(rows[1]!.perRequest / rows[0]!.perRequest).toFixed(2)}x`);
fs.mkdirSync(path.join(REPO_ROOT, 'bench', 'results'), { recursive: true });
fs.writeFileSync(path.join(REPO_ROOT, 'bench', 'results', 'instructions.json'), `${JSON.stringify({ timestamp: new Date().toISOString(), seconds, warmup, rows }, null, 2)}\n`);
process.exit(0);
