import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parseCommandLine } from '../../src/cli/args.js';
import { readConfigFile, resolveConfig } from '../../src/config/load.js';
import { weightBasis, type ConfigInput } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('config');
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function throwsConfig(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
    assert.equal(err.message, message);
    return true;
  });
}

test('defaults: every field is optional', () => {
  const c = resolveConfig({});
  assert.equal(c.port, 8080);
  assert.equal(c.admin.port, 9090);
  assert.equal(c.policy, 'weighted-p2c');
  assert.equal(c.driver.kind, 'process');
  assert.equal(c.driver.kind === 'process' && c.driver.count, 3);
  assert.ok(c.threads >= 1);
  assert.equal(c.limits.maxConcurrentRequests, 10_000);
});

test('weights follow what the policy needs unless scoring.weightBy says otherwise', () => {
  const basis = (input: ConfigInput): string => weightBasis(resolveConfig(input));
  assert.equal(basis({}), 'process-time', 'the default policy, weighted P2C');
  assert.equal(basis({ policy: 'weighted-random' }), 'score-and-process-time');
  assert.equal(basis({ policy: 'smooth-weighted-round-robin' }), 'score-and-process-time');
  assert.equal(basis({ policy: 'weighted-p2c' }), 'process-time');
  assert.equal(basis({ policy: 'weighted-p2c', scoring: { weightBy: 'score-and-process-time' } }), 'score-and-process-time');
  assert.equal(basis({ scoring: { weightBy: 'process-time' } }), 'process-time');
});

test('exact messages name the offending field', () => {
  throwsConfig(() => resolveConfig({ port: 'eighty' }), 'config: port: Invalid input: expected number, received string');
  throwsConfig(() => resolveConfig({ port: 70000 }), 'config: port: Too big: expected number to be <=65535');
  throwsConfig(() => resolveConfig({ treads: 2 }), 'config: unknown field treads');
  throwsConfig(() => resolveConfig({ limits: { maxBodyByte: 1 } }), 'config: unknown field limits.maxBodyByte');
  throwsConfig(() => resolveConfig({ policy: 'fastest' }), 'config: policy: Invalid option: expected one of "weighted-random"|"round-robin"|"smooth-weighted-round-robin"|"least-connections"|"p2c-peak-ewma"|"weighted-p2c"');
  throwsConfig(
    () => resolveConfig({ driver: { kind: 'static', upstreams: [{ url: 'ftp://x' }] } }),
    'config: driver.upstreams.0.url: must be an http:// URL with a host, an optional port and no path, e.g. http://127.0.0.1:3000',
  );
  throwsConfig(() => resolveConfig({ driver: { kind: 'static', upstreams: [{ url: 'http://a:1', weight: -1 }] } }), 'config: driver.upstreams.0.weight: Too small: expected number to be >=0');
  throwsConfig(() => resolveConfig({ timeouts: { connectMs: 0 } }), 'config: timeouts.connectMs: Too small: expected number to be >=1');
  throwsConfig(() => resolveConfig({ scoring: { states: { low: 80, high: 70 } } }), 'config: scoring.states: low must be below high');
  throwsConfig(() => resolveConfig({ scoring: { weights: { cpu: 0, memory: 0, network: 0, availability: 0 } } }), 'config: scoring.weights: at least one weight must be above 0');
  throwsConfig(() => resolveConfig({ collector: { probe: { path: 'health' } } }), 'config: collector.probe.path: must start with /');
  throwsConfig(() => resolveConfig({ driver: { kind: 'docker', image: 'w:1', network: { mode: 'overlay' } } }), 'config: driver.network.mode: Invalid option: expected one of "host"|"bridge"');
  throwsConfig(() => resolveConfig({ driver: { kind: 'docker', image: 'w:1', readyPath: 'health' } }), 'config: driver.readyPath: must start with /');
  throwsConfig(() => resolveConfig({ redis: { url: 'redis://127.0.0.1:6379', tls: { caFile: 'ca.pem' } } }), 'config: redis: tls files need a rediss:// URL');
  throwsConfig(() => resolveConfig({ redis: 'http://x:6379' }), 'config: redis.url: must be a redis:// or rediss:// (TLS) URL with a host, e.g. redis://:password@10.0.0.5:6379/0');
  throwsConfig(() => resolveConfig({ appId: 'a b' }), 'config: appId: use 1 to 64 letters, digits, - or _');
  throwsConfig(() => resolveConfig({ autoscaler: { scoreHigh: 90, scoreLow: 80 } }), 'config: autoscaler: need scoreCritical <= scoreHigh < scoreLow');
  throwsConfig(() => resolveConfig({ autoscaler: { policy: 'k8s' } }), 'config: autoscaler.policy: Invalid option: expected one of "seed"|"hpa"');
  throwsConfig(() => resolveConfig({ driver: { kind: 'process', count: 12 } }), 'config: autoscaler.maxWorkers: the minimum (autoscaler.minWorkers, or driver.count) exceeds autoscaler.maxWorkers');
});

