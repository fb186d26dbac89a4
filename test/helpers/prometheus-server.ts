import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForPort } from '../../src/drivers/free-port.js';
import { ensureCommand } from './install.js';
import { tempDir } from './temp-dir.js';

export interface PrometheusServer {
  /** An instant query through the HTTP API: each series' labels and value. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  stop(): Promise<void>;
}

/** A real Prometheus of the test's own on an ephemeral loopback port, scraping `targets` every second. */
export async function startPrometheus(targets: string[]): Promise<PrometheusServer> {
  ensureCommand('prometheus', 'prometheus');
  const port = await freePort();
  const dir = tempDir('prometheus');
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: weighbridge
    static_configs:
      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]
`);
  const child = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (!(await waitForPort('127.0.0.1', port, 30_000))) {
    child.kill('SIGKILL');
    throw new Error(`prometheus did not listen on ${port}`);
  }
  return {
    async query(expr) {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      if (body.status !== 'success') throw new Error(`prometheus query ${expr}: ${body.error}`);
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
