import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import uWS from 'uWebSockets.js';
import { createPolicy } from '../balancing/policies/index.js';
import { RouteTableReader } from '../shared/route-table.js';
import { RateTable } from '../shared/rate-table.js';
import { StatsTable } from '../shared/stats-table.js';
import { WorkerDirectory } from '../shared/worker-directory.js';
import { AccessLog } from './access-log.js';
import { ClientAccess, forbiddenMessage } from './client-access.js';
import { ProxyExchange, type ExchangeContext } from './proxy-exchange.js';
import { headerRules, requestLines } from './header-rules.js';
import { hsts } from './hsts.js';
import { httpsLocation } from './https-redirect.js';
import { ClientRateLimiter, rateLimitedMessage } from './rate-limiter.js';
import { readRequestHead, type ClientRequestHead, type Scheme } from './request-head.js';
import { ResponseFields } from './response-fields.js';
import { sendError } from './responses.js';
import { StickySessions } from './sticky.js';
import { TrustedProxies } from './trusted-proxies.js';
import type { IngressThreadApi, IngressThreadData } from './thread-api.js';
import type { KeyPair, TlsFiles } from './tls-files.js';
import { UpstreamPools } from './upstream-pools.js';
import { attachWebSocketBridge, endWebSockets } from './websocket-bridge.js';
import { WorkerQueue } from './worker-queue.js';

/** An ingress thread: one uWebSockets.js App on the shared port, proxying to the route table's picks. */

const data = workerData as IngressThreadData;
const directory = new WorkerDirectory(data.directory, data.capacity);
const stats = new StatsTable(data.stats, data.capacity, data.threadIndex);
const routes = new RouteTableReader(data.routes, data.capacity, stats);
const pools = new UpstreamPools(directory, data.timeouts, data.limits.maxHeaderBytes * 4);
const sticky = data.sticky === null ? null : new StickySessions(data.sticky, routes, pools);
const requestId = data.requestId;
const requestRules = headerRules(data.headers.request);
const ctx: ExchangeContext = {
  routes,
  policy: createPolicy(data.policy),
  random: Math.random,
  stats,
  pools,
  limits: data.limits,
  rates: new ClientRateLimiter(new RateTable(data.rates)),
  access: data.access.allow.length === 0 && data.access.deny.length === 0 ? null : new ClientAccess(data.access.allow, data.access.deny, () => stats.countForbidden()),
  timeouts: data.timeouts,
  queue: new WorkerQueue(stats),
  accessLog: data.accessLog === null ? null : new AccessLog(data.accessLog, (line) => console.error(`ingress thread ${data.threadIndex}: ${line}`)),
  responseFields: new ResponseFields(data.tls?.hsts === undefined ? null : hsts(data.tls.hsts), requestId?.inResponse ? requestId.header : null, sticky, headerRules(data.headers.response)),
  sticky,
  head: {
    stickyCookie: data.sticky?.cookie ?? null,
    requestIdHeader: requestId?.header ?? null,
    keepIncomingRequestId: requestId?.keepIncoming ?? false,
    trustedProxies: data.trustedProxies.length === 0 ? null : new TrustedProxies(data.trustedProxies),
    rules: requestRules,
    setLines: requestLines(requestRules),
  },
  draining: false,
};
// Reloads replace the fields of these objects in place; connections read timeouts at use time.
const { limits, timeouts } = data;
let requests = 0;

const webSocketOptions = { connectMs: data.timeouts.connectMs, idleMs: data.timeouts.idleMs, maxMessageBytes: 16 * 1024 * 1024 };

