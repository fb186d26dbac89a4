/** Starting and stopping the backends and each proxy under test. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TargetName } from './args.js';
import { haproxyConf, nginxBackendConf, nginxProxyConf, type BenchTls } from './configs.js';
import { freePort, urlFor, waitFor200 } from './net.js';
import { groupCpuTimes, logTail, startProcess, stopProcess, type CpuTimes } from './procs.js';
import type { Tools } from './tools.js';

export interface BenchEnv {
  /** Fresh temp dir for configs, pid files, logs and nginx temp paths. */
  dir: string;
  tools: Tools;
  repoRoot: string;
  /** Threads / worker processes for each proxy. */
  threads: number;
  /** `keepalive` of the NGINX proxy's upstream block. */
  nginxKeepalive: number;
  /** Each proxy ends TLS with this certificate; null: plain HTTP. */
  tls: BenchTls | null;
  /** The NGINX proxy passes WebSocket upgrades (bench:websocket). */
  webSockets?: boolean;
}

/** A fresh self-signed ECDSA P-256 certificate (certbot's default key type) in dir, made with openssl. */
export function makeBenchCert(dir: string): BenchTls {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const pemFile = path.join(dir, 'cert-and-key.pem');
  fs.writeFileSync(pemFile, fs.readFileSync(certFile, 'utf8') + fs.readFileSync(keyFile, 'utf8'));
  return { certFile, keyFile, pemFile };
}

function scheme(env: BenchEnv): 'http' | 'https' {
  return env.tls ? 'https' : 'http';
}

export interface Running {
  name: string;
  url: string;
  /** CPU time its processes used so far; undefined for the no-proxy baseline. */
  cpuTimes?: () => CpuTimes;
  stop(): Promise<void>;
}

/** A target that cannot run on this machine (yet); recorded as "not available: ...". */
export class NotAvailable extends Error {}

const READY_TIMEOUT_MS = 15_000;

/** Where each proxy's TLS is done, in --tls runs. */
const TLS_LIBRARY: Record<Exclude<TargetName, 'direct'>, string> = {
  weighbridge: "uWebSockets.js's BoringSSL",
  'uws-floor': "uWebSockets.js's BoringSSL",
  haproxy: "Debian's OpenSSL 3",
  nginx: "Debian's OpenSSL 3",
  'http-proxy': "node:https, Node's OpenSSL 3",
};

/** What each target measures, printed and saved with the results. */
export function describeTarget(name: TargetName, threads: number, nginxKeepalive: number, tls: boolean): string {
  if (name === 'direct') return `no proxy: wrk straight at backend #1 only (a single nginx worker), the ceiling of one backend${tls ? ', in plain HTTP (the backends have no TLS)' : ''}`;
  const ended = tls ? `; HTTPS from wrk, TLS ended here (${TLS_LIBRARY[name]})` : '';
  switch (name) {
    case 'weighbridge':
      return `weighbridge (dist/src/cli/main.js), --threads ${threads}, its default policy, both backends, X-Forwarded-For/-Proto/-Host added (always on)${ended}`;
    case 'uws-floor':
      return `not a proxy, a reference (bench/lib/uws-floor-server.ts): weighbridge's platform with none of its work, ${threads} uWebSockets.js thread(s) and its upstream sockets, round robin, request line, Host and X-Forwarded-* out, status and body back, no head parsed or forwarded${ended}`;
    case 'haproxy':
      return `HAProxy, nbthread ${threads}, roundrobin over both backends, http-reuse always, X-Forwarded-For/-Proto/-Host added${ended}`;
    case 'nginx':
      return `NGINX proxy, worker_processes ${threads}, both backends, upstream keepalive ${nginxKeepalive}, client Host kept, X-Forwarded-For/-Proto/-Host added${ended}`;
    case 'http-proxy':
      return `npm http-proxy, ${threads > 1 ? `${threads} node:cluster workers` : '1 node process'}, ` +
        `keep-alive agent, round robin over both backends, xfwd (X-Forwarded-For/-Proto/-Host added)${ended}`;
  }
}

/** Spawns a server, waits until `url` answers 200, and stops it again if that fails. */
export async function launch(env: BenchEnv, name: string, cmd: string, args: string[], port: number): Promise<Running> {
  const proc = startProcess(name, cmd, args, path.join(env.dir, `${name}.log`));
  // Backends are plain HTTP; every proxy speaks the bench's scheme.
  const url = urlFor(port, '/', name.startsWith('backend') ? 'http' : scheme(env));
  try {
    await waitFor200(url, READY_TIMEOUT_MS, () => proc.exitInfo === null);
  } catch (err) {
    await stopProcess(proc);
    const tail = logTail(proc);
    const exit = proc.exitInfo && proc.exitInfo !== 'SIGTERM' ? ` [${proc.exitInfo}]` : '';
    throw new Error(`${name}: ${(err as Error).message}${exit}${tail ? `\n${tail}` : ''}`);
  }
  return { name, url, cpuTimes: () => groupCpuTimes(proc.child.pid!), stop: () => stopProcess(proc) };
}

