/**
 * `npm run bench:balance`:
 * (a) the efficiency eta of weighted random selection (seed 000, section 3.5) for
 *     W1 = {100, 50, 25, 5} and W2 = {100, 95, 90, 85}, R = 10^4 requests, repeated 100 times
 *     with a seeded random source, beside the paper's figures (0.9 and about 0.985);
 *     eta = min_i(r_i / w_i) / max_i(r_i / w_i).
 * (b) a discrete-event simulation: 8 workers of speeds 1x to 4x, one slowing 10x halfway,
 *     Poisson and bursty arrivals at 70% and 90% of capacity; p50, p99, p99.9 and the longest
 *     queue per policy.
 * The live run (c) of the scoring issue is still to come.
 * Output: printed tables and bench/results/balance.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAliasTable, sampleAlias } from '../src/balancing/alias-table.js';
import { leastConnections } from '../src/balancing/policies/least-connections.js';
import { p2cPeakEwma } from '../src/balancing/policies/p2c-peak-ewma.js';
import { smoothWeightedRoundRobin } from '../src/balancing/policies/smooth-weighted-round-robin.js';
import { weightedP2c } from '../src/balancing/policies/weighted-p2c.js';
import { weightedRandom } from '../src/balancing/policies/weighted-random.js';
import { seededRandom } from '../src/balancing/random.js';
import { simulate, type SimConfig, type SimPolicy } from './lib/balance-sim.js';

const OUT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
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

const POLICIES: { name: string; make: () => SimPolicy }[] = [
  { name: 'weighted random', make: () => weightedRandom },
  { name: 'smooth WRR', make: () => smoothWeightedRoundRobin() },
  { name: 'least connections', make: () => leastConnections },
  { name: 'P2C peak EWMA', make: () => p2cPeakEwma },
  { name: 'weighted P2C', make: () => weightedP2c },
];

function simulation(): { scenario: string; policy: string; p50Ms: number; p99Ms: number; p999Ms: number; maxQueue: number; requests: number }[] {
  const speeds = Array.from({ length: 8 }, (_, i) => 1 + (3 * i) / 7);
  const rows = [];
  for (const arrivals of ['poisson', 'bursty'] as const) {
    for (const load of [0.7, 0.9]) {
      const config: SimConfig = { speeds, baseServiceMs: 10, load, arrivals, durationMs: 120_000, slowWorker: 0, slowFactor: 10, slowAtMs: 60_000, scorerIntervalMs: 1_000, seed: SEED };
      for (const p of POLICIES) rows.push({ scenario: `${arrivals} ${Math.round(load * 100)}%`, policy: p.name, ...simulate(p.make(), config) });
    }
  }
  return rows;
}

function main(): void {
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
  console.log(`\n(b) simulation: 8 workers of speeds 1x to 4x (10 ms at 1x), worker 1 (the 1x one; a faster one would push 90% load past the remaining capacity) 10x slower after 60 of 120 s, scorer every 1 s, seed ${SEED}`);
  console.log('scenario      policy             p50 ms   p99 ms   p99.9 ms  max queue  p99 vs weighted P2C');
  for (const r of sim) {
    const ours = sim.find((x) => x.scenario === r.scenario && x.policy === 'weighted P2C')!;
    console.log(`${r.scenario.padEnd(13)} ${r.policy.padEnd(18)} ${r.p50Ms.toFixed(1).padStart(6)} ${r.p99Ms.toFixed(1).padStart(8)} ${r.p999Ms.toFixed(1).padStart(10)} ${String(r.maxQueue).padStart(10)}  ${(r.p99Ms / ours.p99Ms).toFixed(2)}x`);
  }
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, 'balance.json');
  fs.writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), requests: REQUESTS, repeats: REPEATS, seed: SEED, efficiency: rows, simulation: sim }, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

main();
