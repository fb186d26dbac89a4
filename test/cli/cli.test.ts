import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, waitForPort } from '../../src/drivers/free-port.js';
import { runCli, signalTwiceWhileDraining, startCli } from '../helpers/cli.js';
import { echoUpload } from '../helpers/echo-upload.js';
import { eventually } from '../helpers/eventually.js';
import { CLI, fetchRaw, startExampleWorkers, stopProcesses } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp-dir.js';

function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Killed workers are reaped by init once their parent has gone, which takes a moment. */
async function gone(pids: number[]): Promise<void> {
  const left = await eventually('the workers to be gone', async () => {
    const running = pids.filter(alive);
    return running.length === 0 ? running : undefined;
  }, 5000).catch(() => pids.filter(alive));
  assert.deepEqual(left, [], 'workers outlived weighbridge');
}

test('with no configuration it starts 3 example workers and answers on the ingress', async () => {
  const cli = await startCli(['--port', '0', '--admin-port', '0']);
  try {
    const ids = new Set<string>();
    // Workers that just became ready ramp up over slowStartMs, so one may get little at first.
    for (let i = 0; i < 300 && ids.size < 3; i++) ids.add((await fetchRaw(`http://127.0.0.1:${cli.ingressPort}/`)).body.toString().trim());
    assert.deepEqual([...ids].sort(), ['worker-1', 'worker-2', 'worker-3']);
    const workers = JSON.parse((await fetchRaw(`http://127.0.0.1:${cli.adminPort}/api/workers`)).body.toString()) as unknown[];
    assert.equal(workers.length, 3);
  } finally {
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 0);
  }
});

test('a bad config file or flag is one clear error naming the field, and nothing starts', async () => {
  const dir = tempDir('cli');
  const port = await freePort();
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, `port: ${port}\nlimits:\n  maxConcurrentRequests: lots\n`);
  const r1 = await runCli(['--config', bad]);
  assert.equal(r1.code, 2);
  assert.equal(r1.stderr.trim(), `weighbridge: ${bad}: limits.maxConcurrentRequests: Invalid input: expected number, received string`);
  assert.equal(await waitForPort('127.0.0.1', port, 300), false, 'something listens after a config error');
  const r2 = await runCli(['--port', String(port), '--threads', 'two']);
  assert.equal(r2.code, 2);
  assert.equal(r2.stderr.trim(), 'weighbridge: --threads: expected a non-negative integer, got "two"');
  const r3 = await runCli(['--config', join(dir, 'nope.yaml')]);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /cannot read config file .*nope\.yaml/);
  // A listen host that is no address: a config error, before any worker starts.
  const r4 = await runCli(['--port', String(port), '--host', '999.1.1.1', '--workers', '1']);
  assert.equal(r4.code, 2);
  assert.match(r4.stderr.trim(), /^weighbridge: host: "999\.1\.1\.1" is neither an IP address nor a name that resolves \([A-Z_]+\)$/);
});

