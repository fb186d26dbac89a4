import { createRequire } from 'node:module';
import { loadedUwsBinary } from './uws-binary.js';

/**
 * The client-address cache of native/peer-cache (see peer_cache.c for why and how): installed
 * once per process, before any listener, it makes uWS.js's getRemoteAddress() answer from what
 * accept() returned instead of a getpeername() system call per request.
 *
 * Optional by design: where the addon was not built (no compiler at `npm ci`), or cannot find
 * its way into this uWS.js binary, every request makes the system call as before, with the same
 * answers. `installPeerCache()` says which, for the start-up line and /api/status.
 *
 * Installed, it also checks every client connection's request framing before uWS parses it, and
 * closes one that a strict HTTP/1.1 reader and uWS could divide into requests differently
 * (framing.c): without it, uWS's lax chunk parsing is all there is.
 *
 * The addon also runs the ingress's asynchronous WebSocket upgrades (runAsUwsCallback).
 */

const require = createRequire(import.meta.url);
const ADDON = '../../../native/peer-cache/build/Release/peer_cache.node';

interface PeerCacheAddon {
  install(binaryPath: string): string;
  counters(): [number, number, number];
  asCallback(fn: () => void, corkLastPeer: boolean): boolean;
}

export interface PeerCacheState {
  active: boolean;
  /** Why it is off; empty when active. */
  reason: string;
}

/**
 * For /api/status: the state, the addresses answered from the cache and by real calls, and the
 * client connections closed for their request framing (framing.c, which the same hooks run).
 */
export interface PeerCacheStatus extends PeerCacheState {
  hits: number;
  misses: number;
  framingRefused: number;
}

let state: PeerCacheState | null = null;
/** Per thread: undefined until first needed, null where it is not built. */
let addon: PeerCacheAddon | null | undefined;

export function installPeerCache(): PeerCacheState {
  if (state !== null) return state;
  state = tryInstall();
  return state;
}

export function peerCacheStatus(): PeerCacheStatus {
  const [hits, misses, framingRefused] = addon?.counters() ?? [0, 0, 0];
  return { ...(state ?? { active: false, reason: 'not installed' }), hits, misses, framingRefused };
}

/**
 * Runs fn as if uWS.js had called it, for an asynchronous WebSocket upgrade of `client` outside a
 * cork, with the client's socket corked in the kernel instead (see asCallback in peer_cache.c for
 * why); false, with fn not run, where the addon is not built or did not find the uWS.js binary at
 * installPeerCache().
 */
export function runAsUwsCallback(fn: () => void, client: { getRemoteAddress(): ArrayBuffer }): boolean {
  const native = loadAddon();
  if (native === null) return false;
  // The addon learns which socket to cork from the getpeername() this makes.
  client.getRemoteAddress();
  return native.asCallback(fn, true);
}

function loadAddon(): PeerCacheAddon | null {
  if (addon === undefined) {
    try {
      addon = require(ADDON) as PeerCacheAddon;
    } catch {
      addon = null;
    }
  }
  return addon;
}

function tryInstall(): PeerCacheState {
  if (process.platform !== 'linux') return { active: false, reason: 'Linux only' };
  const loaded = loadAddon();
  if (loaded === null) return { active: false, reason: 'native/peer-cache is not built (npm ci builds it where a C compiler is installed)' };
  // Loads the binary, so that its offset table can be found by its path among this process's mappings.
  require('uWebSockets.js');
  const binary = loadedUwsBinary();
  if (binary === null) return { active: false, reason: 'the uWebSockets.js binary is not among the mapped files' };
  const reason = loaded.install(binary);
  return { active: reason === '', reason };
}
