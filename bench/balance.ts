/**
 * `npm run bench:balance`:
 * (a) the efficiency eta of weighted random selection (seed 000, section 3.5) for
 *     W1 = {100, 50, 25, 5} and W2 = {100, 95, 90, 85}, R = 10^4 requests, repeated 100 times
 *     with a seeded random source, beside the paper's figures (0.9 and about 0.985);
 *     eta = min_i(r_i / w_i) / max_i(r_i / w_i).
 * (b) a discrete-event simulation: 8 workers of speeds 1x to 4x, one slowing 10x halfway,
 *     Poisson and bursty arrivals at 70% and 90% of capacity; p50, p99, p99.9 and the longest
 *     queue per policy. Every policy gets the same requests (arrival times and sizes); a
 *     reference row shows what is reachable at all: a clairvoyant balancer that knows every
 *     worker's speed and every request's size.
 * (c) the same scenario live (bench/lib/balance-live.ts): example workers in /queue mode behind the
 *     real ingress, collector and scorer on loopback, open-loop load; the time scale is doubled
 *     (20 ms at 1x) so that 1 ms timer granularity does not distort the service times, and a run
 *     lasts --live-seconds (default 30, the slowdown halfway) after a 5 s unrecorded warm-up.
 *     --no-live skips it; --live-config FILE runs weighbridge with that configuration file.
 * Target: weighted P2C's p99 at most 0.8x P2C peak EWMA's and at most 0.5x weighted random's.
 * Output: printed tables, bench/results/balance.json and bench/results/balance-<scenario>.svg.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { withUsage } from './lib/args.js';
import { fileURLToPath } from 'node:url';
import { buildAliasTable, sampleAlias } from '../src/balancing/alias-table.js';
import { leastConnections } from '../src/balancing/policies/least-connections.js';
import { p2cPeakEwma } from '../src/balancing/policies/p2c-peak-ewma.js';
import { smoothWeightedRoundRobin } from '../src/balancing/policies/smooth-weighted-round-robin.js';
import { weightedP2c } from '../src/balancing/policies/weighted-p2c.js';
import { weightedRandom } from '../src/balancing/policies/weighted-random.js';
import type { PolicyName } from '../src/balancing/policies/index.js';
import { seededRandom } from '../src/balancing/random.js';
import { renderScenarioChart } from './lib/balance-chart.js';
import { runLive, type LiveRow } from './lib/balance-live.js';
import { makeTrace, simulate, simulateClairvoyant, type SimConfig, type SimPolicy } from './lib/balance-sim.js';
import { installCleanup } from './lib/procs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT_DIR = path.join(ROOT, 'bench', 'results');
const REQUESTS = 10_000;
const REPEATS = 100;
const SEED = 20261127;

const SCENARIOS = [
  { name: 'W1 heterogeneous', weights: [100, 50, 25, 5], paper: 0.9 },
  { name: 'W2 homogeneous', weights: [100, 95, 90, 85], paper: 0.985 },
];

/** One run: R draws over the weights; eta of the resulting counts. */
function efficiency(weights: number[], random: () => number): number {
  const n = weights.length;
  const prob = new Float64Array(n);
  const alias = new Uint32Array(n);
  buildAliasTable(weights, prob, alias);
  const view = { count: n, prob, alias };
  const counts = new Array<number>(n).fill(0);
  for (let r = 0; r < REQUESTS; r++) counts[sampleAlias(view, random())]!++;
  const perWeight = counts.map((c, i) => c / weights[i]!);
  return Math.min(...perWeight) / Math.max(...perWeight);
}

const POLICIES: { name: string; make: () => SimPolicy; live: PolicyName }[] = [
  { name: 'weighted random', make: () => weightedRandom, live: 'weighted-random' },
  { name: 'smooth WRR', make: () => smoothWeightedRoundRobin(), live: 'smooth-weighted-round-robin' },
  { name: 'least connections', make: () => leastConnections, live: 'least-connections' },
  { name: 'P2C peak EWMA', make: () => p2cPeakEwma, live: 'p2c-peak-ewma' },
  { name: 'weighted P2C', make: () => weightedP2c, live: 'weighted-p2c' },
];
/** The simulation's reference row: a balancer that knows every speed and request size (see simulateClairvoyant). */
const CLAIRVOYANT = 'clairvoyant';
const SPEEDS = Array.from({ length: 8 }, (_, i) => 1 + (3 * i) / 7);
const LOAD_SCENARIOS = (['poisson', 'bursty'] as const).flatMap((arrivals) => [0.7, 0.9].map((load) => ({ arrivals, load })));
const scenarioName = (s: { arrivals: string; load: number }): string => `${s.arrivals} ${Math.round(s.load * 100)}%`;

