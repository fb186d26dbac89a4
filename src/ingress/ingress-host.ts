import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { assertPortFree, freePort } from '../drivers/free-port.js';
import { StatsTable } from '../shared/stats-table.js';
import type { IngressThreadApi, IngressThreadData, ReloadableSettings, ThreadSnapshot } from './thread-api.js';
import type { TlsFiles } from './tls-files.js';
import { Backoff } from '../util/backoff.js';
import { installPeerCache } from './peer-cache.js';

export type IngressThreadOptions = Omit<IngressThreadData, 'threadIndex'>;

interface ThreadHandle {
  worker: Worker;
  api: Comlink.Remote<IngressThreadApi>;
  /** Settles with the exit code when the thread has exited. */
  exited: Promise<number>;
}

/**
 * A call into a thread that settles with undefined if the thread exits first: comlink would wait
 * for an answer forever, and a stop or a status request during a thread's restart with it.
 */
function callThread<T>(t: ThreadHandle, call: (api: Comlink.Remote<IngressThreadApi>) => Promise<T>): Promise<T | undefined> {
  return Promise.race([call(t.api), t.exited.then(() => undefined)]);
}

const THREAD_FILE = new URL('./thread.js', import.meta.url);

/** A replacement thread's delays; one that ran this long starts again from the first. */
const THREAD_RESTART_BACKOFF_MS = { initial: 100, max: 10_000 };
const THREAD_STABLE_MS = 10_000;

/**
 * The host's ingress threads: N uWebSockets.js Apps on one port. A thread that dies is replaced
 * (its connections are lost; the others keep serving). Driven over comlink.
 */
export class IngressHost {
  private readonly threads: (ThreadHandle | null)[] = [];
  /**
   * Per thread: a replacement that cannot start either (its TLS files gone, say) is retried at
   * doubling intervals, not four times a second for good.
   */
  private readonly restarts: Backoff[] = [];
  /** The host's view of the shared stats table, for giving back what a dead thread left in flight. */
  private readonly stats: StatsTable;
  private stopping = false;
  port = 0;

  private constructor(
    private readonly options: IngressThreadOptions,
    private readonly log: (line: string) => void,
  ) {
    this.stats = new StatsTable(options.stats, options.capacity);
  }

  static async start(options: IngressThreadOptions, count: number, log: (line: string) => void): Promise<IngressHost> {
    const host = new IngressHost(options, log);
    try {
      // uSockets sets SO_REUSEPORT only for a non-zero port, so port 0 is resolved here first.
      // Its threads share the port through SO_REUSEPORT, which would also let them join another
      // process's listener silently; an exclusive probe bind turns that into an error.
      const probeHost = options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
      host.port = options.port !== 0 ? options.port : await freePort(probeHost);
      await assertPortFree(options.host, host.port);
      if (options.tls !== null) {
        // A copy: the caller's object is not the place for the resolved port or reloaded files.
        let tlsPort = options.tls.port;
        // Two free ports asked for in turn may be the same one, as nothing holds the first.
        while (tlsPort === 0 || tlsPort === host.port) tlsPort = await freePort(probeHost);
        host.options.tls = { ...options.tls, port: tlsPort };
        await assertPortFree(options.host, host.options.tls.port);
      }
      const peers = installPeerCache();
      if (!peers.active) log(`client addresses: a getpeername() per request (${peers.reason})`);
      await Promise.all(Array.from({ length: count }, (_, i) => host.spawn(i, host.port)));
    } catch (err) {
      await host.close();
      throw err;
    }
    return host;
  }

  /** The HTTPS port, null without TLS. */
  get tlsPort(): number | null {
    return this.options.tls?.port ?? null;
  }

  get threadCount(): number {
    return this.threads.filter((t) => t !== null).length;
  }

