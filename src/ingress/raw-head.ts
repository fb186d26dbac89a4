import { createRequire } from 'node:module';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { utf8Bytes } from '../http/byte-strings.js';
import { loadedUwsBinary } from './uws-binary.js';

/**
 * A client's request line and fields as byte strings: Latin-1, one character per byte received,
 * which is how the ingress forwards them (TcpSocket writes strings as Latin-1).
 *
 * Read by native/peer-cache's request_head addon (see request_head.cc for why): uWS.js 20.30
 * trims bytes of 0x80 and above from both ends of a field value ("José" becomes "Jos") and
 * decodes the target and values as UTF-8 (any other byte becomes U+FFFD); the addon reads them
 * from uWS's buffer as received, in one call. It knows the memory layout of one uWS.js build, so
 * it is used only with that version. Without it (not built, or another uWS.js), the head is read
 * through uWS.js's methods, with those two faults, and turned into byte strings the same way
 * (UTF-8 bytes of what uWS.js decoded).
 */

/** The one uWS.js version whose request record the addon reads. */
const LAYOUT_VERSION = '20.30.0-unofficial.0';
const ADDON = '../../../native/peer-cache/build/Release/request_head.node';

interface RequestHeadAddon {
  bind(bytes: Uint8Array, positions: Int32Array, uwsBinary: string | null): void;
  readHead(req: HttpRequest): string | number;
  /** Writes the client's address to the start of the bound bytes; its length, or -1. */
  remoteAddress(res: HttpResponse): number;
}

/** The request line of the last head read (one per thread, overwritten by the next). */
export const requestLine = { method: '', target: '' };

/** readHead's answer for a field value with a control byte in it. */
export const CONTROL_BYTE = 'a field value holds a control character';

// The addon writes into these; held here for the thread's life (it keeps only pointers).
const bytes = new Uint8Array(64 * 1024);
const positions = new Int32Array(2 + 4 * 64);
const native = loadAddon();
// Where remoteAddress() leaves an address, by its length.
const ipv4 = bytes.subarray(0, 4);
const ipv6 = bytes.subarray(0, 16);

function loadAddon(): RequestHeadAddon | null {
  const require = createRequire(import.meta.url);
  try {
    if ((require('uWebSockets.js/package.json') as { version: string }).version !== LAYOUT_VERSION) return null;
    const addon = require(ADDON) as RequestHeadAddon;
    // Loads the uWS.js binary, so that its path is among this process's mappings.
    require('uWebSockets.js');
    // Each thread binds its own (the addon keeps them per thread).
    addon.bind(bytes, positions, loadedUwsBinary());
    return addon;
  } catch {
    return null;
  }
}

/** Whether heads are read as received (the addon), for /api/status and the tests. */
export const readsRawHeads = native !== null;

/**
 * Reads the request's method and target into requestLine and calls field(name, value) for each
 * field in order, as req.forEach does but with byte strings. Returns '' or, for a head the
 * ingress must refuse with 400, why.
 */
export function readHead(req: HttpRequest, field: (name: string, value: string) => void): string {
  const raw = native === null ? -1 : native.readHead(req);
  if (typeof raw === 'number') return readThroughUws(req, field);
  requestLine.method = raw.slice(positions[1], positions[2]);
  requestLine.target = raw.slice(positions[3], positions[4]);
  if (positions[0]! < 0) return CONTROL_BYTE;
  const end = 4 * positions[0]! + 5;
  for (let i = 5; i < end; i += 4) field(raw.slice(positions[i], positions[i + 1]), raw.slice(positions[i + 2], positions[i + 3]));
  return '';
}

/**
 * The client's address as uWS.js's getRemoteAddress() gives it (4 or 16 bytes), read by the addon
 * without the ArrayBuffer uWS.js allocates for it (see request_head.cc). The view is overwritten
 * by the next call into the addon.
 */
export function remoteAddress(res: HttpResponse): Uint8Array {
  const length = native === null ? -1 : native.remoteAddress(res);
  if (length === 4) return ipv4;
  if (length === 16) return ipv6;
  return new Uint8Array(res.getRemoteAddress());
}

function readThroughUws(req: HttpRequest, field: (name: string, value: string) => void): string {
  requestLine.method = req.getCaseSensitiveMethod();
  const query = req.getQuery();
  // What uWS.js decoded as UTF-8, as the byte string of its UTF-8 bytes.
  requestLine.target = utf8Bytes(query ? `${req.getUrl()}?${query}` : req.getUrl());
  req.forEach((name, value) => field(name, utf8Bytes(value)));
  return '';
}
