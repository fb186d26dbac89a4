import { readFile } from 'node:fs/promises';

/**
 * Linux /proc readers for process workers' resource use (seed 000, section 3.1 inputs). The
 * parsers are pure and take the file text; the readers return null for a process that is gone.
 * CPU times stay in clock ticks: the CPU share divides a process's ticks by the system's, so the
 * tick length cancels out.
 */

/** utime + stime (fields 14 and 15) of /proc/<pid>/stat. The command name may hold spaces and parentheses, so fields count from its last ')'. */
export function parseProcessCpuTicks(stat: string): number {
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is field 3 (state), so field n is fields[n - 3].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (close < 0 || !Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unexpected /proc/<pid>/stat format');
  return utime + stime;
}

/** Resident memory from /proc/<pid>/status (VmRSS, in kB), in bytes; 0 for a process without one (a zombie). */
export function parseResidentBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** All CPU time the system spent, in ticks: the sum of the aggregate "cpu" line of /proc/stat. */
export function parseSystemCpuTicks(stat: string): number {
  const line = /^cpu\s+([\d ]+)$/m.exec(stat);
  if (!line) throw new Error('unexpected /proc/stat format');
  return line[1]!.trim().split(/\s+/).reduce((sum, n) => sum + Number(n), 0);
}

export interface ProcessUsage {
  cpuTicks: number;
  memoryBytes: number;
}

export async function readProcessUsage(pid: number): Promise<ProcessUsage | null> {
  try {
    const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'latin1'), readFile(`/proc/${pid}/status`, 'latin1')]);
    return { cpuTicks: parseProcessCpuTicks(stat), memoryBytes: parseResidentBytes(status) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return null;
    throw err;
  }
}

export async function readSystemCpuTicks(): Promise<number> {
  return parseSystemCpuTicks(await readFile('/proc/stat', 'latin1'));
}
