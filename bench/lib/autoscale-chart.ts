/** A step chart of running workers over time, one line per policy, for bench:autoscale. */

const W = 760;
const H = 300;
const LEFT = 50;
const TOP = 50;
const PLOT_W = 660;
const PLOT_H = 200;
const COLORS = ['#1f6feb', '#e8590c', '#2f9e44'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderWorkersChart(title: string, series: { name: string; points: { atS: number; workers: number }[] }[], seconds: number): string {
  const maxWorkers = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.workers)));
  const x = (s: number): number => LEFT + (PLOT_W * Math.min(s, seconds)) / seconds;
  const y = (n: number): number => TOP + PLOT_H - (PLOT_H * n) / maxWorkers;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${LEFT}" y1="${TOP + PLOT_H}" x2="${LEFT + PLOT_W}" y2="${TOP + PLOT_H}" stroke="#888"/>`,
    `<text x="${LEFT + PLOT_W}" y="${TOP + PLOT_H + 16}" text-anchor="end">${seconds} s</text>`,
  ];
  for (let n = 1; n <= maxWorkers; n++) out.push(`<text x="${LEFT - 6}" y="${y(n) + 4}" text-anchor="end">${n}</text>`, `<line x1="${LEFT}" y1="${y(n)}" x2="${LEFT + PLOT_W}" y2="${y(n)}" stroke="#eee"/>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.flatMap((p, j) => (j === 0 ? [`${x(p.atS)},${y(p.workers)}`] : [`${x(p.atS)},${y(s.points[j - 1]!.workers)}`, `${x(p.atS)},${y(p.workers)}`]));
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    out.push(`<rect x="${LEFT + 10 + i * 220}" y="32" width="12" height="10" fill="${color}"/><text x="${LEFT + 26 + i * 220}" y="41">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
