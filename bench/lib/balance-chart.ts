/** One SVG per bench:balance scenario: p99 latency per policy, simulated (b) beside live (c). */

export interface ChartRow {
  policy: string;
  simP99: number;
  liveP99: number | null;
}

const W = 760;
const LEFT = 150;
const PLOT_W = 520;
const BAR_H = 14;
const GROUP_GAP = 16;
const TOP = 60;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderScenarioChart(scenario: string, rows: readonly ChartRow[]): string {
  const max = Math.max(...rows.flatMap((r) => [r.simP99, r.liveP99 ?? 0]), 1);
  const scale = (v: number): number => (PLOT_W * v) / max;
  const height = TOP + rows.length * (2 * BAR_H + GROUP_GAP) + 40;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(`bench:balance, ${scenario}: p99 latency per policy (ms, lower is better)`)}</text>`,
    `<rect x="${LEFT}" y="34" width="12" height="10" fill="#9aa5b1"/><text x="${LEFT + 16}" y="43">simulated (b)</text>`,
    `<rect x="${LEFT + 120}" y="34" width="12" height="10" fill="#1f6feb"/><text x="${LEFT + 136}" y="43">live (c)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = TOP + i * (2 * BAR_H + GROUP_GAP);
    out.push(`<text x="${LEFT - 8}" y="${y + BAR_H + 4}" text-anchor="end">${esc(r.policy)}</text>`);
    out.push(`<rect x="${LEFT}" y="${y}" width="${scale(r.simP99).toFixed(1)}" height="${BAR_H}" fill="#9aa5b1"/>`);
    out.push(`<text x="${LEFT + scale(r.simP99) + 4}" y="${y + 11}">${r.simP99.toFixed(1)}</text>`);
    if (r.liveP99 !== null) {
      out.push(`<rect x="${LEFT}" y="${y + BAR_H}" width="${scale(r.liveP99).toFixed(1)}" height="${BAR_H}" fill="#1f6feb"/>`);
      out.push(`<text x="${LEFT + scale(r.liveP99) + 4}" y="${y + BAR_H + 11}">${r.liveP99.toFixed(1)}</text>`);
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