test('a port already in use is a clear error, and the workers it started are stopped', async () => {
  const taken = await startCli(['--port', '0', '--admin-port', '0', '--workers', '1']);
  try {
    const r = await runCli(['--host', '127.0.0.1', '--port', '0', '--admin-port', String(taken.adminPort), '--workers', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /admin API cannot listen on 127\.0\.0\.1:\d+: the port is in use/);
    const r2 = await runCli(['--host', '127.0.0.1', '--port', String(taken.ingressPort), '--admin-port', '0', '--workers', '1']);
    assert.equal(r2.code, 1);
    assert.equal(r2.stderr.trim(), `weighbridge: cannot listen on 127.0.0.1:${taken.ingressPort}: the port is in use`);
  } finally {
    taken.child.kill('SIGTERM');
    await taken.exited;
  }
});

test('SIGTERM lets in-flight requests finish, stops accepting, and stops the workers', async () => {
  const cli = await startCli(['--port', '0', '--admin-port', '0', '--workers', '2']);
  const workerPids = childPids(cli.child.pid!);
  assert.equal(workerPids.length, 2);
  const slow = fetchRaw(`http://127.0.0.1:${cli.ingressPort}/work?latency_ms=800`, { agent: false });
  // Let the slow request reach a worker before the signal.
  for (let i = 0; i < 100; i++) {
    const status = JSON.parse((await fetchRaw(`http://127.0.0.1:${cli.adminPort}/api/status`, { agent: false })).body.toString()) as { requests: { inflight: number } };
    if (status.requests.inflight > 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  cli.child.kill('SIGTERM');
  const reply = await slow;
  assert.equal(reply.status, 200);
  assert.equal(await cli.exited, 0);
  assert.match(cli.stderr(), /SIGTERM: draining/);
  assert.equal(await waitForPort('127.0.0.1', cli.ingressPort, 200), false);
  for (const pid of workerPids) assert.equal(alive(pid), false, `worker ${pid} outlived weighbridge`);
});

test('a second SIGTERM ends the process at once, by the signal, and its workers with it', async () => {
  const cli = await startCli(['--port', '0', '--admin-port', '0', '--workers', '2']);
  const workerPids = childPids(cli.child.pid!);
  assert.equal(workerPids.length, 2);
  // Not SIGABRT: process.exit() with ingress threads holding uWS handles aborted.
  assert.equal(await signalTwiceWhileDraining(cli), 'SIGTERM');
  assert.match(cli.stderr(), /SIGTERM again, exiting now/);
  await gone(workerPids);
});

test('a SIGINT while workers are still starting ends the process and the workers it started', async () => {
  const dir = tempDir('cli-start');
  const config = join(dir, 'slow.json');
  // Workers that take 5 s to listen: the start is still waiting for them.
  const slowWorker = `setTimeout(() => require('node:http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, '127.0.0.1'), 5000)`;
  writeFileSync(config, JSON.stringify({ port: 0, admin: { port: 0 }, driver: { kind: 'process', count: 2, command: [process.execPath, '-e', slowWorker] } }));
  const child = spawn(process.execPath, [CLI, '--host', '127.0.0.1', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const ended = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  let workerPids: number[] = [];
  for (let i = 0; i < 100 && workerPids.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 50));
    workerPids = childPids(child.pid!);
  }
  assert.equal(workerPids.length, 2);
  child.kill('SIGINT');
  assert.equal(await ended, 'SIGINT');
  await gone(workerPids);
});

test('a worker command that cannot be run is retried with backoff, and the start does not wait for it', async () => {
  const dir = tempDir('cli-enoent');
  const config = join(dir, 'enoent.json');
  writeFileSync(config, JSON.stringify({ port: 0, admin: { port: 0 }, driver: { kind: 'process', count: 1, command: [join(dir, 'no-such-worker')], restartBackoffMs: { initial: 100, max: 400 } } }));
  const startedAt = Date.now();
  const cli = await startCli(['--config', config]);
  // It waited out the 15 s ready timeout before, and tried only once.
  assert.ok(Date.now() - startedAt < 10_000, 'the start waited for a worker that cannot start');
  await eventually('three attempts', async () => ((cli.stderr().match(/worker worker-1 could not start: spawn \S+ ENOENT; restarting in \d+ ms/g) ?? []).length >= 3 ? true : undefined));
  cli.child.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});

test('a worker that runs but never listens is killed after readyTimeoutMs and restarted with backoff, and never gets traffic', async () => {
  const dir = tempDir('cli-deaf');
  const config = join(dir, 'deaf.json');
  const command = [process.execPath, '-e', 'setInterval(() => {}, 1000)'];
  writeFileSync(config, JSON.stringify({ port: 0, admin: { port: 0 }, roles: ['ingress'], driver: { kind: 'process', count: 1, command, readyTimeoutMs: 300, restartBackoffMs: { initial: 100, max: 400 } } }));
  const cli = await startCli(['--config', config]);
  try {
    const killed = await eventually('two workers killed and restarted', async () => {
      const pids = [...cli.stderr().matchAll(/worker worker-1 \(pid (\d+)\) did not listen on port \d+ within 300 ms; killing it/g)].map((m) => Number(m[1]));
      const restarted = cli.stderr().match(/worker worker-1 \(pid \d+\) exited with SIGKILL; restarting in \d+ ms/g) ?? [];
      return pids.length >= 2 && restarted.length >= 2 ? pids : undefined;
    });
    for (const pid of killed.slice(0, 2)) assert.throws(() => process.kill(pid, 0), /ESRCH/);
    const reply = await fetchRaw(`http://127.0.0.1:${cli.ingressPort}/`);
    assert.equal(reply.status, 503);
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exited;
  }
});

// uWS 20.30 refuses a Content-Length of 10^9 or more (it reads at most 9 digits), so the
// 1 GiB body goes chunked; sized bodies are covered up to 50 MiB in proxy.test.ts.
// Sized, its Content-Length has the 10 digits uWS.js does not read: the framing check re-frames it.
for (const framing of ['chunked', 'content-length'] as const) test(`a 1 GiB upload (${framing}) echoed back streams through without being held in memory`, async () => {
  const [worker] = await startExampleWorkers(1);
  const accessLog = join(tempDir('echo'), 'access.log');
  const cli = await startCli(['--port', '0', '--admin-port', '0', '--threads', '1', '--upstreams', worker!.url, '--access-log', accessLog]);
  try {
    const total = 1 << 30;
    const echo = await echoUpload(`http://127.0.0.1:${cli.ingressPort}/echo`, total, framing).catch(async (err: Error) => {
      // This failed twice in CI (ECONNRESET after 13 s), never here: what weighbridge saw, for next time.
      await new Promise((r) => setTimeout(r, 1500));
      const status = (await fetchRaw(`http://127.0.0.1:${cli.adminPort}/api/status`).catch(() => null))?.body.toString();
      throw new Error(`${err.message}; stderr: ${cli.stderr()}; access log: ${readFileSync(accessLog, { encoding: 'utf8', flag: 'a+' })}; status: ${status}`);
    });
    assert.equal(echo.receivedBytes, total);
    assert.equal(echo.receivedSha256, echo.sentSha256);
    const status = readFileSync(`/proc/${cli.child.pid}/status`, 'utf8');
    const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]);
    assert.ok(peakKiB < 400 * 1024, `weighbridge peaked at ${Math.round(peakKiB / 1024)} MiB for a 1 GiB body`);
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exited;
    await stopProcesses([worker!]);
  }
});

test('SIGHUP reloads limits from the config file; ingress threads report over the admin API', async () => {
  const dir = tempDir('hup');
  const file = join(dir, 'wb.yaml');
  writeFileSync(file, 'limits:\n  maxBodyBytes: 0\n');
  const cli = await startCli(['--config', file, '--port', '0', '--admin-port', '0', '--workers', '1', '--threads', '2', '--roles', 'ingress']);
  try {
    const post = (): Promise<number> => fetchRaw(`http://127.0.0.1:${cli.ingressPort}/echo`, { method: 'POST', body: 'x'.repeat(100), agent: false }).then((r) => r.status);
    assert.equal(await post(), 200);
    writeFileSync(file, 'limits:\n  maxBodyBytes: 10\npolicy: round-robin\n');
    cli.child.kill('SIGHUP');
    for (let i = 0; i < 200 && !/limits and timeouts reloaded/.test(cli.stderr()); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(cli.stderr(), /SIGHUP: limits and timeouts reloaded; changes to policy need a restart/);
    assert.equal(await post(), 413);
    const threads = JSON.parse((await fetchRaw(`http://127.0.0.1:${cli.adminPort}/api/threads`)).body.toString()) as { threadIndex: number; requests: number }[];
    assert.deepEqual(threads.map((t) => t.threadIndex).sort(), [0, 1]);
    assert.equal(threads.reduce((n, t) => n + t.requests, 0), 2);
  } finally {
    cli.child.kill('SIGTERM');
    await cli.exited;
  }
});