type LatencyRow = { scenario: string; policy: string; p50Ms: number; p99Ms: number; p999Ms: number };

/** Prints each row's p99 against weighted P2C's, then whether the target holds per scenario. */
function printAgainstOurs(rows: readonly (LatencyRow & { extra: string })[], header: string): string[] {
  console.log(header);
  for (const r of rows) {
    const ours = rows.find((x) => x.scenario === r.scenario && x.policy === 'weighted P2C')!;
    console.log(`${r.scenario.padEnd(13)} ${r.policy.padEnd(18)} ${r.p50Ms.toFixed(1).padStart(6)} ${r.p99Ms.toFixed(1).padStart(8)} ${r.p999Ms.toFixed(1).padStart(10)} ${r.extra.padStart(10)}  ${(r.p99Ms / ours.p99Ms).toFixed(2)}x`);
  }
  const verdicts = LOAD_SCENARIOS.map((sc) => {
    const name = scenarioName(sc);
    const p99 = (policy: string): number => rows.find((r) => r.scenario === name && r.policy === policy)!.p99Ms;
    const vsEwma = p99('weighted P2C') / p99('P2C peak EWMA');
    const vsRandom = p99('weighted P2C') / p99('weighted random');
    const met = vsEwma <= 0.8 && vsRandom <= 0.5;
    const ideal = rows.some((r) => r.policy === CLAIRVOYANT) ? `; a clairvoyant balancer reaches ${(p99(CLAIRVOYANT) / p99('P2C peak EWMA')).toFixed(2)}x P2C peak EWMA` : '';
    return `${name}: weighted P2C p99 = ${vsEwma.toFixed(2)}x P2C peak EWMA (target <= 0.8), ${vsRandom.toFixed(2)}x weighted random (target <= 0.5): ${met ? 'met' : 'NOT met'}${ideal}`;
  });
  for (const v of verdicts) console.log(`  target ${v}`);
  return verdicts;
}

function simulation(): (LatencyRow & { maxQueue: number; requests: number })[] {
  return LOAD_SCENARIOS.flatMap(({ arrivals, load }) => {
    const config: SimConfig = { speeds: SPEEDS, baseServiceMs: 10, load, arrivals, durationMs: 120_000, slowWorker: 0, slowFactor: 10, slowAtMs: 60_000, scorerIntervalMs: 1_000, seed: SEED };
    const trace = makeTrace(config);
    const scenario = scenarioName({ arrivals, load });
    return [
      ...POLICIES.map((p) => ({ scenario, policy: p.name, ...simulate(p.make(), config, trace) })),
      { scenario, policy: CLAIRVOYANT, ...simulateClairvoyant(config, trace) },
    ];
  });
}

const USAGE = `Usage: npm run bench:balance -- [flags]
  --live-seconds S    seconds per live run (default 30, at least 2)
  --no-live           the simulations only, no live runs
  --live-config FILE  a weighbridge config for the live runs (other scoring settings, limits)
  --help`;

