import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import uWS from 'uWebSockets.js';
import { createPolicy } from '../balancing/policies/index.js';
import { RouteTableReader } from '../shared/route-table.js';
import { StatsTable } from '../shared/stats-table.js';
import { WorkerDirectory } from '../shared/worker-directory.js';
import { ProxyExchange, type ExchangeContext } from './proxy-exchange.js';
import { readRequestHead } from './request-head.js';
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
  if (head.headerBytes > maxHeaderBytes) return sendError(res, 431, `request head exceeds ${maxHeaderBytes} bytes`, true);
  if (head.contentLength === -2) return sendError(res, 400, 'invalid Content-Length', true);
  if (maxBodyBytes > 0 && head.contentLength > maxBodyBytes) return sendError(res, 413, `request body exceeds ${maxBodyBytes} bytes`, true);
  if (!ctx.stats.tryAdmit(maxConcurrentRequests)) {
    return sendError(res, 503, `more than ${maxConcurrentRequests} requests in flight`, hasBody, { 'retry-after': '1' });
  }
  const exchange = new ProxyExchange(ctx, res, head);
  res.onAborted(() => exchange.onClientAborted());
  if (exchange.dispatch() && hasBody) res.onData((chunk, isLast) => exchange.onClientData(chunk, isLast));
});

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
    return { threadIndex: data.threadIndex, requests, idleUpstreamConnections: ctx.pools.idleCount(), heapUsedBytes: process.memoryUsage().heapUsed };
  },
  reload(settings) {
    Object.assign(limits, settings.limits);
    Object.assign(timeouts, settings.timeouts);
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
  setImmediate(() => process.exit(code));
}

process.on('uncaughtException', (err) => {
  console.error(`ingress thread ${data.threadIndex}: uncaught error, restarting the thread: ${err.stack ?? err.message}`);
  closeAndExit(1);
});

Comlink.expose(api, nodeEndpoint(parentPort!));
