/**
 * `npm run bench:autoscale`: the autoscaler against two load traces on process workers (example
 * workers doing CPU work), beside a Kubernetes-HPA-style policy on the same traces and the same
 * signal (utilization = 100 - score): a 4x step (steady, 4x, steady) and a periodic load. Per run:
 * how long until the first scale-up and until the most workers after the load rose, the scale
 * actions, p99 latency while the load is high, and worker-seconds used. Printed table,
 * bench/results/autoscale.json and one chart per trace (workers over time).
 * --seconds N stretches or shrinks every trace (default 150).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { withUsage } from './lib/args.js';
import { seededRandom } from '../src/balancing/random.js';
import { renderWorkersChart } from './lib/autoscale-chart.js';
import { freePort, httpGet, waitFor200 } from './lib/net.js';
import { runTrace } from './lib/open-loop.js';
import { installCleanup, startProcess, stopProcess } from './lib/procs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT_DIR = path.join(ROOT, 'bench', 'results');
/** Each request burns this much CPU in the worker; BASE requests per second keep one worker at about 12% of a core. */
const CPU_MS = 10;
const BASE = 12;
const SAMPLE_MS = 500;

interface Trace {
  name: string;
  /** Requests per second at a fraction 0..1 of the trace. */
  rate(fraction: number): number;
}

const TRACES: Trace[] = [
  { name: 'step 4x', rate: (f) => (f >= 0.2 && f < 0.6 ? 4 * BASE : BASE) },
  { name: 'periodic', rate: (f) => BASE * (2.5 - 1.5 * Math.cos(2 * Math.PI * f * 2.5)) },
];

// The HPA has no Sundown of its own: the scorer's (non-default workers idle for t_low) is off in its runs.
const POLICIES = [
  { name: 'weighbridge (seed 3.4)', autoscaler: { policy: 'seed', scoreHigh: 88, scoreCritical: 5, scoreLow: 95, cooldownMs: 10_000 }, scoring: {} },
  { name: 'HPA-style', autoscaler: { policy: 'hpa', hpa: { targetUtilization: 15, tolerance: 0.1, stabilizationMs: 300_000 } }, scoring: { states: { lowDwellForSundownMs: 1e9 } } },
];

interface Row {
  trace: string;
  policy: string;
  firstScaleUpS: number | null;
  toPeakWorkersS: number | null;
  peakWorkers: number;
  actions: number;
  p99HighMs: number;
  workerSeconds: number;
  errors: number;
  timeline: { atS: number; workers: number }[];
}

async function run(trace: Trace, policy: (typeof POLICIES)[number], seconds: number, logDir: string, index: number): Promise<Row> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const config = path.join(logDir, `config-${index}.json`);
  fs.writeFileSync(config, JSON.stringify({
    host: '127.0.0.1', port, threads: 1, admin: { port: adminPort }, roles: ['ingress', 'collector', 'scorer', 'autoscaler'],
    driver: { kind: 'process', count: 1 }, bus: { statsIntervalMs: SAMPLE_MS }, collector: { intervalMs: SAMPLE_MS }, slowStartMs: 1_000,
    autoscaler: { maxWorkers: 4, drainMs: 5_000, ...policy.autoscaler },
    scoring: policy.scoring,
  }));
  const wb = startProcess(`weighbridge-${index}`, process.execPath, [path.join(ROOT, 'dist', 'src', 'cli', 'main.js'), '--config', config], path.join(logDir, `weighbridge-${index}.log`));
  try {
    await waitFor200(`http://127.0.0.1:${adminPort}/api/status`, 20_000, () => wb.exitInfo === null);
    const url = `http://127.0.0.1:${port}/work?cpu_ms=${CPU_MS}`;
    // Unrecorded: the scorer has measured the worker before the trace starts.
    await runTrace({ url, ratePerSec: BASE, arrivals: 'poisson', durationMs: 10_000, random: seededRandom(1), drainMs: 5_000 });
    const durationMs = seconds * 1000;
    const timeline: Row['timeline'] = [];
    let sampling = true;
    const started = Date.now();
    const sampler = (async () => {
      while (sampling) {
        const status = JSON.parse((await httpGet(`http://127.0.0.1:${adminPort}/api/autoscaler`)).body) as { workers: { retiring: boolean }[]; events: { at: number; action: string }[] };
        timeline.push({ atS: (Date.now() - started) / 1000, workers: status.workers.filter((w) => !w.retiring).length });
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
      }
    })();
    const high: number[] = [];
    const result = await runTrace({
      url, ratePerSec: BASE, rateAt: (at) => trace.rate(at / durationMs), arrivals: 'poisson', durationMs, random: seededRandom(2), drainMs: 10_000,
      onAnswer: (at, latency) => void (trace.rate(at / durationMs) > 2 * BASE && high.push(latency)),
    });
    sampling = false;
    await sampler;
    const events = (JSON.parse((await httpGet(`http://127.0.0.1:${adminPort}/api/autoscaler`)).body) as { events: { at: number; action: string }[] }).events.filter((e) => e.at >= started);
    // The load first rises above twice the base at this point of the trace.
    let riseS = 0;
    for (let f = 0; f < 1; f += 0.001) if (trace.rate(f) > 2 * BASE) { riseS = f * seconds; break; }
    const firstUp = events.find((e) => e.action === 'up' && (e.at - started) / 1000 >= riseS);
    const peak = Math.max(...timeline.map((t) => t.workers));
    const atPeak = timeline.find((t) => t.workers === peak && t.atS >= riseS);
    high.sort((a, b) => a - b);
    return {
      trace: trace.name, policy: policy.name,
      firstScaleUpS: firstUp ? (firstUp.at - started) / 1000 - riseS : null,
      toPeakWorkersS: atPeak && peak > 1 ? atPeak.atS - riseS : null,
      peakWorkers: peak, actions: events.length,
      p99HighMs: high[Math.min(high.length - 1, Math.floor(0.99 * high.length))] ?? NaN,
      workerSeconds: timeline.reduce((a, t) => a + (t.workers * SAMPLE_MS) / 1000, 0),
      errors: result.errors, timeline,
    };
  } finally {
    await stopProcess(wb, 15_000);
  }
}

