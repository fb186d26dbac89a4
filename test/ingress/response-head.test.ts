import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardedHead } from '../../src/ingress/response-head.js';
import { ResponseParser } from '../../src/upstream/response-parser.js';

/** Parses a response head and returns what goes to uWS's writeStatus(), as latin1 text. */
function forwardRaw(head: string, keepContentLength = false): string {
  let out = '';
  // A copy: the result is a view of a buffer the next call reuses.
  const parser = new ResponseParser({ onHead: (_s, lines) => (out = forwardedHead(lines, keepContentLength).toString('latin1')), onBody() {}, onComplete() {} });
  parser.expect(true);
  parser.execute(Buffer.from(head, 'latin1'));
  return out;
}

/** forwardRaw() of "HTTP/1.1 200 OK" and `fields`, split into the status and field lines. */
function forward(fields: [string, string][], keepContentLength = false): string[] {
  return forwardRaw(`HTTP/1.1 200 OK\r\n${fields.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`, keepContentLength).split('\r\n');
}

test('the status line and end-to-end fields go in one piece, in order, lines as received', () => {
  assert.deepEqual(forward([['Server', 'nginx'], ['Content-Type', 'text/plain'], ['Set-Cookie', 'a=1'], ['set-cookie', 'b=2']]), [
    '200 OK',
    'Server: nginx',
    'Content-Type: text/plain',
    'Set-Cookie: a=1',
    'set-cookie: b=2',
  ]);
  assert.equal(forwardRaw('HTTP/1.0 404 Not  Found\r\nX-A:b  \r\nX-C:   d\r\n\r\n'), '404 Not  Found\r\nX-A:b  \r\nX-C:   d');
  assert.equal(forwardRaw('HTTP/1.1 204\r\n\r\n'), '204');
});

test('hop-by-hop fields, Date and Content-Length are dropped in any letter case, wherever they stand', () => {
  // (Content-Length is checked below: the parser refuses it beside Transfer-Encoding.)
  const dropped: [string, string][] = ['TE', 'Date', 'Trailer', 'UPGRADE', 'Connection', 'keep-alive', 'Proxy-Connection', 'Transfer-Encoding'].map((name) => [name, name === 'Transfer-Encoding' ? 'chunked' : 'x']);
  assert.deepEqual(forward(dropped), ['200 OK']);
  // Same lengths as dropped names, but end-to-end: kept.
  const kept = ['Tx', 'Vary', 'Expires', 'X-Request', 'Content-Type', 'X-Frame-Options1', 'X-Content-Options'];
  assert.deepEqual(forward([...dropped, ...kept.map((name): [string, string] => [name, 'y'])]), ['200 OK', ...kept.map((name) => `${name}: y`)]);
  assert.deepEqual(forward([['Server', 'nginx'], ['Date', 'now'], ['Content-Type', 'text/plain'], ['Content-Length', '0'], ['Connection', 'keep-alive']]), [
    '200 OK',
    'Server: nginx',
    'Content-Type: text/plain',
  ]);
  // Dropped lines between, before and after kept ones, one at a time and in runs.
  const mixed: [string, string][] = [['Date', '1'], ['A', '1'], ['B', '2'], ['Connection', 'x'], ['Trailer', 'y'], ['C', '3'], ['TE', 'z'], ['D', '4'], ['Date', '2']];
  assert.deepEqual(forward(mixed), ['200 OK', 'A: 1', 'B: 2', 'C: 3', 'D: 4']);
});

test('fields named by any Connection field are dropped; a HEAD response keeps its Content-Length', () => {
  const fields: [string, string][] = [['connection', 'X-Secret, close'], ['x-secret', 'hidden'], ['Content-Length', '11'], ['ETag', '"e"'], ['Connection', 'x-other'], ['X-OTHER', '1']];
  assert.deepEqual(forward(fields, true), ['200 OK', 'Content-Length: 11', 'ETag: "e"']);
});

test('bytes above 0x7f, in a value or the reason, pass as received; a longer head reuses nothing stale', () => {
  assert.equal(forwardRaw('HTTP/1.1 200 OK\r\nX-A: plain\r\nX-Name: caf\xe9  \r\n\r\n'), '200 OK\r\nX-A: plain\r\nX-Name: caf\xe9');
  assert.equal(forwardRaw('HTTP/1.1 200 Caf\xe9\r\nX-A: plain\r\n\r\n'), '200 Caf\xe9\r\nX-A: plain');
  // Past the first scratch buffer (4 KiB), in runs longer than the copy loop takes.
  const long = 'x'.repeat(3000);
  assert.equal(forwardRaw(`HTTP/1.1 200 OK\r\nA: ${long}\r\nDate: d\r\nB: ${long}\r\n\r\n`), `200 OK\r\nA: ${long}\r\nB: ${long}`);
  assert.equal(forwardRaw('HTTP/1.1 200 OK\r\nX-A: plain\r\n\r\n'), '200 OK\r\nX-A: plain');
});

test("the ingress's lines go last: Strict-Transport-Security in place of the worker's, a sticky Set-Cookie beside the worker's cookies", () => {
  const hsts = Buffer.from('\r\nstrict-transport-security: max-age=60');
  const cookie = Buffer.from('\r\nset-cookie: wb_worker=t; Path=/');
  const head = (hstsLine: Buffer | null, cookieLine: Buffer | null, fields: [string, string][]): string[] => {
    let out = '';
    const parser = new ResponseParser({ onHead: (_s, lines) => (out = forwardedHead(lines, false, hstsLine, cookieLine).toString('latin1')), onBody() {}, onComplete() {} });
    parser.expect(true);
    parser.execute(Buffer.from(`HTTP/1.1 200 OK\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`, 'latin1'));
    return out.split('\r\n');
  };
  const fields: [string, string][] = [['Strict-Transport-Security', 'max-age=5'], ['Set-Cookie', 'app=1'], ['X-A', 'b']];
  assert.deepEqual(head(hsts, cookie, fields), ['200 OK', 'Set-Cookie: app=1', 'X-A: b', 'strict-transport-security: max-age=60', 'set-cookie: wb_worker=t; Path=/']);
  assert.deepEqual(head(null, cookie, fields), ['200 OK', 'Strict-Transport-Security: max-age=5', 'Set-Cookie: app=1', 'X-A: b', 'set-cookie: wb_worker=t; Path=/']);
  assert.deepEqual(head(hsts, null, fields), ['200 OK', 'Set-Cookie: app=1', 'X-A: b', 'strict-transport-security: max-age=60']);
  // A head larger than the reused buffer: it grows to hold the head and both lines.
  const big: [string, string][] = Array.from({ length: 100 }, (_, i) => [`X-Big-${i}`, 'v'.repeat(90)]);
  const lines = head(hsts, cookie, big);
  assert.equal(lines.length, 103);
  assert.deepEqual(lines.slice(-2), ['strict-transport-security: max-age=60', 'set-cookie: wb_worker=t; Path=/']);
});
