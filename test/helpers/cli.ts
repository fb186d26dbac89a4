import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, fetchRaw } from './servers.js';

export interface RunningCli {
  child: ChildProcess;
  ingressPort: number;
  /** The HTTPS port, 0 without one. */
  tlsPort: number;
  adminPort: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Runs the weighbridge CLI as a real process and waits for its one-line summary. */
export function startCli(args: string[]): Promise<RunningCli> {
  const child = spawn(process.execPath, [CLI, '--host', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      // A host without the ingress role prints no ingress address (ingressPort 0).
      const m = /(?:ingress http:\/\/[^:]+:(\d+)(?: and https:\/\/[^:]+:(\d+))? .*)?admin http:\/\/[^:]+:(\d+)\//.exec(out);
      if (m) resolve({ child, ingressPort: Number(m[1] ?? 0), tlsPort: Number(m[2] ?? 0), adminPort: Number(m[3]), stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`weighbridge exited with ${code} before starting: ${err}`)));
  });
}

/** Runs the CLI to completion: exit code and output. */
export function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/**
 * Holds the CLI's graceful stop with a slow request (the example worker's /work), sends SIGTERM,
 * then SIGTERM again while it drains; resolves with the signal the process died by.
 */
export async function signalTwiceWhileDraining(cli: RunningCli): Promise<NodeJS.Signals | null> {
  const ended = new Promise<NodeJS.Signals | null>((resolve) => cli.child.once('exit', (_code, signal) => resolve(signal)));
  const slow = fetchRaw(`http://127.0.0.1:${cli.ingressPort}/work?latency_ms=5000`, { agent: false }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));
  cli.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  cli.child.kill('SIGTERM');
  const signal = await ended;
  await slow;
  return signal;
}
