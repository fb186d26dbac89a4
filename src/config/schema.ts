import { cpus } from 'node:os';
import { z } from 'zod';
import { POLICY_NAMES } from '../balancing/policies/index.js';
import { parseNetwork } from '../ingress/address-set.js';
import { ROLE_NAMES } from '../runtime/roles.js';
import { WEIGHT_BASES, type WeightBasis } from '../scoring/score-book.js';

/**
 * The configuration file schema (JSON or YAML). Every field is optional; DEFAULTS fills the rest.
 * Unknown fields are errors, so a typo never silently falls back to a default.
 */

const port = z.number().int().min(0).max(65535);
/** A DNS name, or a wildcard for one label (RFC 6125 section 6.4.3's common form). */
const SERVER_NAME = /^(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const positiveMs = z.number().int().min(1);
/** Fields the ingress reads, rewrites or frames by itself: a request id under one of these names would clobber it. */
const MANAGED_FIELDS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer', 'expect', 'date', 'cookie', 'set-cookie', 'strict-transport-security', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
/** Visible ASCII with inner spaces or tabs: nothing that could end a header line early. */
const FIELD_VALUE = /^(?:[\x21-\x7e](?:[\x20-\x7e\t]{0,4094}[\x21-\x7e])?)?$/;
/** What the proxy frames or forwards by itself, on each side: rules may not touch them. */
const HOP_AND_FRAMING = ['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer', 'transfer-encoding', 'content-length'];
const REQUEST_MANAGED = new Set([...HOP_AND_FRAMING, 'host', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
const RESPONSE_MANAGED = new Set([...HOP_AND_FRAMING, 'date']);
/** Why `name` cannot be a rule's field name, or null if it can. */
function fieldNameProblem(name: string, managed: ReadonlySet<string>): string | null {
  if (!FIELD_NAME.test(name)) return 'must be a field name: 1 to 64 token characters';
  return managed.has(name.toLowerCase()) ? 'is framed or forwarded by the proxy itself and cannot be set or removed' : null;
}
const fieldName = (managed: ReadonlySet<string>) =>
  z
    .string()
    .superRefine((name, ctx) => {
      const problem = fieldNameProblem(name, managed);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    })
    .transform((name) => name.toLowerCase());
function headerRules(managed: ReadonlySet<string>) {
  return z
    .strictObject({
      set: z
        .record(z.string(), z.string().regex(FIELD_VALUE, 'must be visible ASCII, with spaces or tabs only inside, at most 4096 characters'))
        .superRefine((fields, ctx) => {
          for (const name of Object.keys(fields)) {
            const problem = fieldNameProblem(name, managed);
            if (problem !== null) ctx.addIssue({ code: 'custom', message: problem, path: [name] });
          }
        })
        .transform((fields) => Object.fromEntries(Object.entries(fields).map(([name, value]) => [name.toLowerCase(), value])))
        .default({}),
      remove: z.array(fieldName(managed)).default([]),
    })
    .prefault({});
}
const networks = z.array(z.string().refine((text) => parseNetwork(text) !== null, 'must be an IP address or a network such as 10.0.0.0/8 or fd00::/8')).default([]);
const httpPath = z.string().startsWith('/', 'must start with /').max(2048).default('/');

const upstreamUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' && u.hostname !== '' && (u.pathname === '/' || u.pathname === '') && u.search === '';
  } catch {
    return false;
  }
}, 'must be an http:// URL with a host, an optional port and no path, e.g. http://127.0.0.1:3000');

export const staticUpstreamSchema = z.strictObject({
  url: upstreamUrl,
  weight: z.number().min(0).max(1e9).default(1),
  id: z.string().min(1).max(127).optional(),
});

