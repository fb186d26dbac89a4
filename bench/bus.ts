/**
 * `npm run bench:bus`: the bus's throughput and delivery latency with 1 KiB messages, in-process
 * and over a real nats-server on loopback, and the cost of a control plane fed by 1,000 workers
 * reporting once a second (the CPU share of the process that runs the collector and scorer).
 * Output: a printed table and bench/results/bus.json.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Bus } from '../src/bus/bus.js';
import { InProcessTransport } from '../src/bus/in-process-transport.js';
import type { MessageOf } from '../src/bus/messages.js';
import { NatsTransport } from '../src/bus/nats-transport.js';
import { topics } from '../src/bus/subjects.js';
import { withUsage } from './lib/args.js';
import { freePort, waitForPort } from '../src/drivers/free-port.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { groupCpuSeconds } from './lib/procs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT_DIR = path.join(ROOT, 'bench', 'results');
const THROUGHPUT_MESSAGES = 100_000;
const LATENCY_RATE = 5_000; // messages per second while latency is measured
const LATENCY_SECONDS = 3;
const WORKERS = 1_000;
const CONTROL_SECONDS = 10;

const quiet = (): void => {};
const nowMs = (): number => performance.timeOrigin + performance.now();

/** A valid catalogue message of about 1 KiB, stamped with its send time. */
function kibMessage(sequence: number): MessageOf<'ingress.stats'> {
  const workers = Array.from({ length: 5 }, (_, i) => ({
    id: `worker-${i}-${sequence % 1000}`, address: `127.0.0.1:${30000 + i}`, baseWeight: 1, weight: 1, isDefault: true,
    inflight: i, completed: sequence, errors: 0, bytesIn: sequence * 100, bytesOut: sequence * 2000, busyMs: sequence * 3, ewmaMs: 1.25, p50Ms: 1.5, p99Ms: 9.25,
  }));
  return { type: 'ingress.stats', v: 2, host: 'bench', at: nowMs(), workers };
}

