/**
 * bench:balance (c): the simulation's scenario, live. Example workers in /queue mode (one server
 * each, exponential service of mean baseServiceMs / speed) behind the real ingress on loopback,
 * with the real collector and scorer steering the weights; an open-loop generator offers the
 * load; worker 0 slows 10x halfway through. One weighbridge per policy and scenario, so every
 * run starts from the same state.
 */
import path from 'node:path';
import type { PolicyName } from '../../src/balancing/policies/index.js';
import { seededRandom } from '../../src/balancing/random.js';
import { freePort, httpGet, waitFor200 } from './net.js';
import { runTrace } from './open-loop.js';
import { startProcess, stopProcess, type Managed } from './procs.js';

export interface LiveOptions {
  root: string;
  logDir: string;
  speeds: number[];
  baseServiceMs: number;
  scenarios: { arrivals: 'poisson' | 'bursty'; load: number }[];
  policies: { name: string; policy: PolicyName }[];
  durationMs: number;
  warmupMs: number;
  seed: number;
  /** A weighbridge config file for every run (scoring settings, say); flags still set the rest. */
  configFile?: string;
  log(line: string): void;
}

export interface LiveRow {
  scenario: string;
  policy: string;
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

function post(url: string): Promise<number> {
  return fetch(url, { method: 'POST' }).then((r) => r.status);
}

export async function runLive(o: LiveOptions): Promise<LiveRow[]> {
  const node = process.execPath;
  const workerJs = path.join(o.root, 'dist', 'src', 'worker', 'example-worker.js');
  const cliJs = path.join(o.root, 'dist', 'src', 'cli', 'main.js');
  const workers: { port: number; proc: Managed }[] = [];
  for (const [i, speed] of o.speeds.entries()) {
    const port = await freePort();
    const proc = startProcess(`worker-${i}`, node, [workerJs], path.join(o.logDir, `worker-${i}.log`), { ...process.env, PORT: String(port), WORKER_ID: `w${i}`, SPEED: String(speed) });
    workers.push({ port, proc });
  }
  const rows: LiveRow[] = [];
  try {
    for (const w of workers) await waitFor200(`http://127.0.0.1:${w.port}/`, 10_000, () => w.proc.exitInfo === null);
    const upstreams = workers.map((w) => `http://127.0.0.1:${w.port}`).join(',');
    const capacityPerSec = (1000 * o.speeds.reduce((a, s) => a + s, 0)) / o.baseServiceMs;
    let run = 0;
    for (const [index, s] of o.scenarios.entries()) {
      const scenario = `${s.arrivals} ${Math.round(s.load * 100)}%`;
      for (const p of o.policies) {
        run++;
        const [port, adminPort] = [await freePort(), await freePort()];
        const wb = startProcess(`weighbridge-${run}`, node, [cliJs, '--port', String(port), '--admin-port', String(adminPort), '--host', '127.0.0.1', '--threads', '1', '--policy', p.policy, '--roles', 'ingress,collector,scorer', '--upstreams', upstreams, ...(o.configFile ? ['--config', o.configFile] : [])], path.join(o.logDir, `weighbridge-${run}.log`));
        try {
          await waitFor200(`http://127.0.0.1:${adminPort}/api/status`, 15_000, () => wb.exitInfo === null);
          // Each run starts at full speed with empty queues (the last run's backlog forgotten).
          for (const w of workers) await post(`http://127.0.0.1:${w.port}/speed?factor=1&reset=1`);
          const url = `http://127.0.0.1:${port}/queue?service_ms=${o.baseServiceMs}`;
          const trace = { url, ratePerSec: s.load * capacityPerSec, arrivals: s.arrivals, random: seededRandom(o.seed + index), drainMs: 10_000 };
          // Unrecorded: slow start ends and the scorer has measured every worker. Then every
          // policy of the scenario gets the same arrivals (the same seed).
          await runTrace({ ...trace, random: seededRandom(o.seed - 1 - index), durationMs: o.warmupMs });
          const slow = workers[0]!;
          const result = await runTrace({ ...trace, durationMs: o.durationMs, atHalf: () => void post(`http://127.0.0.1:${slow.port}/speed?factor=0.1`) });
          const l = result.latencies;
          const at = (q: number): number => l[Math.min(l.length - 1, Math.floor(q * l.length))] ?? NaN;
          const row = { scenario, policy: p.name, requests: l.length, errors: result.errors, p50Ms: at(0.5), p99Ms: at(0.99), p999Ms: at(0.999) };
          o.log(`[live ${run}/${o.scenarios.length * o.policies.length}] ${scenario} ${p.name}: p50 ${row.p50Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms, p99.9 ${row.p999Ms.toFixed(1)} ms, ${row.requests} requests, ${row.errors} errors`);
          const scores = await httpGet(`http://127.0.0.1:${adminPort}/api/scores`).catch(() => null);
          if (scores) o.log(`  weights at the end: ${JSON.stringify((JSON.parse(scores.body) as { workers: { id: string; weight: number }[] }).workers.map((w) => w.weight))}`);
          rows.push(row);
        } finally {
          await stopProcess(wb);
        }
      }
    }
  } finally {
    await Promise.all(workers.map((w) => stopProcess(w.proc)));
  }
  return rows;
}
