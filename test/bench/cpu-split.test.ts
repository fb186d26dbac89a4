import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import type { TargetName } from '../../bench/lib/args.js';
import { groupCpuTimes } from '../../bench/lib/procs.js';
import { formatTable } from '../../bench/lib/report.js';
import { buildRows, type Measurement } from '../../bench/lib/results.js';
import type { WrkResult } from '../../bench/lib/wrk.js';

test('a process group that spins in its own code shows the time as user time, not system time', async () => {
  // Spins until it has used 0.5 s of user CPU (by its own count, looked at only now and then: the
  // look is a system call), then waits to be read and killed.
  const spin = 'const t = process.cpuUsage(); let x = 0; while (process.cpuUsage(t).user < 500000) for (let i = 0; i < 1e6; i++) x ^= i; console.log("done", x); setInterval(() => {}, 1000);';
  const child = spawn(process.execPath, ['-e', spin], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await once(child.stdout!, 'data');
    const times = groupCpuTimes(child.pid!);
    // /proc counts in 10 ms ticks; the spin's own count says at least 0.5 s of user time.
    assert.ok(times.userSeconds >= 0.4, `user ${times.userSeconds} s`);
    assert.ok(times.systemSeconds < times.userSeconds, `system ${times.systemSeconds} s, user ${times.userSeconds} s`);
    // A group that does not exist used nothing.
    assert.deepEqual(groupCpuTimes(2 ** 22 + 1), { userSeconds: 0, systemSeconds: 0 });
  } finally {
    process.kill(-child.pid!, 'SIGKILL');
  }
});

const wrk = (rps: number): WrkResult => ({
  requests: rps * 10, rps, p50Ms: 1, p99Ms: 2, socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 }, badStatus: 0, errors: 0,
});
const round = (n: number, rps: number, cpu: number, user: number): Measurement => ({ round: n, ok: true, wrk: wrk(rps), cpuUsPerRequest: cpu, userUsPerRequest: user });

test('bench:proxy rows carry the median user-space CPU per request, and the table prints it', () => {
  const measurements = new Map<TargetName, Measurement[]>([
    ['haproxy', [round(1, 1000, 30, 9), round(2, 1000, 31, 10), round(3, 1000, 29, 8)]],
    ['weighbridge', [round(1, 1000, 34, 13), round(2, 1000, 33, 12.5), round(3, 1000, 40, 18)]],
  ]);
  const rows = buildRows(['haproxy', 'weighbridge'], (t) => t, measurements);
  assert.deepEqual(rows.map((r) => [r.cpuUsPerRequest, r.userUsPerRequest]), [[30, 9], [34, 13]]);
  const [header, , ...lines] = formatTable(rows).split('\n');
  const cells = (line: string): string[] => line.split('|').map((c) => c.trim());
  const at = cells(header!).indexOf('user us/req');
  assert.ok(at > 0, header);
  assert.deepEqual(lines.map((l) => cells(l)[at]), ['9.0', '13.0']);
});
