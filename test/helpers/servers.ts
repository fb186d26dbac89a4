import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, Agent, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { freePort, waitForPort } from '../../src/drivers/free-port.js';
import { startWeighbridge, type Weighbridge } from '../../src/runtime/weighbridge.js';

export const EXAMPLE_WORKER = fileURLToPath(new URL('../../src/worker/example-worker.js', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A node:http server of the test's own on an ephemeral loopback port. */
export async function startHttpServer(handler: RequestListener): Promise<{ server: Server; url: string; port: number; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ExampleWorker {
  id: string;
  port: number;
  url: string;
  child: ChildProcess;
}

/** Example workers as real child processes on ephemeral loopback ports. */
export async function startExampleWorkers(count: number): Promise<ExampleWorker[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const port = await freePort();
      const id = `w${i + 1}`;
      const child = spawn(process.execPath, [EXAMPLE_WORKER], { env: { ...process.env, PORT: String(port), WORKER_ID: id }, stdio: 'inherit' });
      if (!(await waitForPort('127.0.0.1', port, 10_000))) throw new Error(`example worker ${id} did not start`);
      return { id, port, url: `http://127.0.0.1:${port}`, child };
    }),
  );
}

export function stopProcesses(children: { child: ChildProcess }[]): Promise<void[]> {
  return Promise.all(
    children.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** weighbridge in this process on ephemeral ports, quiet unless a test reads its log. */
export async function startProxy(config: ConfigInput, log: string[] = []): Promise<Weighbridge & { url: string; adminUrl: string; ingressPort: number }> {
  // No slow start unless a test asks: distributions are asserted right after start.
  const resolved = resolveConfig({ host: '127.0.0.1', port: 0, threads: 2, roles: ['ingress'], slowStartMs: 0, ...config, admin: { port: 0, ...config.admin } });
  const wb = await startWeighbridge(resolved, (line) => log.push(line));
  await wb.ready;
  const ingressPort = wb.ingressPort!;
  return Object.assign(wb, { ingressPort, url: `http://127.0.0.1:${ingressPort}`, adminUrl: `http://127.0.0.1:${wb.adminPort}` });
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One request through node's own HTTP client (llhttp), the body collected. */
export function fetchRaw(url: string, options: { method?: string; headers?: Record<string, string | number>; body?: Buffer | string; agent?: Agent | false } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? agent, maxHeaderSize: 1 << 20 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The distinct bodies (trimmed, sorted) of n GETs in a row, each of which must answer 200. */
export async function distinctAnswers(url: string, n: number): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const reply = await fetchRaw(url);
    if (reply.status !== 200) throw new Error(`GET ${url} answered ${reply.status}: ${reply.body.toString()}`);
    seen.add(reply.body.toString().trim());
  }
  return [...seen].sort();
}
