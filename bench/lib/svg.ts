/** A hand-written SVG bar chart of the results: one horizontal req/s bar per target, p99 beside it. */
import type { Report } from './report.js';
import type { Row } from './results.js';

const COLORS: Record<string, string> = {
  direct: '#9aa5b1',
  weighbridge: '#1f6feb',
  'uws-floor': '#74c0fc',
  haproxy: '#2f9e44',
  nginx: '#e8590c',
  'http-proxy': '#7048e8',
};

const W = 920;
const LEFT = 130; // room for target names
const PLOT_W = 470; // the longest bar
const BAR_H = 30;
const GAP = 18;
const TOP = 92;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round tick step giving about `count` grid lines up to `max`. */
function niceStep(max: number, count = 5): number {
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtK = (n: number): string => (n >= 1000 ? `${(n / 1000).toLocaleString('en-US')}k` : String(n));
const fmtMs = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x}" y="${y}" ${attrs}>${esc(s)}</text>`;
}

function grid(axisMax: number, step: number, y0: number, y1: number): string[] {
  const out: string[] = [];
  for (let v = 0; v <= axisMax + 1e-9; v += step) {
    const x = LEFT + (v / axisMax) * PLOT_W;
    out.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y1}" stroke="#e3e6ea" stroke-width="1"/>`);
    out.push(text(x, y1 + 16, fmtK(v), 'text-anchor="middle" class="tick"'));
  }
  return out;
}

function barRow(r: Row, y: number, axisMax: number): string[] {
  const out: string[] = [text(LEFT - 10, y + BAR_H / 2 + 5, r.target, 'text-anchor="end" class="name"')];
  if (r.rps === null) {
    out.push(`<rect x="${LEFT}" y="${y}" width="${PLOT_W}" height="${BAR_H}" fill="#f6f7f8" stroke="#c4c9cf" stroke-dasharray="4 3"/>`);
    const msg = (r.error ?? 'no result').split('\n')[0]!;
    out.push(text(LEFT + 10, y + BAR_H / 2 + 5, msg.length > 90 ? `${msg.slice(0, 87)}...` : msg, 'class="na"'));
    return out;
  }
  const w = Math.max(2, (r.rps / axisMax) * PLOT_W);
  const color = COLORS[r.target] ?? '#555';
  out.push(`<rect x="${LEFT}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" rx="3" fill="${color}"${r.flagged ? ' stroke="#d62828" stroke-width="3"' : ''}/>`);
  const lx = LEFT + w + 8;
  out.push(text(lx, y + 13, `${fmtInt(r.rps)} req/s`, 'class="val"'));
  const parts = [`p50 ${fmtMs(r.p50Ms!)} ms`, `p99 ${fmtMs(r.p99Ms!)} ms`];
  if (r.target !== 'haproxy' && r.ratioToHaproxy !== null) parts.push(`${r.ratioToHaproxy.toFixed(2)}x HAProxy`);
  if (r.cpuUsPerRequest !== null) parts.push(`CPU ${r.cpuUsPerRequest.toFixed(1)} us/req (user ${r.userUsPerRequest!.toFixed(1)})`);
  if (r.errors > 0) parts.push(`${fmtInt(r.errors)} errors${r.flagged ? ' (FLAGGED)' : ''}`);
  out.push(text(lx, y + 28, parts.join(' · '), `class="sub"${r.flagged ? ' fill="#d62828"' : ''}`));
  return out;
}

/** The whole chart as an SVG document. */
export function renderSvg(report: Report): string {
  const rows = report.rows;
  const p = report.params;
  const m = report.machine;
  const maxRps = Math.max(1, ...rows.map((r) => r.rps ?? 0));
  const step = niceStep(maxRps);
  const axisMax = Math.ceil(maxRps / step) * step;
  const plotBottom = TOP + rows.length * (BAR_H + GAP) - GAP + 8;
  const H = plotBottom + 78;
  const body: string[] = [
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    text(20, 30, `Proxy throughput on loopback${report.params.tls ? ', HTTPS ended at the proxy' : ''}${report.params.postBytes > 0 ? `, POSTs of ${report.params.postBytes} bytes` : ''}: requests per second (higher is better)`, 'class="title"'),
    text(20, 52, `${p.wrkCommand}${p.warmupSec ? ` after ${p.warmupSec}s warm-up` : ''} · proxy threads ${p.threads} · ` +
      `${p.rounds > 1 ? `median of ${p.rounds} interleaved rounds` : '1 round'} · 2 nginx hello backends`, 'class="meta"'),
    text(20, 70, `${m.cores} cores (${m.cpuModel}) · node ${m.node} · ${report.timestamp}`, 'class="meta"'),
    ...grid(axisMax, step, TOP - 8, plotBottom),
  ];
  rows.forEach((r, i) => body.push(...barRow(r, TOP + i * (BAR_H + GAP), axisMax)));
  body.push(text(LEFT + PLOT_W / 2, plotBottom + 36, 'requests / s', 'text-anchor="middle" class="tick"'));
  body.push(text(20, H - 14, 'direct = wrk straight at backend #1 (no proxy, one nginx worker); the proxies round-robin over both backends.', 'class="meta"'));
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">
<style>
  .title { font-size: 17px; font-weight: bold; fill: #1c2127; }
  .meta { font-size: 12px; fill: #5c6670; }
  .tick { font-size: 11px; fill: #5c6670; }
  .name { font-size: 14px; font-weight: bold; fill: #1c2127; }
  .val { font-size: 13px; font-weight: bold; fill: #1c2127; }
  .sub { font-size: 11.5px; fill: #3d4650; }
  .na { font-size: 12px; fill: #7a838c; font-style: italic; }
</style>
${body.join('\n')}
</svg>
`;
}
