import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { StateStoreError } from '../errors.js';
import { entryId, type StateStore, type WorkerEntry } from './state-store.js';

/**
 * The state store in Redis (`--redis redis://[:password@]host:port[/db]`, or rediss:// for TLS).
 * Everything lives under weighbridge:<app>: a hash per worker, keyed by md5 of (app, name) as
 * seed 000 section 7 has it, a set indexing them (so listing never scans the keyspace, and never
 * sees another application's keys) and a settings hash holding C_default.
 *
 * Commands fail at once while Redis is down (no offline queue): the reconciler skips that round
 * and tries again, and nothing on the request path waits for Redis. The client reconnects by
 * itself.
 */

const stored = z.strictObject({
  name: z.string().min(1),
  host: z.string().min(1),
  port: z.coerce.number().int().min(1).max(65535),
  image: z.string(),
  category: z.string(),
  score: z.string(),
  state: z.string().min(1),
  updatedAt: z.coerce.number().int().min(0),
});

export interface RedisTlsFiles {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/** The PEM files as TLS options; an unreadable one is a clear error before any connection. */
function tlsOptions(files: RedisTlsFiles): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const read = (what: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new StateStoreError('ERR_STATE_UNAVAILABLE', `redis: cannot read the TLS ${what} ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  const [ca, cert, key] = [read('CA file', files.caFile), read('certificate file', files.certFile), read('key file', files.keyFile)];
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

const AUTH_ERROR = /WRONGPASS|NOAUTH|invalid password|invalid username-password/i;

export class RedisStateStore implements StateStore {
  readonly kind = 'redis';

  private constructor(
    private readonly redis: Redis,
    readonly app: string,
  ) {}

  /** Connects, or fails with one clear error: ERR_STATE_AUTH for credentials, ERR_STATE_UNAVAILABLE otherwise. */
  static async connect(url: string, app: string, options: { timeoutMs?: number; tls?: RedisTlsFiles | undefined } = {}): Promise<RedisStateStore> {
    const timeoutMs = options.timeoutMs ?? 5_000;
    const redis = new Redis(url, {
      // rediss:// alone verifies the server against the system's CAs; given files replace them.
      ...(options.tls === undefined ? {} : { tls: tlsOptions(options.tls) }),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
    });
    let lastError: Error | null = null;
    redis.on('error', (err: Error) => (lastError = err));
    const where = redactedUrl(url);
    try {
      await Promise.race([
        redis.connect(),
        new Promise((_, reject) => setTimeout(() => reject(lastError ?? new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)),
      ]);
      await redis.ping();
    } catch (err) {
      redis.disconnect();
      const cause = lastError ?? (err as Error);
      if (AUTH_ERROR.test(cause.message)) throw new StateStoreError('ERR_STATE_AUTH', `redis ${where}: authentication failed (${cause.message})`, { cause });
      throw new StateStoreError('ERR_STATE_UNAVAILABLE', `redis ${where}: cannot connect (${cause.message})`, { cause });
    }
    return new RedisStateStore(redis, app);
  }

  private key(suffix: string): string {
    return `weighbridge:${this.app}:${suffix}`;
  }

  async list(): Promise<WorkerEntry[]> {
    const ids = await this.call(() => this.redis.smembers(this.key('workers')));
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key(`worker:${id}`));
    const results = (await this.call(() => pipeline.exec())) ?? [];
    const entries: WorkerEntry[] = [];
    for (const [err, hash] of results) {
      if (err) throw new StateStoreError('ERR_STATE_UNAVAILABLE', `redis: ${err.message}`, { cause: err });
      const fields = hash as Record<string, string>;
      if (Object.keys(fields).length === 0) continue; // indexed but gone: removed while listing
      const parsed = stored.safeParse(fields);
      if (!parsed.success) throw new StateStoreError('ERR_STATE_CORRUPT', `redis: a worker entry of ${this.app} is malformed: ${parsed.error.issues[0]?.message}`);
      const e = parsed.data;
      entries.push({ ...e, image: e.image || null, category: e.category || null, score: e.score === '' ? null : Number(e.score) });
    }
    return entries;
  }

  async put(entry: WorkerEntry): Promise<void> {
    const id = entryId(this.app, entry.name);
    const fields = { ...entry, image: entry.image ?? '', category: entry.category ?? '', score: entry.score === null ? '' : String(entry.score) };
    await this.call(() => this.redis.multi().hset(this.key(`worker:${id}`), fields).sadd(this.key('workers'), id).exec());
  }

  async remove(name: string): Promise<void> {
    const id = entryId(this.app, name);
    await this.call(() => this.redis.multi().del(this.key(`worker:${id}`)).srem(this.key('workers'), id).exec());
  }

  async getDefaultCount(): Promise<number | null> {
    const value = await this.call(() => this.redis.hget(this.key('settings'), 'defaultCount'));
    if (value === null) return null;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new StateStoreError('ERR_STATE_CORRUPT', `redis: defaultCount of ${this.app} is not a count: ${value}`);
    return n;
  }

  async setDefaultCount(count: number): Promise<void> {
    await this.call(() => this.redis.hset(this.key('settings'), 'defaultCount', String(count)));
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StateStoreError) throw err;
      throw new StateStoreError('ERR_STATE_UNAVAILABLE', `redis: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** The URL without its password, for messages. */
function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