function writeConf(env: BenchEnv, file: string, text: string): string {
  const full = path.join(env.dir, file);
  fs.writeFileSync(full, text);
  return full;
}

async function startNginx(env: BenchEnv, name: string, conf: string, port: number): Promise<Running> {
  const confFile = writeConf(env, `${name}.conf`, conf);
  // -e: startup error log, so nginx never touches /var/log/nginx before reading the config.
  const args = ['-p', `${env.dir}/`, '-c', confFile, '-e', path.join(env.dir, `${name}.error.log`)];
  return launch(env, name, env.tools.nginx, args, port);
}

/** The two origin servers every target ends up at. */
export async function startBackends(env: BenchEnv): Promise<{ ports: number[]; servers: Running[] }> {
  const ports: number[] = [];
  const servers: Running[] = [];
  for (const n of [1, 2]) {
    const port = await freePort();
    const name = `backend${n}`;
    servers.push(await startNginx(env, name, nginxBackendConf(env.dir, name, port), port));
    ports.push(port);
  }
  return { ports, servers };
}

function upstreamList(backendPorts: number[]): string {
  return backendPorts.map((p) => urlFor(p, '')).join(',');
}

async function startWeighbridge(env: BenchEnv, backendPorts: number[]): Promise<Running> {
  const main = path.join(env.repoRoot, 'dist', 'src', 'cli', 'main.js');
  if (!fs.existsSync(main)) throw new NotAvailable(`${path.relative(env.repoRoot, main)} not built yet`);
  const port = await freePort();
  const adminPort = await freePort();
  const args = [
    main,
    '--port', String(port),
    '--admin-port', String(adminPort),
    '--threads', String(env.threads),
    '--upstreams', upstreamList(backendPorts),
  ];
  if (env.tls) {
    // The plain listener gets a port of its own; wrk talks to the TLS one.
    const tlsPort = port;
    args[2] = String(await freePort());
    args.push('--tls-cert', env.tls.certFile, '--tls-key', env.tls.keyFile, '--tls-port', String(tlsPort));
  }
  return launch(env, 'weighbridge', process.execPath, args, port);
}

async function startHaproxy(env: BenchEnv, backendPorts: number[]): Promise<Running> {
  const port = await freePort();
  const confFile = writeConf(env, 'haproxy.cfg', haproxyConf(port, env.threads, backendPorts, env.tls));
  // -db: stay in the foreground, no daemon, so the process group is ours to stop.
  return launch(env, 'haproxy', env.tools.haproxy, ['-db', '-f', confFile], port);
}

async function startNginxProxy(env: BenchEnv, backendPorts: number[]): Promise<Running> {
  const port = await freePort();
  return startNginx(env, 'nginx-proxy', nginxProxyConf(env.dir, port, env.threads, backendPorts, env.nginxKeepalive, env.tls, env.webSockets), port);
}

/**
 * One of the bench's own Node servers (dist/bench/lib/<script>.js), which take --port,
 * --upstreams, their thread count under `threadsFlag`, and --tls-cert/--tls-key.
 */
async function startBenchServer(env: BenchEnv, name: 'uws-floor' | 'http-proxy', script: string, threadsFlag: string, backendPorts: number[]): Promise<Running> {
  const port = await freePort();
  const args = [path.join(env.repoRoot, 'dist', 'bench', 'lib', `${script}.js`), '--port', String(port), '--upstreams', upstreamList(backendPorts), threadsFlag, String(env.threads)];
  if (env.tls) args.push('--tls-cert', env.tls.certFile, '--tls-key', env.tls.keyFile);
  return launch(env, name, process.execPath, args, port);
}

/** Starts one target; `direct` starts nothing and points at backend #1. */
export async function startTarget(name: TargetName, env: BenchEnv, backendPorts: number[]): Promise<Running> {
  switch (name) {
    case 'direct':
      return { name, url: urlFor(backendPorts[0]!), stop: async () => {} };
    case 'weighbridge':
      return startWeighbridge(env, backendPorts);
    case 'uws-floor':
      return startBenchServer(env, 'uws-floor', 'uws-floor-server', '--threads', backendPorts);
    case 'haproxy':
      return startHaproxy(env, backendPorts);
    case 'nginx':
      return startNginxProxy(env, backendPorts);
    case 'http-proxy':
      return startBenchServer(env, 'http-proxy', 'http-proxy-server', '--workers', backendPorts);
  }
}
