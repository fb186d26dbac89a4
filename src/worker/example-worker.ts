import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { WebSocketServer } from 'ws';

/**
 * The example worker used by `npm start`, the tests and the benchmarks (plain node:http, so the
 * proxy is exercised against a different HTTP implementation than its own):
 *   GET  /                 its worker id
 *   POST /echo             the request body, streamed back
 *   GET  /work?latency_ms=&cpu_ms=&bytes=&status=   simulated work
 *   GET  /stream?chunks=&interval_ms=               a chunked response, one line per interval
 *   GET  /headers          the request line and headers as JSON
 *   GET  /queue?service_ms=   one server, first come first served: each request waits for the
 *                          ones before it, then takes an exponential time of mean service_ms / speed
 *   POST /speed?factor=[&reset=1]   sets speed = SPEED x factor (a worker slowing down, for
 *                          benchmarks); reset=1 also forgets the /queue backlog
 *   WebSocket on any path  echoes every message
 * Environment: PORT (default 3000), HOST (default 127.0.0.1), WORKER_ID (default worker-PORT),
 * SPEED (default 1).
 */

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const id = process.env.WORKER_ID ?? `worker-${port}`;
const FILL = Buffer.alloc(64 * 1024, 'x');

function intParam(url: URL, name: string, max: number): number {
  const value = Number(url.searchParams.get(name) ?? 0);
  return Number.isFinite(value) && value > 0 ? Math.min(Math.floor(value), max) : 0;
}

/** Writes `bytes` bytes of filler, honouring backpressure, then ends. */
function sendFiller(res: ServerResponse, bytes: number): void {
  let left = bytes;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, FILL.length);
      left -= n;
      if (!res.write(n === FILL.length ? FILL : FILL.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

function work(url: URL, res: ServerResponse): void {
  const latency = intParam(url, 'latency_ms', 600_000);
  const cpu = intParam(url, 'cpu_ms', 60_000);
  const bytes = intParam(url, 'bytes', 2 ** 40);
  const status = intParam(url, 'status', 599) || 200;
  setTimeout(() => {
    const until = performance.now() + cpu;
    while (performance.now() < until) {
      // Busy on purpose: simulated CPU work.
    }
    res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': bytes, 'x-worker-id': id });
    sendFiller(res, bytes);
  }, latency);
}

/** The /queue server: when the request now last in line will have been served. */
const baseSpeed = Number(process.env.SPEED ?? 1) > 0 ? Number(process.env.SPEED ?? 1) : 1;
let speed = baseSpeed;
let freeAt = 0;

function queue(url: URL, res: ServerResponse): void {
  const mean = intParam(url, 'service_ms', 60_000) / speed;
  const now = performance.now();
  freeAt = Math.max(freeAt, now) - Math.log(1 - Math.random()) * mean;
  setTimeout(() => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-worker-id': id });
    res.end(`${id}\n`);
  }, freeAt - now);
}

function stream(url: URL, res: ServerResponse): void {
  const chunks = intParam(url, 'chunks', 10_000) || 5;
  const interval = intParam(url, 'interval_ms', 60_000);
  res.writeHead(200, { 'content-type': 'text/plain', 'x-worker-id': id });
  let sent = 0;
  const next = (): void => {
    res.write(`chunk ${sent}\n`);
    if (++sent >= chunks) res.end();
    else setTimeout(next, interval);
  };
  next();
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://worker');
  if (req.method === 'POST' && url.pathname === '/echo') {
    const headers: Record<string, string> = { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', 'x-worker-id': id };
    if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];
    res.writeHead(200, headers);
    req.pipe(res);
    return;
  }
  req.resume();
  if (url.pathname === '/work') return work(url, res);
  if (url.pathname === '/queue') return queue(url, res);
  if (req.method === 'POST' && url.pathname === '/speed') {
    const factor = Number(url.searchParams.get('factor'));
    if (!(factor > 0)) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('factor must be a number above 0\n');
      return;
    }
    speed = baseSpeed * factor;
    if (url.searchParams.get('reset') === '1') freeAt = 0;
    res.writeHead(204);
    res.end();
    return;
  }
  if (url.pathname === '/stream') return stream(url, res);
  if (url.pathname === '/headers') {
    res.writeHead(200, { 'content-type': 'application/json', 'x-worker-id': id });
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'x-worker-id': id });
  res.end(`${id}\n`);
}

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, handle);
const sockets = new WebSocketServer({ server, perMessageDeflate: false });
sockets.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
server.listen(port, host);

function shutdown(): void {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5_000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