async function main(): Promise<void> {
  const { values } = withUsage(USAGE, () =>
    parseArgs({ options: { 'live-seconds': { type: 'string', default: '30' }, 'no-live': { type: 'boolean', default: false }, 'live-config': { type: 'string' }, help: { type: 'boolean', default: false } } }),
  );
  const liveSeconds = Number(values['live-seconds']);
  if (!(liveSeconds >= 2)) throw new Error('--live-seconds: expected a number of seconds, at least 2');
  const random = seededRandom(SEED);
  const rows = SCENARIOS.map((s) => {
    const etas = Array.from({ length: REPEATS }, () => efficiency(s.weights, random)).sort((a, b) => a - b);
    const mean = etas.reduce((a, b) => a + b, 0) / etas.length;
    const sd = Math.sqrt(etas.reduce((a, b) => a + (b - mean) ** 2, 0) / (etas.length - 1));
    return { scenario: s.name, weights: s.weights, mean, sd, min: etas[0]!, p5: etas[Math.floor(0.05 * REPEATS)]!, max: etas[etas.length - 1]!, paper: s.paper };
  });
  console.log(`weighbridge bench:balance (a): eta of weighted random selection, R = ${REQUESTS.toLocaleString('en-US')}, ${REPEATS} runs, seed ${SEED}`);
  console.log('scenario            weights              mean    sd      min     p5      max     paper');
  for (const r of rows) {
    const f = (x: number): string => x.toFixed(4).padEnd(7);
    console.log(`${r.scenario.padEnd(19)} ${`{${r.weights.join(', ')}}`.padEnd(20)} ${f(r.mean)} ${f(r.sd)} ${f(r.min)} ${f(r.p5)} ${f(r.max)} ${r.paper}`);
  }
  const sim = simulation();
  const simVerdicts = printAgainstOurs(
    sim.map((r) => ({ ...r, extra: String(r.maxQueue) })),
    `\n(b) simulation: 8 workers of speeds 1x to 4x (10 ms at 1x), worker 1 (the 1x one; a faster one would push 90% load past the remaining capacity) 10x slower after 60 of 120 s, scorer every 1 s, seed ${SEED}\n` +
      'scenario      policy             p50 ms   p99 ms   p99.9 ms  max queue  p99 vs weighted P2C',
  );

  let live: LiveRow[] = [];
  let liveVerdicts: string[] = [];
  if (!values['no-live']) {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weighbridge-balance-'));
    installCleanup(() => fs.rmSync(logDir, { recursive: true, force: true }));
    console.log(`\n(c) live: ${POLICIES.length * LOAD_SCENARIOS.length} runs of ${liveSeconds} s (+5 s warm-up), about ${Math.ceil((POLICIES.length * LOAD_SCENARIOS.length * (liveSeconds + 8)) / 60)} minutes`);
    live = await runLive({
      root: ROOT, logDir, speeds: SPEEDS, baseServiceMs: 20, scenarios: LOAD_SCENARIOS,
      policies: POLICIES.map((p) => ({ name: p.name, policy: p.live })), durationMs: liveSeconds * 1000, warmupMs: 5_000, seed: SEED,
      ...(values['live-config'] ? { configFile: path.resolve(values['live-config']) } : {}),
      log: (line) => process.stderr.write(`${line}\n`),
    });
    liveVerdicts = printAgainstOurs(
      live.map((r) => ({ ...r, extra: String(r.errors) })),
      `\n(c) live: the same workers as /queue example workers (20 ms at 1x), weighbridge with 1 ingress thread, its collector and scorer (1 s), open-loop load; worker 1 10x slower halfway through ${liveSeconds} s\n` +
        'scenario      policy             p50 ms   p99 ms   p99.9 ms     errors  p99 vs weighted P2C',
    );
  }

  fs.mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, 'balance.json');
  fs.writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), requests: REQUESTS, repeats: REPEATS, seed: SEED, efficiency: rows, simulation: sim, simulationTarget: simVerdicts, live, liveTarget: liveVerdicts }, null, 2)}\n`);
  const written = [file];
  for (const sc of LOAD_SCENARIOS) {
    const name = scenarioName(sc);
    const chart = POLICIES.map((p) => ({
      policy: p.name,
      simP99: sim.find((r) => r.scenario === name && r.policy === p.name)!.p99Ms,
      liveP99: live.find((r) => r.scenario === name && r.policy === p.name)?.p99Ms ?? null,
    }));
    const svg = path.join(OUT_DIR, `balance-${name.replace(/[ %]+/g, '-').replace(/-$/, '')}.svg`);
    fs.writeFileSync(svg, renderScenarioChart(name, chart));
    written.push(svg);
  }
  console.log(`\nwrote ${written.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
}

main().catch((err: Error) => {
  console.error(`bench:balance: ${err.message}`);
  process.exit(1);
});
