/**
 * The floor under weighbridge: what uWebSockets.js and Node cost per proxied request before any
 * of weighbridge's own work. The same platform as the ingress (uWS.js Apps in worker threads on
 * one port, the client-address cache, weighbridge's TcpSocket to the backends, writes held to
 * the end of the loop iteration) doing as little as a proxy can: round robin over the backends,
 * the request line, Host and X-Forwarded-For/-Proto/-Host out, the status and body back. It
 * skips what makes a proxy correct: no parsing or checking of either head, no response header
 * forwarded, no stats, timeouts, retries or limits, and it assumes each response is sized and
 * arrives in one read (as the bench backends' do); any other answer gets a 502, which the bench
 * counts as an error. Not a usable proxy: a reference, so that bench:proxy shows how much of
 * weighbridge's gap to HAProxy is weighbridge's and how much is the platform's.
 *
 * Run as: node uws-floor-server.js --port P --upstreams http://h:p,http://h:p [--threads N] [--tls-cert F --tls-key F]
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { installPeerCache } from '../../src/ingress/peer-cache.js';
import { TcpSocket } from '../../src/upstream/tcp-socket.js';

type UWS = typeof import('uWebSockets.js');

interface FloorOptions {
  port: number;
  upstreams: { host: string; port: number }[];
  tls: { cert: string; key: string } | null;
}

function options(): { threads: number; floor: FloorOptions } {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, upstreams: { type: 'string' }, threads: { type: 'string', default: '1' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } },
  });
  const port = Number(values.port);
  const upstreams = (values.upstreams ?? '').split(',').filter(Boolean).map((u) => new URL(u)).map((u) => ({ host: u.hostname, port: Number(u.port) }));
  if (!Number.isInteger(port) || port <= 0 || upstreams.length === 0) {
    console.error('usage: uws-floor-server --port P --upstreams http://127.0.0.1:A,http://127.0.0.1:B [--threads N]');
    process.exit(2);
  }
  const tls = values['tls-cert'] && values['tls-key'] ? { cert: values['tls-cert'], key: values['tls-key'] } : null;
  return { threads: Math.max(1, Number(values.threads) || 1), floor: { port, upstreams, tls } };
}

/** An idle or busy connection to one backend; `waiting` answers the request it carries. */
interface Conn {
  socket: TcpSocket;
  waiting: ((buf: Buffer, n: number) => void) | null;
}

const HEAD_END = Buffer.from('\r\n\r\n');

function serve(o: FloorOptions): void {
  const uWS = createRequire(import.meta.url)('uWebSockets.js') as UWS;
  const readBuffer = Buffer.allocUnsafe(65536);
  const idle: Conn[][] = o.upstreams.map(() => []);
  let next = 0;

  function connection(i: number): Conn {
    const pooled = idle[i]!.pop();
    if (pooled) return pooled;
    const { host, port } = o.upstreams[i]!;
    const conn: Conn = {
      waiting: null,
      socket: new TcpSocket(host, port, readBuffer, {
        onConnect() {},
        onRead(buf, n) {
          const answer = conn.waiting;
          conn.waiting = null;
          idle[i]!.push(conn);
          answer?.(buf, n);
        },
        onEnd() {},
        onDrain() {},
        onClose() {
          const at = idle[i]!.indexOf(conn);
          if (at >= 0) idle[i]!.splice(at, 1);
          conn.waiting?.(readBuffer, 0);
        },
      }),
    };
    return conn;
  }

  const scheme = o.tls ? 'https' : 'http';
  const app = o.tls ? uWS.SSLApp({ cert_file_name: o.tls.cert, key_file_name: o.tls.key }) : uWS.App();
  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod();
    const query = req.getQuery();
    const target = query ? `${req.getUrl()}?${query}` : req.getUrl();
    const host = req.getHeader('host');
    const a = new Uint8Array(res.getRemoteAddress());
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const conn = connection(next++ % o.upstreams.length);
    conn.waiting = (buf, n) => {
      if (aborted) return;
      const end = buf.subarray(0, n).indexOf(HEAD_END);
      const head = end < 0 ? '' : buf.toString('latin1', 0, end);
      // Sized and whole, as the bench backends answer; anything else is beyond the floor.
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? -1);
      res.cork(() => {
        if (length < 0 || end + 4 + length !== n) res.writeStatus('502 Bad Gateway').end('uws-floor: not a sized response in one read\n');
        else res.writeStatus(head.slice(9, head.indexOf('\r\n'))).end(buf.subarray(end + 4, n));
      });
    };
    conn.socket.write(`${method} ${target} HTTP/1.1\r\nhost: ${host}\r\nx-forwarded-for: ${a[0]}.${a[1]}.${a[2]}.${a[3]}\r\nx-forwarded-proto: ${scheme}\r\nx-forwarded-host: ${host}\r\n\r\n`);
  });
  app.listen('127.0.0.1', o.port, (socket) => {
    if (!socket) {
      console.error(`uws-floor: cannot listen on 127.0.0.1:${o.port}`);
      process.exit(1);
    }
  });
}

if (isMainThread) {
  const { threads, floor } = options();
  // The platform weighbridge runs on includes its client-address cache.
  installPeerCache();
  for (let i = 0; i < threads; i++) new Worker(new URL(import.meta.url), { workerData: floor });
  console.log(`uws-floor: ${threads} thread(s) on 127.0.0.1:${floor.port}`);
} else {
  serve(workerData as FloorOptions);
}