test('the example file holds the defaults', () => {
  assert.deepEqual(resolveConfig(readConfigFile(fileURLToPath(new URL('../../../weighbridge.example.yaml', import.meta.url)))), resolveConfig({}));
});

test('YAML and JSON files are read; a broken file is one clear error', () => {
  const yaml = file('ok.yaml', 'port: 8181\npolicy: round-robin\ndriver:\n  kind: static\n  upstreams:\n    - url: http://127.0.0.1:3000\n      weight: 3\n');
  const fromYaml = resolveConfig(readConfigFile(yaml));
  assert.equal(fromYaml.port, 8181);
  assert.equal(fromYaml.driver.kind === 'static' && fromYaml.driver.upstreams[0]!.weight, 3);
  const json = file('ok.json', JSON.stringify({ threads: 3 }));
  assert.equal(resolveConfig(readConfigFile(json)).threads, 3);
  assert.throws(() => readConfigFile(file('bad.json', '{"port": ')), /config file .*bad\.json is not valid JSON/);
  assert.throws(() => readConfigFile(file('bad.yaml', 'port: [1, 2')), /config file .*bad\.yaml is not valid YAML/);
  assert.throws(() => readConfigFile(file('list.yaml', '- 1\n- 2\n')), /the top level must be a mapping of fields/);
  assert.throws(() => readConfigFile(join(dir, 'missing.yaml')), /cannot read config file .*missing\.yaml/);
});

test('flags override the file and are validated', () => {
  const path = file('base.yaml', 'port: 8181\nthreads: 4\n');
  const r = parseCommandLine(['--config', path, '--port', '9999', '--upstreams', 'http://127.0.0.1:1,http://127.0.0.1:2']);
  assert.ok(!r.help);
  assert.equal(r.config.port, 9999);
  assert.equal(r.config.threads, 4);
  assert.deepEqual(
    r.config.driver.kind === 'static' && r.config.driver.upstreams.map((u) => [u.url, u.weight]),
    [
      ['http://127.0.0.1:1', 1],
      ['http://127.0.0.1:2', 1],
    ],
  );
  const w = parseCommandLine(['--workers', '5', '--admin-port', '9191']);
  assert.ok(!w.help && w.config.driver.kind === 'process' && w.config.driver.count === 5 && w.config.admin.port === 9191);
  const d = parseCommandLine(['--docker-image', 'img:1', '--workers', '3']);
  assert.ok(!d.help && d.config.driver.kind === 'docker' && d.config.driver.image === 'img:1' && d.config.driver.count === 3);
  assert.throws(() => parseCommandLine(['--docker-image', 'img:1', '--upstreams', 'http://127.0.0.1:1']), /cannot be combined/);
  const floor = parseCommandLine(['--roles', 'autoscaler', '--min-workers', '5']);
  assert.ok(!floor.help && floor.config.autoscaler.minWorkers === 5);
  assert.throws(() => parseCommandLine(['--min-workers', 'two']), /--min-workers: expected a non-negative integer, got "two"/);
  assert.throws(() => parseCommandLine(['--min-workers', '50']), /autoscaler.maxWorkers: the minimum/);
  throwsConfig(() => parseCommandLine(['--port', 'x']), '--port: expected a non-negative integer, got "x"');
  throwsConfig(() => parseCommandLine(['--workers', '2', '--upstreams', 'http://a:1']), '--upstreams and --workers cannot be combined: choose static upstreams or example workers');
  throwsConfig(() => parseCommandLine(['--threads', '0']), 'flags: threads: Too small: expected number to be >=1');
  throwsConfig(() => parseCommandLine(['--upstreams', 'http://a:1/path']), 'flags: driver.upstreams.0.url: must be an http:// URL with a host, an optional port and no path, e.g. http://127.0.0.1:3000');
  assert.throws(() => parseCommandLine(['--bogus']), /Unknown option '--bogus'/);
  assert.deepEqual(parseCommandLine(['--help']), { help: true });
});