interface Row {
  transport: string;
  messageBytes: number;
  throughputPerSec: number;
  p50Us: number;
  p99Us: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function measureTransport(name: string, pair: { pub: Bus; sub: Bus }): Promise<Row> {
  const topic = topics.ingressStats('bench');
  let received = 0;
  const latencies: number[] = [];
  let recording = false;
  pair.sub.subscribe(topic, (m) => {
    received++;
    if (recording) latencies.push((nowMs() - m.at) * 1000);
  });
  await pair.sub.flush();

  // Throughput: publish as fast as the transport takes it, in slices that let delivery run.
  const t0 = performance.now();
  for (let i = 0; i < THROUGHPUT_MESSAGES; i++) {
    pair.pub.publish(topic, kibMessage(i));
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  await pair.pub.flush();
  while (received < THROUGHPUT_MESSAGES) await new Promise((r) => setTimeout(r, 1));
  const throughputPerSec = THROUGHPUT_MESSAGES / ((performance.now() - t0) / 1000);

  // Latency at a steady rate, well below saturation.
  recording = true;
  const total = LATENCY_RATE * LATENCY_SECONDS;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / LATENCY_RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pair.pub.publish(topic, kibMessage(i));
  }
  await pair.pub.flush();
  while (latencies.length < total) await new Promise((r) => setTimeout(r, 1));
  latencies.sort((a, b) => a - b);
  const messageBytes = Buffer.byteLength(JSON.stringify(kibMessage(0)));
  return { transport: name, messageBytes, throughputPerSec, p50Us: quantile(latencies, 0.5), p99Us: quantile(latencies, 0.99) };
}

/** 1,000 workers' stats once a second into a control-plane process; its CPU share. */
async function controlPlaneCost(natsUrl: string): Promise<{ workers: number; seconds: number; cpuShare: number; statsBytes: number; weightsUpdates: number }> {
  const adminPort = await freePort();
  const cli = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
  const child = spawn(process.execPath, [cli, '--roles', 'collector,scorer', '--nats', natsUrl, '--host-id', 'bench-control', '--admin-port', String(adminPort)], { stdio: 'ignore', detached: true });
  try {
    if (!(await waitForPort('127.0.0.1', adminPort, 15_000))) throw new Error('the control plane did not start');
    const bus = new Bus(await NatsTransport.connect({ servers: [natsUrl] }, quiet), quiet);
    let updates = 0;
    bus.subscribe(topics.weightsUpdated('default'), () => void updates++);
    const stats = (): MessageOf<'ingress.stats'> => ({
      type: 'ingress.stats',
      v: 2,
      host: 'bench-ingress',
      at: Date.now(),
      workers: Array.from({ length: WORKERS }, (_, i) => ({
        id: `worker-${i}`, address: `10.0.${i >> 8}.${i & 255}:8080`, baseWeight: 1, weight: 1, isDefault: true, inflight: i % 7,
        completed: 1000 + i, errors: 0, bytesIn: 1e6 + i, bytesOut: 1e7 + i, busyMs: 5000 + i, ewmaMs: 1 + (i % 11), p50Ms: 1 + (i % 13), p99Ms: 20 + (i % 17),
      })),
    });
    bus.publish(topics.ingressStats('bench-ingress'), stats());
    await new Promise((r) => setTimeout(r, 2_000)); // warm-up
    const pgid = child.pid!;
    const cpu0 = groupCpuSeconds(pgid);
    updates = 0;
    const t0 = Date.now();
    for (let s = 0; s < CONTROL_SECONDS; s++) {
      bus.publish(topics.ingressStats('bench-ingress'), stats());
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const cpuShare = (groupCpuSeconds(pgid) - cpu0) / ((Date.now() - t0) / 1000);
    await bus.close();
    return { workers: WORKERS, seconds: CONTROL_SECONDS, cpuShare, statsBytes: Buffer.byteLength(JSON.stringify(stats())), weightsUpdates: updates };
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function main(): Promise<void> {
  withUsage(`Usage: npm run bench:bus\n  no flags: the in-process bus and a local nats-server (installed from Debian when run as root); bench/results/bus.json`, () =>
    parseArgs({ options: { help: { type: 'boolean', default: false } } }),
  );
  const rows: Row[] = [];
  const local = new InProcessTransport();
  rows.push(await measureTransport('in-process', { pub: new Bus(local, quiet), sub: new Bus(local, quiet) }));
  await local.close();
  const nats = await startNatsServer();
  try {
    const pub = new Bus(await NatsTransport.connect({ servers: [nats.url] }, quiet), quiet);
    const sub = new Bus(await NatsTransport.connect({ servers: [nats.url] }, quiet), quiet);
    rows.push(await measureTransport('nats (loopback)', { pub, sub }));
    await pub.close();
    await sub.close();
    const control = await controlPlaneCost(nats.url);
    const machine = `${os.cpus().length} x ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}`;
    console.log(`weighbridge bench:bus (${machine})`);
    console.log('transport        msg bytes  msgs/s    p50 us   p99 us');
    for (const r of rows) {
      console.log(`${r.transport.padEnd(16)} ${String(r.messageBytes).padStart(9)}  ${Math.round(r.throughputPerSec).toLocaleString('en-US').padStart(8)}  ${r.p50Us.toFixed(0).padStart(7)}  ${r.p99Us.toFixed(0).padStart(7)}`);
    }
    console.log(`(latency measured at ${LATENCY_RATE.toLocaleString('en-US')} msgs/s for ${LATENCY_SECONDS} s; throughput over ${THROUGHPUT_MESSAGES.toLocaleString('en-US')} messages)`);
    console.log(
      `control plane (collector + scorer, own process, NATS): ${control.workers.toLocaleString('en-US')} workers reporting once a second ` +
        `(${Math.round(control.statsBytes / 1024)} KiB per report): ${(control.cpuShare * 100).toFixed(1)}% of one core over ${control.seconds} s, ${control.weightsUpdates} weights updates`,
    );
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const file = path.join(OUT_DIR, 'bus.json');
    fs.writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), machine, rows, controlPlane: control }, null, 2)}\n`);
    console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  } finally {
    await nats.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench:bus failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
