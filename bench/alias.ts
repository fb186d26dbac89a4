/**
 * `npm run bench:alias`: the cost of one pick and of one republish of the shared route table for
 * N = 10 to 100,000 workers. A pick must cost the same whatever N (Vose's alias method); a
 * republish is O(N). For contrast, a pick by binary search over cumulative weights (O(log N), the
 * usual weighted-random implementation) is timed on the same weights in the same run.
 * A pick reads a few words at random positions, so once the table outgrows the CPU caches the
 * time per pick grows with memory latency, not with the work done.
 * Output: a printed table, bench/results/alias.json and bench/results/alias.svg.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { weightedRandom } from '../src/balancing/policies/weighted-random.js';
import { seededRandom } from '../src/balancing/random.js';
import { RouteTableReader, RouteTableWriter, type RouteEntry } from '../src/shared/route-table.js';
import { withUsage } from './lib/args.js';

const SIZES = [10, 100, 1_000, 10_000, 100_000];
const PICKS = 4_000_000;
const ROUNDS = 5;
const OUT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

interface Row {
  workers: number;
  pickNs: number;
  pickVsSmallest: number;
  binarySearchPickNs: number;
  republishUs: number;
  republishNsPerWorker: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median over rounds of the nanoseconds per call of fn(iterations). */
function time(iterations: number, fn: (n: number) => number): number {
  const samples: number[] = [];
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    sink += fn(iterations);
    samples.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  if (sink === -1) console.log(''); // keeps the work observable to the optimizer
  return median(samples);
}

/** Weights come from a seeded source; picks use Math.random, as the ingress threads do. */
function measure(n: number, weightSource: () => number): Row {
  const random = Math.random;
  const writer = RouteTableWriter.create(n);
  const reader = new RouteTableReader(writer.buffer, n);
  const entries: RouteEntry[] = Array.from({ length: n }, (_, i) => ({ slot: i, incarnation: 1, weight: 1 + weightSource() * 99 }));
  writer.publish(entries);

  const pickNs = time(PICKS, (k) => {
    let acc = 0;
    for (let i = 0; i < k; i++) {
      reader.pick(weightedRandom, random);
      acc += reader.slot;
    }
    return acc;
  });

  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cumulative[i] = sum += entries[i]!.weight;
  const binarySearchPickNs = time(PICKS, (k) => {
    let acc = 0;
    for (let i = 0; i < k; i++) {
      const target = random() * sum;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cumulative[mid]! <= target) lo = mid + 1;
        else hi = mid;
      }
      acc += lo;
    }
    return acc;
  });

  const republishes = Math.max(5, Math.round(2_000_000 / n));
  const republishNs = time(republishes, (k) => {
    for (let i = 0; i < k; i++) writer.publish(entries);
    return writer.generation;
  });

  return { workers: n, pickNs, pickVsSmallest: 1, binarySearchPickNs, republishUs: republishNs / 1000, republishNsPerWorker: republishNs / n };
}

function formatTable(rows: Row[]): string {
  const header = ['workers', 'pick ns', 'vs N=10', 'binary-search pick ns', 'republish us', 'republish ns/worker'];
  const lines = rows.map((r) => [
    r.workers.toLocaleString('en-US'),
    r.pickNs.toFixed(1),
    `${r.pickVsSmallest.toFixed(2)}x`,
    r.binarySearchPickNs.toFixed(1),
    r.republishUs.toFixed(1),
    r.republishNsPerWorker.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

/** Two log-x line charts side by side: pick ns (alias vs binary search) and republish ns per worker. */
function renderSvg(rows: Row[], title: string): string {
  const W = 920;
  const H = 380;
  const panelW = 400;
  const panelH = 250;
  const top = 70;
  const xs = rows.map((r) => Math.log10(r.workers));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const panel = (left: number, heading: string, series: { name: string; color: string; values: number[] }[]): string => {
    const max = Math.max(...series.flatMap((s) => s.values)) * 1.15;
    const px = (x: number): number => left + ((x - x0) / (x1 - x0)) * panelW;
    const py = (v: number): number => top + panelH - (v / max) * panelH;
    const out = [`<text x="${left}" y="${top - 14}" font-weight="bold">${heading}</text>`];
    out.push(`<line x1="${left}" y1="${top + panelH}" x2="${left + panelW}" y2="${top + panelH}" stroke="#888"/>`);
    out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + panelH}" stroke="#888"/>`);
    for (const r of rows) out.push(`<text x="${px(Math.log10(r.workers))}" y="${top + panelH + 18}" text-anchor="middle" font-size="11">${r.workers.toLocaleString('en-US')}</text>`);
    out.push(`<text x="${left - 6}" y="${top + 4}" text-anchor="end" font-size="11">${max.toFixed(0)}</text>`);
    out.push(`<text x="${left - 6}" y="${top + panelH}" text-anchor="end" font-size="11">0</text>`);
    series.forEach((s, k) => {
      const pts = s.values.map((v, i) => `${px(xs[i]!).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
      out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2.5"/>`);
      out.push(`<text x="${left + 10}" y="${top + 16 + k * 16}" fill="${s.color}" font-size="12">${s.name}</text>`);
    });
    return out.join('\n');
  };
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="28" font-size="16" font-weight="bold">${title}</text>`,
    panel(60, 'ns per pick (x: workers, log scale)', [
      { name: 'alias table (shared memory)', color: '#1f6feb', values: rows.map((r) => r.pickNs) },
      { name: 'binary search over cumulative weights', color: '#e8590c', values: rows.map((r) => r.binarySearchPickNs) },
    ]),
    panel(510, 'republish: ns per worker', [{ name: 'alias table build + publish', color: '#2f9e44', values: rows.map((r) => r.republishNsPerWorker) }]),
    `</svg>`,
  ].join('\n');
}

function main(): void {
  const random = seededRandom(20261127);
  const rows = SIZES.map((n) => {
    process.stderr.write(`measuring N = ${n} ...\n`);
    return measure(n, random);
  });
  for (const r of rows) r.pickVsSmallest = r.pickNs / rows[0]!.pickNs;
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
  const title = `weighbridge bench:alias: ${PICKS.toLocaleString('en-US')} picks per size, median of ${ROUNDS} rounds (${machine})`;
  console.log(title);
  console.log(formatTable(rows));
  fs.mkdirSync(OUT_DIR, { recursive: true });
  fs.writeFileSync(path.join(OUT_DIR, 'alias.json'), `${JSON.stringify({ title, date: new Date().toISOString(), machine, picks: PICKS, rounds: ROUNDS, rows }, null, 2)}\n`);
  fs.writeFileSync(path.join(OUT_DIR, 'alias.svg'), renderSvg(rows, title));
  console.log(`\nwrote ${path.join(OUT_DIR, 'alias.json')} and alias.svg`);
}

withUsage(`Usage: npm run bench:alias\n  no flags: ns per pick and per republish for 10 to 100,000 workers; bench/results/alias.json and alias.svg`, () =>
  parseArgs({ options: { help: { type: 'boolean', default: false } } }),
);
main();
