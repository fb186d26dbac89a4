/**
 * The Prometheus text exposition format (version 0.0.4), written by hand: prom-client keeps its
 * own registry of metrics that code increments, while every figure here already exists (in the
 * shared stats table, the registry, the bus) and is read once per scrape.
 */

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface Sample {
  /** A histogram's samples are its `_bucket` (with an `le` label), `_sum` and `_count` series. */
  suffix?: '_bucket' | '_sum' | '_count';
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export interface MetricFamily {
  /** Counters end in `_total`, as the OpenMetrics convention asks. */
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: readonly Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The text of an `le` label: the format spells infinity +Inf. */
export const formatBound = (bound: number): string => formatValue(bound);

/** A family that breaks the format's rules: a programming error, caught by the tests. */
export class MetricFormatError extends Error {
  override readonly name = 'MetricFormatError';
}

const escapeHelp = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(family: string, labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return '';
  const pairs = Object.entries(labels);
  if (pairs.length === 0) return '';
  for (const [name] of pairs) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new MetricFormatError(`${family}: invalid label name "${name}"`);
  }
  return `{${pairs.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(',')}}`;
}

/** The families as one exposition: HELP and TYPE lines, then one line per sample. */
export function formatExposition(families: readonly MetricFamily[]): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const f of families) {
    if (!METRIC_NAME.test(f.name)) throw new MetricFormatError(`invalid metric name "${f.name}"`);
    if (seen.has(f.name)) throw new MetricFormatError(`metric ${f.name} appears twice`);
    if (f.type === 'counter' && !f.name.endsWith('_total')) throw new MetricFormatError(`counter ${f.name} must end in _total`);
    seen.add(f.name);
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      if ((s.suffix !== undefined) !== (f.type === 'histogram')) throw new MetricFormatError(`${f.name}: only a histogram's samples, and all of them, have a suffix`);
      if ((s.suffix === '_bucket') !== (s.labels?.le !== undefined)) throw new MetricFormatError(`${f.name}: an le label belongs on the _bucket samples alone`);
      lines.push(`${f.name}${s.suffix ?? ''}${formatLabels(f.name, s.labels)} ${formatValue(s.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
