import { createRequire } from 'node:module';
import type { HttpRequest } from 'uWebSockets.js';
import { utf8Bytes } from '../http/byte-strings.js';

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
  bind(bytes: Uint8Array, positions: Int32Array): void;
  readHead(req: HttpRequest): string | number;
}

/** The request line of the last head read (one per thread, overwritten by the next). */
export const requestLine = { method: '', target: '' };

/** readHead's answer for a field value with a control byte in it. */
export const CONTROL_BYTE = 'a field value holds a control character';

// The addon writes into these; held here for the thread's life (it keeps only pointers).
const bytes = new Uint8Array(64 * 1024);
const positions = new Int32Array(2 + 4 * 64);
const native = loadAddon();

function loadAddon(): RequestHeadAddon | null {
  const require = createRequire(import.meta.url);
  try {
    if ((require('uWebSockets.js/package.json') as { version: string }).version !== LAYOUT_VERSION) return null;
    const addon = require(ADDON) as RequestHeadAddon;
    // Each thread binds its own (the addon keeps them per thread).
    addon.bind(bytes, positions);
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

function readThroughUws(req: HttpRequest, field: (name: string, value: string) => void): string {
  requestLine.method = req.getCaseSensitiveMethod();
  const query = req.getQuery();
  // What uWS.js decoded as UTF-8, as the byte string of its UTF-8 bytes.
  requestLine.target = utf8Bytes(query ? `${req.getUrl()}?${query}` : req.getUrl());
  req.forEach((name, value) => field(name, utf8Bytes(value)));
  return '';
}
