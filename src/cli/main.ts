#!/usr/bin/env node
import { ConfigError } from '../errors.js';
import { removeCreatedContainers } from '../drivers/docker-driver.js';
import { killSpawnedWorkers } from '../drivers/process-driver.js';
import { startWeighbridge } from '../runtime/weighbridge.js';
import { parseCommandLine, USAGE } from './args.js';

async function main(): Promise<void> {
  let cli;
  try {
    cli = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`weighbridge: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  if (cli.help) {
    console.log(USAGE);
    return;
  }
  const { config } = cli;
  // Set before the start, which may take seconds (workers getting ready): a SIGINT or SIGTERM
  // until the graceful stop is in place, or a second one during it, ends the process at once.
  let stop: ((signal: NodeJS.Signals) => void) | null = null;
  const onStopSignal = (signal: NodeJS.Signals): void => (stop === null ? exitNow(signal) : stop(signal));
  process.on('SIGINT', onStopSignal);
  process.on('SIGTERM', onStopSignal);
  // However it ends (a failed start included), no worker process outlives it.
  process.on('exit', killSpawnedWorkers);
  let reload: (() => void) | null = null;
  process.on('SIGHUP', () => (reload === null ? console.error('weighbridge: SIGHUP while starting: ignored') : reload()));
  const wb = await startWeighbridge(config);
  const d = config.driver;
  const workers = d.kind === 'static' ? `${d.upstreams.length} static upstream(s)` : d.kind === 'docker' ? `${d.count} container(s) of ${d.image}` : `${d.count} example worker process(es)`;
  const bus = config.bus.nats ? `NATS ${config.bus.nats.servers.join(',')}` : 'in-process bus';
  const tlsPort = wb.dataPlane?.ingressTlsPort ?? null;
  const ingress = wb.ingressPort === null ? '' : `ingress http://${config.host}:${wb.ingressPort}${tlsPort === null ? '' : ` and https://${config.host}:${tlsPort}`} (${config.threads} thread(s), ${config.policy}), `;
  console.log(
    `weighbridge: ${ingress}admin http://${config.admin.host}:${wb.adminPort}/api/status, host ${wb.hostId}, roles ${config.roles.join(',')}, ${bus}${wb.ingressPort === null ? '' : `, ${workers}`}`,
  );
  let signalled = false;
  stop = (signal) => {
    if (signalled) {
      console.error(`weighbridge: ${signal} again, exiting now`);
      exitNow(signal);
      return;
    }
    signalled = true;
    console.error(`weighbridge: ${signal}: draining (up to ${config.timeouts.shutdownMs} ms)`);
    // Once exitNow() has begun, it ends the process: the graceful stop, which its removing of the
    // workers may hurry along, must not end it first with an exit code.
    wb.stop().then(
      () => exitingNow || process.exit(0),
      (err: Error) => {
        if (exitingNow) return;
        console.error(`weighbridge: shutdown failed: ${err.stack ?? err.message}`);
        process.exit(1);
      },
    );
  };
  // SIGHUP: read the configuration again; limits, timeouts and the TLS files apply at once, the
  // rest on restart.
  reload = () => {
    let next;
    try {
      const parsed = parseCommandLine(process.argv.slice(2));
      if (parsed.help) return;
      next = parsed.config;
    } catch (err) {
      console.error(`weighbridge: SIGHUP: configuration not reloaded: ${(err as Error).message}`);
      return;
    }
    wb.reload(next).then(
      (restart) =>
        console.error(`weighbridge: SIGHUP: limits and timeouts reloaded${config.tls && next.tls ? ', TLS certificate read again' : ''}${restart.length > 0 ? `; changes to ${restart.join(', ')} need a restart` : ''}`),
      (err: Error) => console.error(`weighbridge: SIGHUP: reload failed: ${err.message}`),
    );
  };
  // SIGUSR2: reopen the access log once log rotation has moved the file away (NGINX uses USR1,
  // which Node reserves for starting its inspector).
  process.on('SIGUSR2', () => {
    wb.dataPlane?.reopenAccessLog().then(
      () => console.error('weighbridge: SIGUSR2: access log reopened'),
      (err: Error) => console.error(`weighbridge: SIGUSR2: access log not reopened: ${err.message}`),
    );
  });
}

/** Set by exitNow(), which then alone ends the process. */
let exitingNow = false;

/** How long an exit now waits for Docker to remove the containers this process started. */
const CONTAINER_REMOVAL_MS = 3_000;

/**
 * Ends the process now, by the signal's own default action: the worker processes and containers
 * it started go first, as the signal reaches neither (processes run in groups of their own,
 * containers under the Docker engine). Not by process.exit(), which aborts the process while
 * ingress threads hold uWS handles. A signal while containers are being removed ends it at once.
 */
function exitNow(signal: NodeJS.Signals): void {
  exitingNow = true;
  const die = (): void => {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  };
  killSpawnedWorkers();
  process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM');
  process.on('SIGINT', die).on('SIGTERM', die);
  void removeCreatedContainers(CONTAINER_REMOVAL_MS).then(die);
}

main().catch((err: Error) => {
  console.error(`weighbridge: ${err.message}`);
  // A file the configuration names that cannot be used (TLS files, the access log) is the
  // configuration's fault, as a bad flag is; anything else (a port in use) is 1.
  process.exit(err instanceof ConfigError ? 2 : 1);
});