export const staticDriverSchema = z.strictObject({
  kind: z.literal('static'),
  upstreams: z
    .array(staticUpstreamSchema)
    .min(1)
    .superRefine((list, ctx) => {
      // A worker's id is its id field, else host:port as in the URL. zod runs this even when an
      // element's URL failed its own check, which has reported it already.
      const ids = list.flatMap((u) => {
        try {
          return [u.id ?? new URL(u.url).host];
        } catch {
          return [];
        }
      });
      const twice = ids.find((id, i) => ids.indexOf(id) !== i);
      if (twice !== undefined) ctx.addIssue({ code: 'custom', message: `two upstreams have the id ${twice}; give one an id of its own` });
    }),
});

export const processDriverSchema = z.strictObject({
  kind: z.literal('process'),
  /** argv of the worker; empty means the bundled example worker. */
  command: z.array(z.string().min(1)).default([]),
  count: z.number().int().min(1).max(1000).default(3),
  /** First port; worker i listens on basePort + i. 0 picks free ephemeral ports. */
  basePort: port.default(0),
  weight: z.number().min(0).max(1e9).default(1),
  restartBackoffMs: z.strictObject({ initial: positiveMs.default(200), max: positiveMs.default(10_000) }).default({ initial: 200, max: 10_000 }),
  /** A worker gets traffic once it listens on its port; one that does not within this is killed and restarted with backoff. */
  readyTimeoutMs: positiveMs.default(15_000),
  /** What the collector measures a worker's memory % against (processes have no limit of their own); default: the machine's memory. */
  memoryLimitMb: z.number().int().min(1).optional(),
});

export const dockerDriverSchema = z.strictObject({
  kind: z.literal('docker'),
  /** A local image (nothing is pulled); npm run image:worker builds one of the example worker. */
  image: z.string().min(1).max(256),
  count: z.number().int().min(1).max(1000).default(2),
  weight: z.number().min(0).max(1e9).default(1),
  /** Limits of each container; memory % is measured against memoryMb. */
  cpus: z.number().min(0.01).max(1024).optional(),
  memoryMb: z.number().int().min(6).max(1 << 24).optional(),
  socketPath: z.string().min(1).default('/var/run/docker.sock'),
  /**
   * host: containers share the host's network and listen on 127.0.0.1 at a port the driver picks.
   * bridge: a dedicated bridge network (seed 000, section 6), where each container's name is its
   * DNS name; the ingress reaches a container through a port published on 127.0.0.1 (an ingress on
   * the host), or by its name (an ingress in a container on the same network).
   */
  network: z
    .strictObject({
      mode: z.enum(['host', 'bridge']).default('host'),
      /** The bridge network, created (and removed at stop) when missing; default weighbridge-<appId>. */
      name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'use up to 64 letters, digits, _, . or -').optional(),
      reach: z.enum(['published', 'dns']).default('published'),
      /** The port a worker listens on inside its container on the bridge network. */
      containerPort: port.min(1).default(8000),
    })
    .default({ mode: 'host', reach: 'published', containerPort: 8000 }),
  /** A new container gets traffic once GET readyPath answers (any status below 500), or is removed after readyTimeoutMs. */
  readyPath: httpPath,
  readyTimeoutMs: positiveMs.default(15_000),
});

/** A URL with one of the schemes and a host. */
const serverUrl = (protocols: string[], hint: string) =>
  z.string().refine((s) => {
    try {
      const u = new URL(s);
      return protocols.includes(u.protocol) && u.hostname !== '';
    } catch {
      return false;
    }
  }, hint);

/** PEM files: the CA that signed the server's certificate, and a client certificate and key for mutual TLS. */
const tlsFiles = z.strictObject({ caFile: z.string().min(1).optional(), certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() });

const natsUrl = serverUrl(['nats:', 'tls:'], 'must be a nats:// or tls:// URL with a host, e.g. nats://10.0.0.5:4222');
const redisUrl = serverUrl(['redis:', 'rediss:'], 'must be a redis:// or rediss:// (TLS) URL with a host, e.g. redis://:password@10.0.0.5:6379/0');

export const natsSchema = z.strictObject({
  /** One or more servers of one NATS cluster; the client fails over between them. */
  servers: z.array(natsUrl).min(1),
  user: z.string().min(1).optional(),
  pass: z.string().min(1).optional(),
  token: z.string().min(1).optional(),
  tls: tlsFiles.optional(),
});