async function main(): Promise<void> {
  const { values } = withUsage(`Usage: npm run bench:autoscale -- [--seconds S]\n  --seconds S  seconds per run (default 150, at least 20)\n  --help`, () =>
    parseArgs({ options: { seconds: { type: 'string', default: '150' }, help: { type: 'boolean', default: false } } }),
  );
  const seconds = Number(values.seconds);
  if (!(seconds >= 20)) throw new Error('--seconds: expected at least 20');
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weighbridge-autoscale-'));
  installCleanup(() => fs.rmSync(logDir, { recursive: true, force: true }));
  console.error(`bench:autoscale: ${TRACES.length * POLICIES.length} runs of ${seconds} s (+10 s warm-up), about ${Math.ceil((TRACES.length * POLICIES.length * (seconds + 20)) / 60)} minutes`);
  const rows: Row[] = [];
  let index = 0;
  for (const trace of TRACES) {
    for (const policy of POLICIES) {
      const row = await run(trace, policy, seconds, logDir, index++);
      console.error(`[${index}/${TRACES.length * POLICIES.length}] ${row.trace}, ${row.policy}: peak ${row.peakWorkers} workers, ${row.actions} actions, p99 ${row.p99HighMs.toFixed(0)} ms`);
      rows.push(row);
    }
  }
  const fmt = (x: number | null, d = 1): string => (x === null ? 'never' : x.toFixed(d));
  console.log(`\nbench:autoscale: process workers burning ${CPU_MS} ms of CPU per request, base ${BASE} req/s, traces of ${seconds} s, ${os.cpus().length} cores`);
  console.log('trace       policy                  first up s  to peak s  peak workers  actions  p99 high ms  worker-s  errors');
  for (const r of rows) {
    console.log(`${r.trace.padEnd(11)} ${r.policy.padEnd(23)} ${fmt(r.firstScaleUpS).padStart(10)} ${fmt(r.toPeakWorkersS).padStart(10)} ${String(r.peakWorkers).padStart(13)} ${String(r.actions).padStart(8)} ${r.p99HighMs.toFixed(0).padStart(12)} ${r.workerSeconds.toFixed(0).padStart(9)} ${String(r.errors).padStart(7)}`);
  }
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, 'autoscale.json');
  fs.writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), cpuMs: CPU_MS, base: BASE, seconds, policies: POLICIES, rows }, null, 2)}\n`);
  const written = [file];
  for (const trace of TRACES) {
    const svg = path.join(OUT_DIR, `autoscale-${trace.name.replace(/\W+/g, '-')}.svg`);
    fs.writeFileSync(svg, renderWorkersChart(`bench:autoscale, ${trace.name}: running workers over time`, rows.filter((r) => r.trace === trace.name).map((r) => ({ name: r.policy, points: r.timeline })), seconds));
    written.push(svg);
  }
  console.log(`\nwrote ${written.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
}

main().catch((err: Error) => {
  console.error(`bench:autoscale: ${err.message}`);
  process.exit(1);
});
