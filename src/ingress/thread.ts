import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import uWS from 'uWebSockets.js';
import { createPolicy } from '../balancing/policies/index.js';
import { RouteTableReader } from '../shared/route-table.js';
import { StatsTable } from '../shared/stats-table.js';
import { WorkerDirectory } from '../shared/worker-directory.js';
import { AccessLog } from './access-log.js';
import { ProxyExchange, type ExchangeContext } from './proxy-exchange.js';
import { readRequestHead, type ClientRequestHead } from './request-head.js';
import { sendError } from './responses.js';
import type { IngressThreadApi, IngressThreadData } from './thread-api.js';
import { UpstreamPools } from './upstream-pools.js';
import { attachWebSocketBridge } from './websocket-bridge.js';

/** An ingress thread: one uWebSockets.js App on the shared port, proxying to the route table's picks. */

const data = workerData as IngressThreadData;
const directory = new WorkerDirectory(data.directory, data.capacity);
const stats = new StatsTable(data.stats, data.capacity, data.threadIndex);
const ctx: ExchangeContext = {
  routes: new RouteTableReader(data.routes, data.capacity, stats),
  policy: createPolicy(data.policy),
  random: Math.random,
  stats,
  pools: new UpstreamPools(directory, data.timeouts, data.limits.maxHeaderBytes * 4),
  limits: data.limits,
  timeouts: data.timeouts,
  accessLog: data.accessLog === null ? null : new AccessLog(data.accessLog, (line) => console.error(`ingress thread ${data.threadIndex}: ${line}`)),
};
// Reloads replace the fields of these objects in place; connections read timeouts at use time.
const { limits, timeouts } = data;
let requests = 0;

const app = uWS.App();
attachWebSocketBridge(app, ctx, { connectMs: data.timeouts.connectMs, idleMs: data.timeouts.idleMs, maxMessageBytes: 16 * 1024 * 1024 });
app.any('/*', (res, req) => {
  requests++;
  const { maxConcurrentRequests, maxHeaderBytes, maxBodyBytes } = limits;
  const head = readRequestHead(req, res);
  const hasBody = head.chunked || head.contentLength > 0;
  if (head.headerBytes > maxHeaderBytes) return refuse(res, head, 431, `request head exceeds ${maxHeaderBytes} bytes`, true);
  if (head.contentLength === -2) return refuse(res, head, 400, 'invalid Content-Length', true);
  if (maxBodyBytes > 0 && head.contentLength > maxBodyBytes) return refuse(res, head, 413, `request body exceeds ${maxBodyBytes} bytes`, true);
  if (!ctx.stats.tryAdmit(maxConcurrentRequests)) {
    return refuse(res, head, 503, `more than ${maxConcurrentRequests} requests in flight`, hasBody, { 'retry-after': '1' });
  }
  const exchange = new ProxyExchange(ctx, res, head);
  res.onAborted(() => exchange.onClientAborted());
  if (exchange.dispatch() && hasBody) res.onData((chunk, isLast) => exchange.onClientData(chunk, isLast));
});

/** Answers a request the ingress turns away before any worker sees it. */
function refuse(res: uWS.HttpResponse, head: ClientRequestHead, status: number, message: string, close: boolean, extraHeaders?: Record<string, string>): void {
  sendError(res, status, message, close, extraHeaders);
  ctx.accessLog?.write({ client: head.client, method: head.method, target: head.target, status, worker: null, durationMs: 0, bytesIn: 0, bytesOut: 0, outcome: 'rejected' });
}

let listenSocket: uWS.us_listen_socket | null = null;

const api: IngressThreadApi = {
  listen() {
    return new Promise((resolve, reject) => {
      app.listen(data.host, data.port, (socket) => {
        if (!socket) return reject(new Error(`ingress thread ${data.threadIndex} cannot listen on ${data.host}:${data.port}`));
        listenSocket = socket;
        resolve(uWS.us_socket_local_port(socket as unknown as uWS.us_socket));
      });
    });
  },
  drain() {
    if (listenSocket !== null) uWS.us_listen_socket_close(listenSocket);
    listenSocket = null;
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
  app.close();
  ctx.pools.closeAll();
  ctx.accessLog?.close();
  setImmediate(() => process.exit(code));
}

process.on('uncaughtException', (err) => {
  console.error(`ingress thread ${data.threadIndex}: uncaught error, restarting the thread: ${err.stack ?? err.message}`);
  closeAndExit(1);
});

Comlink.expose(api, nodeEndpoint(parentPort!));
