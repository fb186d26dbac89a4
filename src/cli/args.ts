import { parseArgs } from 'node:util';
import { readConfigFile, resolveConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';

export const USAGE = `Usage: weighbridge [options]

  --config FILE        JSON or YAML configuration (see README: Configuration)
  --host ADDR          ingress address (default 0.0.0.0)
  --port N             ingress port (default 8080)
  --admin-port N       admin API port (default 9090)
  --threads N          ingress threads (default: number of cores)
  --policy NAME        weighted-random | round-robin | smooth-weighted-round-robin |
                       least-connections | p2c-peak-ewma | weighted-p2c (default)
  --upstreams URLS     static workers, comma-separated http:// URLs, equal weights
  --workers N          example workers started as local processes (default 3), or containers
                       with --docker-image
  --docker-image IMAGE workers are containers of this local image (the docker driver)
  --min-workers N      the autoscaler's floor for C_default over the cluster (default:
                       --workers); set it on a control host, which runs no workers itself
  --roles LIST         what this process runs, comma-separated (default: all):
                       ingress,collector,scorer,autoscaler,reconciler
  --nats URLS          NATS servers, comma-separated (nats://host:4222); without it the bus is
                       in-process: roles talk only within this process
  --host-id ID         this host's id on the bus (default: hostname-pid)
  --access-log FILE    append a JSON line per request to FILE (SIGUSR2 reopens it)
  --tls-cert FILE      serve HTTPS too, with this PEM certificate (chain) ...
  --tls-key FILE       ... and this PEM key (encrypted: tls.passphrase in the config file)
  --tls-port N         the HTTPS port (default 8443)
  --redis URL          the reconciler's state store (redis://[:password@]host:port[/db], rediss://
                       for TLS: CA and client files go in the config file under redis.tls);
                       without it the state lives in memory
  --help               this text

Flags override the config file.`;

function int(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new ConfigError(`--${flag}: expected a non-negative integer, got "${value}"`);
  return Number(value);
}

export type CliResult = { help: true } | { help: false; config: Config };

/** Parses argv into a validated Config: the file first, then flags on top. */
export function parseCommandLine(argv: readonly string[]): CliResult {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        'admin-port': { type: 'string' },
        threads: { type: 'string' },
        policy: { type: 'string' },
        upstreams: { type: 'string' },
        'access-log': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-port': { type: 'string' },
        workers: { type: 'string' },
        'min-workers': { type: 'string' },
        roles: { type: 'string' },
        nats: { type: 'string' },
        'host-id': { type: 'string' },
        redis: { type: 'string' },
        'docker-image': { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (cause) {
    throw new ConfigError(`${(cause as Error).message}\n\n${USAGE}`, { cause });
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  if (v.upstreams !== undefined && v.workers !== undefined) throw new ConfigError('--upstreams and --workers cannot be combined: choose static upstreams or example workers');
  if (v.upstreams !== undefined && v['docker-image'] !== undefined) throw new ConfigError('--upstreams and --docker-image cannot be combined: choose static upstreams or containers');

  const raw = (v.config !== undefined ? readConfigFile(v.config) : {}) as Record<string, unknown>;
  const port = int('port', v.port);
  const adminPort = int('admin-port', v['admin-port']);
  const threads = int('threads', v.threads);
  const workers = int('workers', v.workers);
  const minWorkersFlag = int('min-workers', v['min-workers']);
  if (minWorkersFlag !== undefined) raw.autoscaler = { ...(raw.autoscaler as object | undefined), minWorkers: minWorkersFlag };
  if (port !== undefined) raw.port = port;
  if (v.host !== undefined) raw.host = v.host;
  if (threads !== undefined) raw.threads = threads;
  if (v.policy !== undefined) raw.policy = v.policy;
  if (v['access-log'] !== undefined) raw.accessLog = v['access-log'];
  const tlsPort = int('tls-port', v['tls-port']);
  if (v['tls-cert'] !== undefined || v['tls-key'] !== undefined || tlsPort !== undefined) {
    const tls = { ...(raw.tls as object | undefined) } as Record<string, unknown>;
    if (v['tls-cert'] !== undefined) tls.certFile = v['tls-cert'];
    if (v['tls-key'] !== undefined) tls.keyFile = v['tls-key'];
    if (tlsPort !== undefined) tls.port = tlsPort;
    raw.tls = tls;
  }
  if (adminPort !== undefined) raw.admin = { ...(raw.admin as object | undefined), port: adminPort };
  if (v.upstreams !== undefined) {
    const urls = v.upstreams.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (urls.length === 0) throw new ConfigError('--upstreams: expected at least one http:// URL');
    raw.driver = { kind: 'static', upstreams: urls.map((url) => ({ url })) };
  }
  const list = (flag: string, value: string): string[] => {
    const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length === 0) throw new ConfigError(`--${flag}: expected a comma-separated list`);
    return items;
  };
  if (v.roles !== undefined) raw.roles = list('roles', v.roles);
  if (v['host-id'] !== undefined) raw.hostId = v['host-id'];
  // Keeps the file's TLS files, if any: the flag names the server.
  if (v.redis !== undefined) raw.redis = typeof raw.redis === 'object' && raw.redis !== null ? { ...raw.redis, url: v.redis } : v.redis;
  if (v.nats !== undefined) {
    const bus = (raw.bus ?? {}) as Record<string, unknown>;
    raw.bus = { ...bus, nats: { ...(bus.nats as object | undefined), servers: list('nats', v.nats) } };
  }
  if (v['docker-image'] !== undefined) {
    const driver = raw.driver as Record<string, unknown> | undefined;
    raw.driver = { ...(driver?.kind === 'docker' ? driver : {}), kind: 'docker', image: v['docker-image'], ...(workers === undefined ? {} : { count: workers }) };
  } else if (workers !== undefined) {
    const driver = raw.driver as Record<string, unknown> | undefined;
    raw.driver = driver?.kind === 'process' || driver?.kind === 'docker' ? { ...driver, count: workers } : { kind: 'process', count: workers };
  }
  return { help: false, config: resolveConfig(raw, v.config ?? 'flags') };
}
