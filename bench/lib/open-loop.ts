/**
 * An open-loop load generator for bench:balance (c): requests arrive on their own schedule
 * (Poisson, or bursty: 1.6x and 0.4x the mean rate in phases of 250 ms on average, as in the
 * simulation), whatever the answers do, so queues build the way they do in front of real users.
 * Latency runs from a request's scheduled arrival to the end of its response, so a generator
 * that falls behind shows up in the figures instead of hiding. Keep-alive connections, as many
 * as the requests in flight need.
 */
import { Agent, request } from 'node:http';
import type { RandomSource } from '../../src/balancing/random.js';

export interface Trace {
  url: string;
  ratePerSec: number;
  /** A rate that changes over the trace (ms since its start -> requests per second); overrides ratePerSec. */
  rateAt?: (atMs: number) => number;
  /** Each request's scheduled time (ms since the trace's start) and latency, for per-window figures. */
  onAnswer?: (atMs: number, latencyMs: number) => void;
  arrivals: 'poisson' | 'bursty';
  durationMs: number;
  random: RandomSource;
  /** Runs once, when half the trace has passed. */
  atHalf?: () => void;
  /** How long answers may still come after the last arrival; later ones count as errors. */
  drainMs: number;
}

export interface TraceResult {
  /** Sorted latencies of the answered requests, ms. */
  latencies: number[];
  /** Failed, not 200, or not answered within drainMs after the trace. */
  errors: number;
}

export async function runTrace(t: Trace): Promise<TraceResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const exp = (mean: number): number => -Math.log(1 - t.random()) * mean;
  const latencies: number[] = [];
  let errors = 0;
  let pending = 0;
  let allSent: () => void = () => {};
  const drained = new Promise<void>((resolve) => (allSent = resolve));
  let sendingDone = false;
  let open = true;
  const settle = (): void => {
    if (--pending === 0 && sendingDone) allSent();
  };
  const send = (scheduledAt: number): void => {
    pending++;
    const req = request(t.url, { agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (!open) return;
        if (res.statusCode === 200) {
          const latency = performance.now() - scheduledAt;
          latencies.push(latency);
          t.onAnswer?.(scheduledAt - start, latency);
        }
        else errors++;
        settle();
      });
    });
    req.on('error', () => {
      if (!open) return;
      errors++;
      settle();
    });
    req.end();
  };

  const start = performance.now();
  const meanGapMs = (at: number): number => 1000 / (t.rateAt ? Math.max(1e-3, t.rateAt(at)) : t.ratePerSec);
  let high = true;
  let nextSwitch = t.arrivals === 'bursty' ? exp(250) : Infinity;
  const gap = (at: number): number => (t.arrivals === 'poisson' ? exp(meanGapMs(at)) : exp(meanGapMs(at) / (high ? 1.6 : 0.4)));
  let next = gap(0);
  let halfDone = false;
  await new Promise<void>((resolve) => {
    // A 1 ms tick sends every request whose time has come; each keeps its scheduled time.
    const tick = setInterval(() => {
      const now = performance.now() - start;
      while (next <= now && next < t.durationMs) {
        while (next >= nextSwitch) {
          high = !high;
          nextSwitch += exp(250);
        }
        send(start + next);
        next += gap(next);
      }
      if (!halfDone && now >= t.durationMs / 2) {
        halfDone = true;
        t.atHalf?.();
      }
      if (now >= t.durationMs) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  sendingDone = true;
  if (pending > 0) await Promise.race([drained, new Promise((r) => setTimeout(r, t.drainMs))]);
  open = false;
  errors += pending;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { latencies, errors };
}