  /** Stops accepting connections on every thread; open connections keep being served. */
  async drain(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.threads.map((t) => t && callThread(t, (api) => api.drain())));
  }

  /** Every live thread's own counters. */
  async snapshot(): Promise<ThreadSnapshot[]> {
    const snapshots = await Promise.all(this.threads.map((t) => t && callThread(t, (api) => api.snapshot())));
    return snapshots.filter((snapshot): snapshot is ThreadSnapshot => snapshot !== null && snapshot !== undefined);
  }

  /** New limits and timeouts for every thread, and for threads started later. */
  async reload(settings: ReloadableSettings): Promise<void> {
    Object.assign(this.options.limits, settings.limits);
    Object.assign(this.options.timeouts, settings.timeouts);
    await Promise.all(this.threads.map((t) => t && callThread(t, (api) => api.reload(settings))));
  }

  /**
   * Every thread serves new TLS connections with these files (checked by the caller), and so does
   * a thread started later; or, if any thread cannot load them, none does and this rejects with
   * the reasons.
   */
  async reloadTls(files: TlsFiles): Promise<void> {
    if (this.options.tls === null) return;
    const prepared = await Promise.allSettled(this.threads.map((t) => t && callThread(t, (api) => api.prepareTls(files))));
    const failed = prepared.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    if (failed.length > 0) {
      await Promise.all(this.threads.map((t) => t && callThread(t, (api) => api.abortTls())));
      throw new Error(failed.join('; '));
    }
    this.options.tls = { ...this.options.tls, certFile: files.certFile, keyFile: files.keyFile, passphrase: files.passphrase, certificates: files.certificates };
    await Promise.all(this.threads.map((t) => t && callThread(t, (api) => api.commitTls())));
  }

  /** Every thread reopens the access log at its path (after log rotation moved the file). */
  async reopenAccessLog(): Promise<void> {
    await Promise.all(this.threads.map((t) => t && callThread(t, (api) => api.reopenAccessLog())));
  }

  /** Ends every thread: each closes its sockets and exits by itself (see thread.ts). */
  async close(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.threads.map(async (t) => {
        if (t === null) return;
        t.api.shutdown().catch(() => undefined);
        await t.exited;
        t.api[Comlink.releaseProxy]();
      }),
    );
    this.threads.fill(null);
  }

  private async spawn(index: number, port: number): Promise<void> {
    const data: IngressThreadData = { ...this.options, port, threadIndex: index };
    const worker = new Worker(THREAD_FILE, { workerData: data, name: `ingress-${index}` });
    const api = Comlink.wrap<IngressThreadApi>(nodeEndpoint(worker));
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    this.threads[index] = { worker, api, exited };
    (this.restarts[index] ??= new Backoff(THREAD_RESTART_BACKOFF_MS, THREAD_STABLE_MS)).started(Date.now());
    worker.on('error', (err) => this.log(`ingress thread ${index} failed: ${err.stack ?? err.message}`));
    worker.on('exit', (code) => {
      if (this.threads[index]?.worker !== worker) return;
      this.threads[index] = null;
      // Thread i writes lane i of the stats table. Its requests will never end now, so they are
      // ended here, before a replacement can write the lane again (and once: a second reclaim
      // would take the replacement's requests).
      const reclaimed = this.stats.reclaimLane(index);
      if (reclaimed > 0) this.log(`ingress thread ${index} left ${reclaimed} requests or WebSockets in flight; gave back their admissions`);
      if (this.stopping) return;
      const delay = this.restarts[index]!.failed(Date.now());
      this.log(`ingress thread ${index} exited with code ${code}; starting a new one in ${delay} ms`);
      setTimeout(() => {
        // A stop that began meanwhile must not find a new thread keeping the process alive.
        if (this.stopping) return;
        this.spawn(index, this.port).catch((err: Error) => this.log(`ingress thread ${index} could not restart: ${err.message}`));
      }, delay);
    });
    const failed = exited.then((code): never => {
      throw new Error(`ingress thread ${index} exited with code ${code} before listening`);
    });
    return Promise.race([api.listen(), failed]);
  }
}
