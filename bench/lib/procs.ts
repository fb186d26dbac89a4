/**
 * Child processes of the benchmark: spawned in their own process group so that a
 * whole tree (nginx master + workers, node cluster primary + workers) can be
 * signalled at once, and all killed when the benchmark exits for any reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export interface Managed {
  name: string;
  child: ChildProcess;
  /** File that receives the child's stdout and stderr. */
  logFile: string;
  /** Resolves with the exit code (or signal name) when the child ends. */
  exited: Promise<string>;
  /** Set once the child has ended. */
  exitInfo: string | null;
}

const live = new Set<Managed>();

function signalGroup(m: Managed, signal: NodeJS.Signals): void {
  if (m.exitInfo !== null || m.child.pid === undefined) return;
  try {
    process.kill(-m.child.pid, signal);
  } catch {
    try {
      m.child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** Starts `cmd` in a new process group with output going to `logFile`. */
export function startProcess(name: string, cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): Managed {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
  fs.closeSync(fd);
  let resolveExit: (info: string) => void = () => {};
  const exited = new Promise<string>((resolve) => (resolveExit = resolve));
  const m: Managed = { name, child, logFile, exited, exitInfo: null };
  const finish = (info: string): void => {
    if (m.exitInfo !== null) return;
    m.exitInfo = info;
    live.delete(m);
    resolveExit(info);
  };
  child.on('exit', (code, signal) => finish(signal ?? `exit code ${code}`));
  child.on('error', (err) => finish(`failed to start: ${err.message}`));
  live.add(m);
  return m;
}

/** CPU seconds a process group has used so far, split as /proc splits them. */
export interface CpuTimes {
  /** In the processes' own code. */
  userSeconds: number;
  /** In the kernel on their behalf: for a proxy mostly its socket calls, the same work whatever the proxy. */
  systemSeconds: number;
}

/**
 * CPU seconds (every thread) used so far by the live processes of a process group, read from
 * /proc. Comparing proxies by CPU per request is steadier than by throughput on a shared machine
 * whose other tenants take cores away at random.
 */
export function groupCpuTimes(pgid: number): CpuTimes {
  let user = 0;
  let system = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the parenthesised command name: state ppid pgrp ... utime(14) stime(15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid) continue;
    user += Number(fields[11]);
    system += Number(fields[12]);
  }
  return { userSeconds: user / CLOCK_TICKS_PER_SECOND, systemSeconds: system / CLOCK_TICKS_PER_SECOND };
}

/** User plus system seconds. */
export function cpuSeconds(times: CpuTimes): number {
  return times.userSeconds + times.systemSeconds;
}

export function groupCpuSeconds(pgid: number): number {
  return cpuSeconds(groupCpuTimes(pgid));
}

/** USER_HZ, which Linux fixes at 100 for /proc on every architecture it runs benchmarks on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** SIGTERM to the process group, then SIGKILL if it is still there after `graceMs`. */
export async function stopProcess(m: Managed, graceMs = 3000): Promise<void> {
  if (m.exitInfo !== null) return;
  signalGroup(m, 'SIGTERM');
  const timedOut = await Promise.race([
    m.exited.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref()),
  ]);
  if (timedOut) {
    signalGroup(m, 'SIGKILL');
    await m.exited;
  }
  // Workers of the group may outlive the leader by a moment; make sure none stay.
  if (m.child.pid !== undefined) {
    try {
      process.kill(-m.child.pid, 'SIGKILL');
    } catch {
      /* group already empty */
    }
  }
}

/** Synchronous last resort used from exit and signal handlers. */
export function killAllNow(): void {
  for (const m of live) {
    if (m.child.pid === undefined) continue;
    try {
      process.kill(-m.child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

/** The last `lines` lines of a child's log, for error messages. */
export function logTail(m: Managed, lines = 8): string {
  try {
    const text = fs.readFileSync(m.logFile, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Runs `cleanup` once however the process ends: normal exit, uncaught error,
 * SIGINT/SIGTERM/SIGHUP. Children are killed first.
 */
export function installCleanup(cleanup: () => void): void {
  let done = false;
  const runOnce = (): void => {
    if (done) return;
    done = true;
    killAllNow();
    cleanup();
  };
  process.on('exit', runOnce);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: stopping all benchmark processes\n`);
      runOnce();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${err.stack ?? String(err)}\n`);
    runOnce();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    runOnce();
    process.exit(1);
  });
}
