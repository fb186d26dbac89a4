import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseCommandLine } from '../../src/cli/args.js';
import { ROLE_NAMES } from '../../src/runtime/roles.js';

interface Service {
  image?: string;
  build?: string;
  command: string[];
  network_mode?: string;
  volumes?: string[];
}

const compose = parse(readFileSync(fileURLToPath(new URL('../../../docker-compose.yml', import.meta.url)), 'utf8')) as { services: Record<string, Service> };

test('docker-compose.yml: every weighbridge service has a valid command line, and together they run every role', () => {
  const ours = Object.entries(compose.services).filter(([, s]) => s.build === '.');
  assert.deepEqual(ours.map(([name]) => name).sort(), ['control', 'ingress']);
  const roles = new Set<string>();
  for (const [name, s] of ours) {
    const cli = parseCommandLine(s.command);
    assert.ok(!cli.help && cli.config, name);
    assert.equal(cli.config.bus.nats?.servers[0], 'nats://127.0.0.1:4222', name);
    assert.equal(cli.config.redis?.url, 'redis://127.0.0.1:6379', name);
    for (const r of cli.config.roles) roles.add(r);
  }
  assert.deepEqual([...roles].sort(), [...ROLE_NAMES].sort());
  const ingress = parseCommandLine(compose.services.ingress!.command);
  assert.ok(!ingress.help);
  assert.equal(ingress.config.driver.kind, 'docker');
  assert.ok(compose.services.ingress!.volumes?.includes('/var/run/docker.sock:/var/run/docker.sock'), 'the ingress host starts containers through the socket');
  // The autoscaler runs in the control plane, with the ingress host's workers as its floor.
  const control = parseCommandLine(compose.services.control!.command);
  assert.ok(!control.help && control.config.roles.includes('autoscaler'));
  assert.equal(control.config.autoscaler.minWorkers, ingress.config.driver.kind === 'docker' ? ingress.config.driver.count : NaN);
});

test('docker-compose.yml: host networking everywhere, NATS with JetStream for the leases', () => {
  for (const [name, s] of Object.entries(compose.services)) assert.equal(s.network_mode, 'host', name);
  assert.ok(compose.services.nats!.command.includes('-js'));
});