/** With tls.redirectHttp, the plain App's only route: every request to the same URL over HTTPS. */
function redirectToHttps(res: uWS.HttpResponse, req: uWS.HttpRequest): void {
  requests++;
  const head = readRequestHead(req, res, 'http', ctx.head);
  // The body, if any, is not read: the connection closes after the answer.
  const close = head.chunked || head.contentLength !== -1;
  // A head the proxy would refuse (a control byte in a value, framing it cannot read) is refused here too.
  if (head.invalid !== '') return refuse(res, head, 400, head.invalid, true);
  if (ctx.access !== null && !ctx.access.permits(head.client)) return refuse(res, head, 403, forbiddenMessage(head.client), close);
  const location = httpsLocation(req.getHeader('host'), head.target, data.tls!.port);
  if (location === null) return refuse(res, head, 400, 'a valid Host field is needed for the redirect to HTTPS', close);
  sendError(res, 308, `see ${location}`, close || head.closes, ctx.responseFields.own('http', head.requestId, { location }), head.uwsCloses);
  ctx.accessLog?.write({ client: head.client, method: head.method, scheme: 'http', target: head.target, status: 308, worker: null, durationMs: 0, bytesIn: 0, bytesOut: 0, outcome: 'redirected', requestId: head.requestId });
}

/** Gives an App (plain or TLS) the proxy's routes; the scheme is what X-Forwarded-Proto says. */
function serve(app: uWS.TemplatedApp, scheme: Scheme): uWS.TemplatedApp {
  attachWebSocketBridge(app, ctx, webSocketOptions, scheme);
  app.any('/*', (res, req) => proxy(res, req, scheme));
  return app;
}

function proxy(res: uWS.HttpResponse, req: uWS.HttpRequest, scheme: Scheme): void {
  requests++;
  const { maxConcurrentRequests, maxHeaderBytes, maxBodyBytes } = limits;
  const head = readRequestHead(req, res, scheme, ctx.head);
  const hasBody = head.chunked || head.contentLength > 0;
  if (head.headerBytes > maxHeaderBytes) return refuse(res, head, 431, `request head exceeds ${maxHeaderBytes} bytes`, true);
  if (head.contentLength === -2) return refuse(res, head, 400, 'invalid Content-Length', true);
  if (head.invalid !== '') return refuse(res, head, 400, head.invalid, true);
  if (maxBodyBytes > 0 && head.contentLength > maxBodyBytes) return refuse(res, head, 413, `request body exceeds ${maxBodyBytes} bytes`, true);
  if (ctx.access !== null && !ctx.access.permits(head.client)) return refuse(res, head, 403, forbiddenMessage(head.client), hasBody);
  const wait = ctx.rates.waitSeconds(head.client, limits);
  if (wait > 0) return refuse(res, head, 429, rateLimitedMessage(head.client, limits.clientRequestsPerSecond), hasBody, { 'retry-after': String(wait) });
  if (!ctx.stats.tryAdmit(maxConcurrentRequests)) {
    return refuse(res, head, 503, `more than ${maxConcurrentRequests} requests in flight`, hasBody, { 'retry-after': '1' });
  }
  const exchange = new ProxyExchange(ctx, res, head);
  res.onAborted(() => exchange.onClientAborted());
  if (exchange.dispatch() && hasBody) res.onData((chunk, isLast) => exchange.onClientData(chunk, isLast));
}

const appOptions = (pair: KeyPair): uWS.AppOptions => ({ cert_file_name: pair.certFile, key_file_name: pair.keyFile, ...(pair.passphrase === undefined ? {} : { passphrase: pair.passphrase }) });

/**
 * The TLS App with the proxy's routes, for the default certificate and for each SNI one: uWS
 * keeps a router per server name, so each gets the routes too (a request under a name without
 * them would hang). uWS reads the files itself; checkTlsFiles has said why they would fail, this
 * only names the thread.
 */
function sslApp(files: TlsFiles): uWS.TemplatedApp {
  let app: uWS.TemplatedApp;
  try {
    app = uWS.SSLApp(appOptions(files));
  } catch (err) {
    throw new Error(`ingress thread ${data.threadIndex} cannot load ${files.certFile} and ${files.keyFile}: ${(err as Error).message}`);
  }
  serve(app, 'https');
  for (const pair of files.certificates) {
    // uSockets matches names as sent, and clients send them in lower case.
    const name = pair.serverName.toLowerCase();
    serve(app.addServerName(name, appOptions(pair)).domain(name), 'https');
  }
  return app;
}