export const configSchema = z.strictObject({
  /** This host's id on the bus (letters, digits, - and _); default: hostname and process id. */
  hostId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'use 1 to 64 letters, digits, - or _').optional(),
  /** What this process runs; all of them by default, on the in-process bus. */
  roles: z
    .array(z.enum(ROLE_NAMES))
    .min(1)
    .refine((r) => new Set(r).size === r.length, 'a role is listed twice')
    .default([...ROLE_NAMES]),
  bus: z
    .strictObject({
      /** Absent: the in-process bus (one process). Present: NATS, for roles spread over processes and hosts. */
      nats: natsSchema.optional(),
      /** How often each host announces itself and ingress hosts report their stats. */
      presenceIntervalMs: positiveMs.default(2_000),
      statsIntervalMs: positiveMs.default(1_000),
    })
    .default({ presenceIntervalMs: 2_000, statsIntervalMs: 1_000 }),
  /** Scopes everything kept in the state store, so applications can share one Redis. */
  appId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'use 1 to 64 letters, digits, - or _').default('weighbridge'),
  /** The reconciler's state store; absent: in memory (gone with the process). */
  redis: z
    .preprocess(
      (v) => (typeof v === 'string' ? { url: v } : v),
      z.strictObject({ url: redisUrl, tls: tlsFiles.optional() }).refine((r) => r.tls === undefined || r.url.startsWith('rediss:'), 'tls files need a rediss:// URL'),
    )
    .optional(),
  host: z.string().min(1).default('0.0.0.0'),
  port: port.default(8080),
  threads: z.number().int().min(1).max(256).default(Math.max(1, cpus().length)),
  admin: z.strictObject({ host: z.string().min(1).default('127.0.0.1'), port: port.default(9090) }).default({ host: '127.0.0.1', port: 9090 }),
  /** weighted-p2c by default: it has the best tail latency in bench:balance, and its in-flight counts shed a worker that slows down before any weight update does. */
  policy: z.enum(POLICY_NAMES).default('weighted-p2c'),
  driver: z.discriminatedUnion('kind', [staticDriverSchema, processDriverSchema, dockerDriverSchema]).default({
    kind: 'process',
    command: [],
    count: 3,
    basePort: 0,
    weight: 1,
    restartBackoffMs: { initial: 200, max: 10_000 },
    readyTimeoutMs: 15_000,
  }),
  limits: z
    .strictObject({
      /** Requests in flight across all ingress threads; beyond it, 503 with Retry-After. 0 = no limit. */
      maxConcurrentRequests: z.number().int().min(0).default(10_000),
      /**
       * Requests (and open WebSockets) one worker may have in flight, over this host's threads;
       * beyond it a request waits in a queue for up to timeouts.queueMs. 0 = no limit.
       */
      maxRequestsPerWorker: z.number().int().min(0).max(1_000_000).default(0),
      /** Request body bytes; beyond it, 413. 0 = no limit. */
      maxBodyBytes: z.number().int().min(0).default(0),
      /** Request line plus header bytes; beyond it, 431. */
      maxHeaderBytes: z.number().int().min(256).max(1 << 20).default(16_384),
      /** Table capacity: the most workers a pool may hold. */
      maxWorkers: z.number().int().min(1).max(1 << 20).default(4096),
      /** Requests a second from one client address to this host, over its threads; beyond it, 429 with Retry-After. 0 = no limit. */
      clientRequestsPerSecond: z
        .number()
        .max(1_000_000)
        .refine((rate) => rate === 0 || rate >= 0.001, 'must be 0 (no limit) or at least 0.001 (one request in 1000 s)')
        .default(0),
      /** Requests a client may send at once before the rate applies; 0 = a second's worth. */
      clientBurst: z.number().int().min(0).max(1_000_000).default(0),
    })
    .default({ maxConcurrentRequests: 10_000, maxRequestsPerWorker: 0, maxBodyBytes: 0, maxHeaderBytes: 16_384, maxWorkers: 4096, clientRequestsPerSecond: 0, clientBurst: 0 }),
  /**
   * An HTTPS listener beside the plain one, served by every ingress thread (uWS's SSLApp): TLS ends
   * at the ingress and workers get plain HTTP with X-Forwarded-Proto: https. SIGHUP reads the
   * files again, so a renewed certificate applies to new connections without a restart.
   */
  tls: z
    .strictObject({
      port: port.default(8443),
      /** PEM: the certificate, then any intermediates (the chain clients need). */
      certFile: z.string().min(1),
      /** PEM private key, encrypted with passphrase if one is given. */
      keyFile: z.string().min(1),
      passphrase: z.string().min(1).optional(),
      /** The plain listener answers every request with a 308 to the same URL over HTTPS. */
      redirectHttp: z.boolean().default(false),
      /**
       * Strict-Transport-Security on every HTTPS response (RFC 6797), replacing any a worker sent,
       * as HAProxy's `http-response set-header` would; absent: none is added.
       */
      hsts: z
        .strictObject({
          maxAgeS: z.number().int().min(0).max(2 ** 31 - 1).default(31_536_000),
          includeSubDomains: z.boolean().default(false),
          preload: z.boolean().default(false),
        })
        // What the browsers' preload list accepts (hstspreload.org); anything less would be refused there.
        .refine((h) => !h.preload || (h.includeSubDomains && h.maxAgeS >= 31_536_000), 'preload needs includeSubDomains and a maxAgeS of at least 31536000 (a year)')
        .optional(),
      /** More certificates, each served to clients asking for its server name (SNI); others get the one above. */
      certificates: z
        .array(
          z.strictObject({
            serverName: z
              .string()
              .regex(SERVER_NAME, 'must be a host name such as example.com, or *.example.com')
              // uSockets' server-name tree looks names up by at most 10 labels.
              .refine((name) => name.split('.').length <= 10, 'must have at most 10 labels'),
            certFile: z.string().min(1),
            keyFile: z.string().min(1),
            passphrase: z.string().min(1).optional(),
          }),
        )
        .refine((list) => new Set(list.map((c) => c.serverName.toLowerCase())).size === list.length, 'a serverName is listed twice')
        .default([]),
    })
    .optional(),
  /**
   * Sticky sessions by cookie (HAProxy's `cookie ... insert`, Traefik's sticky cookie): a client
   * keeps going to the worker its cookie names while that worker is in the table.
   */
  stickySessions: z
    .strictObject({
      /** An RFC 9110 token, as RFC 6265 asks of a cookie name. */
      cookie: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/, 'must be 1 to 64 token characters (letters, digits, !#$%&\'*+-.^_`|~)').default('wb_worker'),
      /** RFC 6265's path-value: ASCII without controls or ";". */
      path: z.string().regex(/^\/[\x20-\x3a\x3c-\x7e]{0,1023}$/, 'must start with / and hold only ASCII, no ";" or control characters').default('/'),
      /** 0: a session cookie. */
      maxAgeS: z.number().int().min(0).max(2 ** 31 - 1).default(0),
      httpOnly: z.boolean().default(true),
      /** auto: Secure over HTTPS only (a browser would not keep a Secure cookie set over plain HTTP). */
      secure: z.union([z.literal('auto'), z.boolean()]).default('auto'),
      sameSite: z.enum(['lax', 'strict', 'none']).default('lax'),
      /** Cache-Control: private on the responses that set the cookie (HAProxy's nocache). */
      nocache: z.boolean().default(false),
    })
    // Browsers reject SameSite=None without Secure.
    .refine((s) => s.sameSite !== 'none' || s.secure === true, { message: 'sameSite none needs secure: true (browsers reject it otherwise)', path: ['secure'] })
    .optional(),
  /**
   * Peers whose X-Forwarded-For, -Proto and -Host the ingress believes (a CDN or load balancer in
   * front), as addresses or networks: behind them, the client is the nearest untrusted address in
   * X-Forwarded-For, for the rate limit and the access log.
   */
  trustedProxies: networks,
  /** Clients by address: those in deny are refused (403), and with an allow list, those not in it. */
  access: z.strictObject({ allow: networks, deny: networks }).prefault({}),
  /**
   * Fields set (replacing any of the same name) and removed on the way to the worker, and on its
   * responses on the way back (HAProxy's http-request/http-response set-header and del-header).
   */
  headers: z
    .strictObject({
      request: headerRules(REQUEST_MANAGED),
      response: headerRules(RESPONSE_MANAGED),
    })
    .prefault({}),
  /**
   * A request id on every request (Envoy's x-request-id, HAProxy's unique-id-header): the worker
   * gets it, the access log and, with inResponse, the client too.
   */
  requestId: z
    .strictObject({
      /** Compared as uWS hands names over, in lower case. */
      header: z
        .string()
        .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/, 'must be a field name: 1 to 64 token characters')
        .transform((name) => name.toLowerCase())
        .refine((name) => !MANAGED_FIELDS.has(name), 'must not be a field the ingress reads or writes itself (Host, framing, hop-by-hop, cookies, X-Forwarded-*)')
        .default('x-request-id'),
      /** Keep an id the client sent (1 to 200 of A-Z a-z 0-9 . _ : + / = -); otherwise every request gets a new one. */
      keepIncoming: z.boolean().default(true),
      inResponse: z.boolean().default(true),
    })
    .optional(),
  /** A file every ingress thread appends a JSON line to per request; reopened on SIGUSR2. */
  accessLog: z.string().min(1).optional(),
  /** A worker that becomes ready (new, restarted, readmitted) ramps from 10% to its full weight over this time; 0 = off. */
  slowStartMs: z.number().int().min(0).default(5_000),
  /** Passive outlier detection (Envoy-like): workers failing in a row leave the table for a while. */
  outlierDetection: z
    .strictObject({
      /** Failures in a row (5xx, refused or reset) that eject a worker; 0 turns detection off. */
      consecutiveFailures: z.number().int().min(0).default(5),
      /** The first ejection lasts this long, the n-th n times as long, up to maxEjectionMs. */
      baseEjectionMs: positiveMs.default(10_000),
      maxEjectionMs: positiveMs.default(300_000),
      /** Never more than this share of the workers out at once (and never all). */
      maxEjectedPercent: z.number().min(0).max(100).default(50),
    })
    .default({ consecutiveFailures: 5, baseEjectionMs: 10_000, maxEjectionMs: 300_000, maxEjectedPercent: 50 }),
  /**
   * Active health checks (HAProxy's check with fall and rise): a GET to each of this host's ready
   * workers every intervalMs; unhealthyThreshold failures in a row take a worker out of the table,
   * healthyThreshold passes bring it back. A pass is any answer below 500 within timeoutMs.
   */
  healthCheck: z
    .strictObject({
      enabled: z.boolean().default(false),
      path: httpPath,
      intervalMs: positiveMs.default(2_000),
      timeoutMs: positiveMs.default(1_000),
      unhealthyThreshold: z.number().int().min(1).max(1_000).default(3),
      healthyThreshold: z.number().int().min(1).max(1_000).default(2),
    })
    .prefault({})
    .refine((h) => h.timeoutMs <= h.intervalMs, { message: 'must not exceed intervalMs', path: ['timeoutMs'] }),
  /** The collector's measurements (seed 000, section 3.1 inputs). */
  collector: z
    .strictObject({
      intervalMs: positiveMs.default(1_000),
      /** A GET to each local worker that served nothing in the last interval, so idle workers are measured too. */
      probe: z
        .strictObject({
          enabled: z.boolean().default(true),
          path: httpPath,
          timeoutMs: positiveMs.default(1_000),
        })
        .prefault({}),
    })
    .prefault({}),
  /** The scorer: seed 000 sections 3.1 (scores), 3.3 (categories and states) and 3.5 (weights). */
  scoring: z
    .strictObject({
      /** What a worker's weight follows: its score (seed 000, 3.5), its service rate (seed 004), both multiplied, or auto (by the policy; see weightBasis). */
      weightBy: z.enum([...WEIGHT_BASES, 'auto']).default('auto'),
      /** w_c, w_m, w_n, w_a; relative, so they need not sum to 1. */
      weights: z
        .strictObject({
          cpu: z.number().min(0).default(0.35),
          memory: z.number().min(0).default(0.15),
          network: z.number().min(0).default(0.1),
          availability: z.number().min(0).default(0.4),
        })
        .prefault({})
        .refine((w) => w.cpu + w.memory + w.network + w.availability > 0, 'at least one weight must be above 0'),
      /** Utilization thresholds in percent (utilization = 100 - score), Azure Autoscale's defaults as the paper cites. */
      states: z
        .strictObject({
          low: z.number().min(0).max(100).default(30),
          high: z.number().min(0).max(100).default(70),
          hysteresis: z.number().min(0).max(50).default(5),
          minDwellMs: z.number().int().min(0).default(5_000),
          lowDwellForSundownMs: z.number().int().min(0).default(60_000),
        })
        .prefault({})
        .refine((s) => s.low < s.high, 'low must be below high'),
      /** The availability penalty starts at this multiple of the pool's best response time. */
      thresholdFactor: z.number().min(1).max(100).default(2),
      /** Intervals of response times per worker behind the average, the best time and the trend. */
      historySamples: z.number().int().min(2).max(10_000).default(30),
      /** No weight is computed from a score below this, so a worker at 0 still gets the traffic that shows its recovery. */
      minScore: z.number().min(0).max(100).default(5),
      /** The network sub-score takes a change of rate relative to at least this many MB/s (see networkChangePct). */
      networkFloorMBps: z.number().min(0).max(1e6).default(1),
    })
    .prefault({}),
  /** The autoscaler (seed 000, section 3.4), in scores (0..100, 100 = idle). */
  autoscaler: z
    .strictObject({
      /** seed: seed 000 section 3.4 (the thresholds below); hpa: the Kubernetes HPA's rule, for comparison. */
      policy: z.enum(['seed', 'hpa']).default('seed'),
      hpa: z
        .strictObject({
          /** Target mean utilization (100 - score) per worker. */
          targetUtilization: z.number().min(1).max(100).default(50),
          tolerance: z.number().min(0).max(1).default(0.1),
          stabilizationMs: z.number().int().min(0).default(300_000),
        })
        .prefault({}),
      /** The least C_default may be, counted over the cluster; default: this host's driver.count. */
      minWorkers: z.number().int().min(0).max(100_000).optional(),
      /** C_max. */
      maxWorkers: z.number().int().min(1).max(100_000).default(10),
      /** S: workers started, or sent to Sundown, in one action. */
      step: z.number().int().min(1).max(1_000).default(1),
      /** Scale up when the mean score falls below scoreHigh or any worker's below scoreCritical. */
      scoreHigh: z.number().min(0).max(100).default(40),
      scoreCritical: z.number().min(0).max(100).default(10),
      /** Scale down when the mean score is above scoreLow. */
      scoreLow: z.number().min(0).max(100).default(80),
      /** Least time between two scaling actions, either way. */
      cooldownMs: z.number().int().min(0).default(30_000),
      /** How long a worker in Sundown may take to finish its requests before it is stopped. */
      drainMs: positiveMs.default(30_000),
      /** How long the host asked to start a worker may take (its readiness wait included) before the autoscaler stops waiting. */
      startTimeoutMs: positiveMs.default(60_000),
    })
    .prefault({})
    .refine((a) => a.scoreCritical <= a.scoreHigh && a.scoreHigh < a.scoreLow, 'need scoreCritical <= scoreHigh < scoreLow'),
  timeouts: z
    .strictObject({
      connectMs: positiveMs.default(2_000),
      /** From the request being sent to the response head. */
      responseHeadersMs: positiveMs.default(30_000),
      /** No byte in either direction for this long ends the exchange. */
      idleMs: positiveMs.default(60_000),
      /** Upstream keep-alive connections unused this long are closed. */
      keepAliveMs: positiveMs.default(30_000),
      /** On SIGINT/SIGTERM, in-flight requests get this long to finish. */
      shutdownMs: positiveMs.default(10_000),
      /** How long a request may wait for a worker under limits.maxRequestsPerWorker before a 503. */
      queueMs: positiveMs.default(5_000),
    })
    .default({ connectMs: 2_000, responseHeadersMs: 30_000, idleMs: 60_000, keepAliveMs: 30_000, shutdownMs: 10_000, queueMs: 5_000 }),
})
  .refine((c) => minWorkers(c) <= c.autoscaler.maxWorkers, { message: 'the minimum (autoscaler.minWorkers, or driver.count) exceeds autoscaler.maxWorkers', path: ['autoscaler', 'maxWorkers'] })
  .refine((c) => c.tls === undefined || c.tls.port === 0 || c.tls.port !== c.port, { message: 'must differ from port, the plain HTTP listener', path: ['tls', 'port'] })
  // The id field is the ingress's to write: a rule for it too would send two.
  .refine((c) => c.requestId === undefined || !(Object.hasOwn(c.headers.request.set, c.requestId.header) || c.headers.request.remove.includes(c.requestId.header)), {
    message: "names requestId.header, which the request id sets: leave it to requestId",
    path: ['headers', 'request'],
  })
  .refine((c) => c.requestId === undefined || !c.requestId.inResponse || !(Object.hasOwn(c.headers.response.set, c.requestId.header) || c.headers.response.remove.includes(c.requestId.header)), {
    message: "names requestId.header, which the request id sets with inResponse: leave it to requestId",
    path: ['headers', 'response'],
  });

