import { Agent, request } from 'node:http';
import { connect } from 'node:net';

/**
 * The collector's active probe: one GET to a worker that served no traffic in the last interval,
 * so an idle worker's response time is still measured. Keep-alive connections, so the time is
 * the worker's answer, not a TCP handshake.
 */
export class Prober {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });

  constructor(private readonly options: { path: string; timeoutMs: number }) {}

  /** Milliseconds until the whole answer arrived; null on an error, a 5xx, or no whole answer within timeoutMs. */
  probe(host: string, port: number): Promise<number | null> {
    const started = performance.now();
    return new Promise((resolve) => {
      // A deadline for the whole answer: a socket timeout alone would let a worker that trickles
      // its body hold the probe (and a health-check round waiting on it) forever.
      const deadline = setTimeout(() => req.destroy(), this.options.timeoutMs);
      const settle = (ms: number | null): void => {
        clearTimeout(deadline);
        resolve(ms);
      };
      const req = request({ host, port, path: this.options.path, agent: this.agent }, (res) => {
        res.resume();
        res.on('end', () => settle(res.statusCode !== undefined && res.statusCode < 500 ? performance.now() - started : null));
        res.on('error', () => settle(null));
        res.on('close', () => settle(null));
      });
      req.on('error', () => settle(null));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Seed 004's "network delay": how long a TCP connection to the worker takes to open. The kernel
 * answers the handshake, so this is the path to the worker, not its load. Null on failure.
 */
export function connectTime(host: string, port: number, timeoutMs: number): Promise<number | null> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ms: number | null): void => {
      socket.destroy();
      resolve(ms);
    };
    socket.setTimeout(timeoutMs, () => done(null));
    socket.once('connect', () => done(performance.now() - started));
    socket.once('error', () => done(null));
  });
}