function bind(app: uWS.TemplatedApp, port: number): Promise<uWS.us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen(data.host, port, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error(`ingress thread ${data.threadIndex} cannot listen on ${data.host}:${port}`));
    });
  });
}

interface Listener {
  app: uWS.TemplatedApp;
  socket: uWS.us_listen_socket | null;
}

const plain: Listener = { app: data.tls?.redirectHttp ? uWS.App().any('/*', redirectToHttps) : serve(uWS.App(), 'http'), socket: null };
let secure: Listener | null = data.tls === null ? null : { app: sslApp(data.tls), socket: null };
/**
 * TLS Apps a reload replaced: their connections stay open with the session they have, so they are
 * closed only when the thread ends (idle keep-alive connections time out by themselves).
 */
const retired: uWS.TemplatedApp[] = [];
/** A TLS App built by prepareTls, listening only once every thread has built its own (commitTls). */
let pending: uWS.TemplatedApp | null = null;

/** Answers a request the ingress turns away before any worker sees it. */
function refuse(res: uWS.HttpResponse, head: ClientRequestHead, status: number, message: string, close: boolean, extraHeaders?: Record<string, string>): void {
  sendError(res, status, message, close || ctx.draining || head.closes, ctx.responseFields.own(head.scheme, head.requestId, extraHeaders), head.uwsCloses);
  ctx.accessLog?.write({ client: head.client, method: head.method, scheme: head.scheme, target: head.target, status, worker: null, durationMs: 0, bytesIn: 0, bytesOut: 0, outcome: 'rejected', requestId: head.requestId });
}

const api: IngressThreadApi = {
  async listen() {
    plain.socket = await bind(plain.app, data.port);
    if (secure !== null) secure.socket = await bind(secure.app, data.tls!.port);
  },
  prepareTls(files) {
    pending?.close();
    pending = null;
    if (secure === null || ctx.draining) return;
    pending = sslApp(files);
  },
  async commitTls() {
    const next = pending;
    pending = null;
    if (next === null || secure === null || ctx.draining) return;
    // SO_REUSEPORT: the new listener takes its share of new connections before the old one stops.
    const socket = await bind(next, data.tls!.port);
    if (secure.socket !== null) uWS.us_listen_socket_close(secure.socket);
    retired.push(secure.app);
    secure = { app: next, socket };
  },
  abortTls() {
    pending?.close();
    pending = null;
  },
  drain() {
    ctx.draining = true;
    for (const listener of [plain, secure]) {
      if (listener?.socket) uWS.us_listen_socket_close(listener.socket);
      if (listener) listener.socket = null;
    }
    endWebSockets();
  },
  shutdown() {
    closeAndExit(0);
  },
  snapshot() {
    return {
      threadIndex: data.threadIndex,
      requests,
      idleUpstreamConnections: ctx.pools.idleCount(),
      heapUsedBytes: process.memoryUsage().heapUsed,
      accessLogDroppedLines: ctx.accessLog?.droppedLines ?? 0,
    };
  },
  reload(settings) {
    Object.assign(limits, settings.limits);
    Object.assign(timeouts, settings.timeouts);
    // A raised or lifted maxRequestsPerWorker makes room no request leaving a worker announces.
    ctx.queue.drain();
  },
  reopenAccessLog() {
    ctx.accessLog?.reopen();
  },
};

/**
 * A worker thread must close every uWS socket before it ends: Node aborts the whole process if a
 * thread's loop still has uWS handles when it is torn down. So the thread ends itself, never by
 * terminate(), and an uncaught error takes the same path (the host then starts a new thread).
 */
function closeAndExit(code: number): void {
  for (const app of [plain.app, secure?.app, pending, ...retired]) app?.close();
  ctx.pools.closeAll();
  ctx.accessLog?.close();
  setImmediate(() => process.exit(code));
}

process.on('uncaughtException', (err) => {
  console.error(`ingress thread ${data.threadIndex}: uncaught error, restarting the thread: ${err.stack ?? err.message}`);
  closeAndExit(1);
});

Comlink.expose(api, nodeEndpoint(parentPort!));
