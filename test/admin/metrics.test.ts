import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { EXPOSITION_CONTENT_TYPE, formatBound, formatExposition, MetricFormatError } from '../../src/admin/prometheus.js';
import { ensureCommand } from '../helpers/install.js';
import { startPrometheus } from '../helpers/prometheus-server.js';
import { fetchRaw, startHttpServer, startProxy } from '../helpers/servers.js';
import { eventually } from '../helpers/eventually.js';

test('the exposition escapes label values and help text, and writes NaN and infinities as the format spells them', () => {
  const text = formatExposition([
    { name: 'a_total', type: 'counter', help: 'back\\slash and\nnewline', samples: [{ labels: { id: 'q"uote\\back\nline' }, value: 3 }] },
    { name: 'b', type: 'gauge', help: 'no samples yet', samples: [] },
    { name: 'c', type: 'gauge', help: 'odd values', samples: [{ value: NaN, labels: { k: 'nan' } }, { value: Infinity, labels: { k: 'inf' } }, { value: -Infinity, labels: { k: 'neg' } }, { value: 0.25 }] },
    { name: 'd_seconds', type: 'histogram', help: 'a histogram', samples: [
      { suffix: '_bucket', labels: { le: formatBound(0.5) }, value: 1 },
      { suffix: '_bucket', labels: { le: formatBound(Infinity) }, value: 2 },
      { suffix: '_sum', value: 3.5 },
      { suffix: '_count', value: 2 },
    ] },
  ]);
  assert.equal(text, [
    '# HELP a_total back\\\\slash and\\nnewline',
    '# TYPE a_total counter',
    'a_total{id="q\\"uote\\\\back\\nline"} 3',
    '# HELP b no samples yet',
    '# TYPE b gauge',
    '# HELP c odd values',
    '# TYPE c gauge',
    'c{k="nan"} NaN',
    'c{k="inf"} +Inf',
    'c{k="neg"} -Inf',
    'c 0.25',
    '# HELP d_seconds a histogram',
    '# TYPE d_seconds histogram',
    'd_seconds_bucket{le="0.5"} 1',
    'd_seconds_bucket{le="+Inf"} 2',
    'd_seconds_sum 3.5',
    'd_seconds_count 2',
    '',
  ].join('\n'));
  // Prometheus's own linter reads it as valid.
  ensureCommand('promtool', 'prometheus');
  execFileSync('promtool', ['check', 'metrics'], { input: text });
});

test('a family that breaks the format is refused with the reason', () => {
  const gauge = (name: string, labels?: Record<string, string>) => ({ name, type: 'gauge' as const, help: 'h', samples: [{ labels, value: 1 }] });
  assert.throws(() => formatExposition([gauge('1st')]), MetricFormatError);
  assert.throws(() => formatExposition([gauge('has-dash')]), /invalid metric name "has-dash"/);
  assert.throws(() => formatExposition([gauge('g', { 'bad-name': 'x' })]), /g: invalid label name "bad-name"/);
  assert.throws(() => formatExposition([gauge('g', { __reserved: 'x' })]), /invalid label name "__reserved"/);
  assert.throws(() => formatExposition([gauge('g'), gauge('g')]), /metric g appears twice/);
  assert.throws(() => formatExposition([{ name: 'requests', type: 'counter', help: 'h', samples: [] }]), /counter requests must end in _total/);
  assert.throws(() => formatExposition([{ name: 'g', type: 'gauge', help: 'h', samples: [{ suffix: '_sum', value: 1 }] }]), /only a histogram's samples/);
  assert.throws(() => formatExposition([{ name: 'h', type: 'histogram', help: 'h', samples: [{ value: 1 }] }]), /only a histogram's samples/);
  assert.throws(() => formatExposition([{ name: 'h', type: 'histogram', help: 'h', samples: [{ suffix: '_bucket', value: 1 }] }]), /an le label belongs on the _bucket samples alone/);
  assert.throws(() => formatExposition([{ name: 'h', type: 'histogram', help: 'h', samples: [{ suffix: '_count', labels: { le: '1' }, value: 1 }] }]), /an le label/);
});

test('a real Prometheus scrapes /metrics: per-worker outcomes, in flight, threads, and a worker id that needs escaping', async () => {
  const worker = await startHttpServer((req, res) => {
    res.statusCode = req.url === '/fail' ? 500 : 200;
    if (req.url === '/slow') setTimeout(() => res.end('x'), 300);
    else res.end('x');
  });
  // Quotes, a backslash and a space: only escaped right do they come back as the same label.
  const id = 'say "hi" \\ there';
  const proxy = await startProxy({ threads: 2, driver: { kind: 'static', upstreams: [{ url: worker.url, id }] } });
  const prometheus = await startPrometheus([`127.0.0.1:${new URL(proxy.adminUrl).port}`]);
  try {
    for (const path of ['/', '/fail', '/', '/slow', '/fail', '/']) await fetchRaw(`${proxy.url}${path}`);
    const direct = await fetchRaw(`${proxy.adminUrl}/metrics`);
    assert.equal(direct.status, 200);
    assert.equal(direct.headers['content-type'], EXPOSITION_CONTENT_TYPE);

    const outcomes = await eventually('the scraped request counts', async () => {
      const series = await prometheus.query('weighbridge_worker_requests_total');
      const byOutcome = Object.fromEntries(series.filter((s) => s.metric.worker === id).map((s) => [s.metric.outcome, s.value]));
      return byOutcome.success === 4 && byOutcome.failure === 2 ? byOutcome : undefined;
    }, 30_000);
    assert.deepEqual(outcomes, { success: 4, failure: 2 });
    const [threads] = await prometheus.query('weighbridge_ingress_threads');
    assert.equal(threads?.value, 2);
    const [inflight] = await prometheus.query('weighbridge_requests_in_flight');
    assert.equal(inflight?.value, 0);
    const state = await prometheus.query('weighbridge_worker_state');
    assert.deepEqual(state.map((s) => [s.metric.worker, s.metric.address, s.metric.state, s.value]), [[id, `127.0.0.1:${worker.port}`, 'ready', 1]]);
    const [up] = await prometheus.query('up{job="weighbridge"}');
    assert.equal(up?.value, 1);
    // Every counted request is in the latency histogram; only the slow one is past 262 ms.
    const value = async (expr: string) => (await prometheus.query(expr))[0]?.value;
    assert.equal(await value('weighbridge_worker_latency_seconds_count'), 6);
    assert.equal(await value('weighbridge_worker_latency_seconds_bucket{le="0.262144"}'), 5);
    assert.equal(await value('weighbridge_worker_latency_seconds_bucket{le="0.524288"}'), 6);
    assert.equal(await value('weighbridge_worker_latency_seconds_bucket{le="+Inf"}'), 6);
    const sum = (await value('weighbridge_worker_latency_seconds_sum'))!;
    assert.ok(sum >= 0.3 && sum < 0.3 + 5 * 0.262144, `sum ${sum}`);
  } finally {
    await prometheus.stop();
    await proxy.stop();
    await worker.close();
  }
});
