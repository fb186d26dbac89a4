/**
 * The npm `http-proxy` package as a round-robin reverse proxy, for comparison.
 * Run as: node http-proxy-server.js --port P --upstreams http://h:p,http://h:p [--workers N] [--tls-cert F --tls-key F]
 * With N > 1 it forks N node:cluster workers so it gets as many threads as the other proxies.
 */
import cluster from 'node:cluster';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    upstreams: { type: 'string' },
    workers: { type: 'string', default: '1' },
    host: { type: 'string', default: '127.0.0.1' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
});

const port = Number(values.port);
const upstreams = (values.upstreams ?? '').split(',').filter(Boolean);
const workers = Math.max(1, Number(values.workers) || 1);
if (!Number.isInteger(port) || port <= 0 || upstreams.length === 0) {
  console.error('usage: http-proxy-server --port P --upstreams http://127.0.0.1:A,http://127.0.0.1:B [--workers N]');
  process.exit(2);
}

function serve(): void {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128, maxFreeSockets: 128 });
  // xfwd: X-Forwarded-For, -Proto and -Host, the same forwarding work as the other proxies.
  const proxy = httpProxy.createProxyServer({ agent, xfwd: true });
  proxy.on('error', (err, _req, res) => {
    // `res` is a Socket for upgrade errors; only plain responses get a 502.
    if (res instanceof http.ServerResponse && !res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bad gateway: ${err.message}\n`);
    } else {
      res.destroy();
    }
  });
  let next = 0;
  const handler: http.RequestListener = (req, res) => {
    const target = upstreams[next++ % upstreams.length]!;
    proxy.web(req, res, { target });
  };
  // --tls-cert/--tls-key: clients speak HTTPS (xfwd then says X-Forwarded-Proto: https).
  const tls = values['tls-cert'] && values['tls-key'] ? { cert: fs.readFileSync(values['tls-cert']), key: fs.readFileSync(values['tls-key']) } : null;
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  server.keepAliveTimeout = 300_000;
  server.listen(port, values.host, () => {
    if (!cluster.isWorker) console.log(`http-proxy listening on ${values.host}:${port} -> ${upstreams.join(', ')}`);
  });
}

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  console.log(`http-proxy primary: ${workers} workers on ${values.host}:${port} -> ${upstreams.join(', ')}`);
  cluster.on('exit', (w, code, signal) => {
    console.error(`worker ${w.process.pid} exited (${signal ?? code})`);
  });
  const shutdown = (): void => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
} else {
  serve();
}
