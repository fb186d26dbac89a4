/**
 * `npm run bench:balance`, part (a): the efficiency eta of weighted random selection (seed 000,
 * section 3.5) for W1 = {100, 50, 25, 5} and W2 = {100, 95, 90, 85}, R = 10^4 requests, repeated
 * 100 times with a seeded random source, beside the paper's figures (0.9 and about 0.985).
 * eta = min_i(r_i / w_i) / max_i(r_i / w_i). The simulation (b) and the live run (c) of the
 * scoring issue are still to come.
 * Output: a printed table and bench/results/balance.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAliasTable, sampleAlias } from '../src/balancing/alias-table.js';
import { seededRandom } from '../src/balancing/random.js';

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
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, 'balance.json');
  fs.writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), requests: REQUESTS, repeats: REPEATS, seed: SEED, efficiency: rows }, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
}

main();
