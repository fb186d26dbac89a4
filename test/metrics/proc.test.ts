import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { parseProcessCpuTicks, parseResidentBytes, parseSystemCpuTicks, readProcessUsage, readSystemCpuTicks } from '../../src/metrics/proc.js';

test('utime + stime come from after the last parenthesis, whatever the command name holds', () => {
  // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
  const stat = '4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 1 0 99 1000 200';
  assert.equal(parseProcessCpuTicks(stat), 1234 + 567);
  assert.throws(() => parseProcessCpuTicks('garbage'), /unexpected/);
});

test('VmRSS in kB becomes bytes; no VmRSS (a zombie) is 0', () => {
  assert.equal(parseResidentBytes('Name:\tnode\nVmPeak:\t  900 kB\nVmRSS:\t   51200 kB\nThreads:\t7\n'), 51200 * 1024);
  assert.equal(parseResidentBytes('Name:\tzombie\nState:\tZ (zombie)\n'), 0);
});

test('system CPU ticks sum the aggregate cpu line, not the per-core ones', () => {
  const stat = 'cpu  10 20 30 40 50 60 70 0 0 0\ncpu0 5 10 15 20 25 30 35 0 0 0\ncpu1 5 10 15 20 25 30 35 0 0 0\nintr 1\n';
  assert.equal(parseSystemCpuTicks(stat), 280);
});

test('a live process: CPU ticks grow while it spins, and a finished one reads as null', async () => {
  const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 600; while (Date.now() < end); setTimeout(() => {}, 10_000)'], { stdio: 'ignore' });
  try {
    const before = await readProcessUsage(child.pid!);
    const systemBefore = await readSystemCpuTicks();
    assert.ok(before !== null && before.memoryBytes > 1024 * 1024, 'a node process holds more than 1 MiB');
    await new Promise((r) => setTimeout(r, 800));
    const after = await readProcessUsage(child.pid!);
    assert.ok(after!.cpuTicks > before.cpuTicks, `ticks ${before.cpuTicks} -> ${after!.cpuTicks}`);
    assert.ok((await readSystemCpuTicks()) > systemBefore);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  assert.equal(await readProcessUsage(child.pid!), null);
});