/** The configured floor of C_default: autoscaler.minWorkers, else the driver's count (0 for static upstreams). */
export function minWorkers(c: { autoscaler: { minWorkers?: number | undefined }; driver: { kind: string; count?: number } }): number {
  return c.autoscaler.minWorkers ?? (c.driver.kind === 'static' ? 0 : (c.driver.count ?? 0));
}

/**
 * The weights the policy needs when scoring.weightBy is auto. Weighted P2C compares (in flight
 * + 1) / weight, the expected wait when the weight is the service rate: service rates alone. A
 * score also falls as a worker is slower (its availability sub-score follows response time), so
 * scores times rates count speed twice and overload the fast workers. Live (bench:balance (c),
 * two rounds each, weighted P2C's p99 against P2C peak EWMA's): Poisson 70% 1.69x and 0.84x with
 * both, 0.75x and 0.85x with rates alone; Poisson 90% 0.95x and 0.81x against 0.83x twice;
 * bursty 70% 0.88x and 1.10x against 0.86x and 0.91x.
 * Every other policy keeps both, as before auto existed. Without in-flight counts to push back,
 * a worker that slowed down loses its traffic only through its weight, and no basis cuts it
 * enough: scores are bounded below (minScore, and sub-scores that stay high) and measured rates
 * flatten on a busy host, so live (Poisson 70%, a worker slowed 10x) weighted random reached a
 * p99 of 14 s with scores alone and 3.2 s with both, smooth WRR 1.8 s with rates alone and
 * 3.2 s with both, each losing requests; nothing there argued for a change.
 */
export function weightBasis(c: { policy: string; scoring: { weightBy: WeightBasis | 'auto' } }): WeightBasis {
  if (c.scoring.weightBy !== 'auto') return c.scoring.weightBy;
  return c.policy === 'weighted-p2c' ? 'process-time' : 'score-and-process-time';
}

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type StaticUpstream = z.output<typeof staticUpstreamSchema>;
export type NatsConfig = z.output<typeof natsSchema>;
