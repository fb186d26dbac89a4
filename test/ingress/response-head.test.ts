import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headerRules } from '../../src/ingress/header-rules.js';
import { hsts } from '../../src/ingress/hsts.js';
import type { ClientRequestHead } from '../../src/ingress/request-head.js';
import { ResponseFields } from '../../src/ingress/response-fields.js';
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
  // A status line without a reason gets the SP a sender owes before it (RFC 9112 section 4).
  assert.equal(forwardRaw('HTTP/1.1 204\r\n\r\n'), '204 ');
  assert.equal(forwardRaw('HTTP/1.1 200\r\nX-A: b\r\nDate: x\r\nX-C: d\r\n\r\n'), '200 \r\nX-A: b\r\nX-C: d');
  assert.equal(forwardRaw('HTTP/1.1 200 \r\n\r\n'), '200 ');
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

test("the ingress's lines go last, and the worker's fields they replace are dropped, whatever their case", () => {
  const head = (replaced: Uint8Array[], appended: string, fields: [string, string][]): string[] => {
    let out = '';
    const parser = new ResponseParser({ onHead: (_s, lines) => (out = forwardedHead(lines, false, replaced, appended).toString('latin1')), onBody() {}, onComplete() {} });
    parser.expect(true);
    parser.execute(Buffer.from(`HTTP/1.1 200 OK\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`, 'latin1'));
    return out.split('\r\n');
  };
  const fields: [string, string][] = [['Strict-Transport-Security', 'max-age=5'], ['Set-Cookie', 'app=1'], ['X-Request-ID', 'w'], ['X-A', 'b']];
  const https = new ResponseFields(hsts({ maxAgeS: 60, includeSubDomains: false, preload: false }), 'x-request-id', null);
  const request = { scheme: 'https', requestId: 'r1', stickyToken: '' } as ClientRequestHead;
  assert.deepEqual(head([...https.replaced('https')], https.proxied(request, ''), fields), ['200 OK', 'Set-Cookie: app=1', 'X-A: b', 'strict-transport-security: max-age=60', 'x-request-id: r1']);
  // Over plain HTTP no Strict-Transport-Security is added, and the worker's passes.
  const plain = { ...request, scheme: 'http' } as ClientRequestHead;
  assert.deepEqual(head([...https.replaced('http')], https.proxied(plain, ''), fields), ['200 OK', 'Strict-Transport-Security: max-age=5', 'Set-Cookie: app=1', 'X-A: b', 'x-request-id: r1']);
  // Nothing configured: the head as the worker sent it (without hop-by-hop fields).
  const none = new ResponseFields(null, null, null);
  assert.deepEqual(head([...none.replaced('https')], none.proxied(request, ''), fields), ['200 OK', ...fields.map(([n, v]) => `${n}: ${v}`)]);
  // A head larger than the reused buffer: it grows to hold the head and the lines.
  const big: [string, string][] = Array.from({ length: 100 }, (_, i) => [`X-Big-${i}`, 'v'.repeat(90)]);
  const lines = head([...https.replaced('https')], https.proxied(request, ''), big);
  assert.equal(lines.length, 103);
  assert.deepEqual(lines.slice(-2), ['strict-transport-security: max-age=60', 'x-request-id: r1']);
});

test("headers.response rules replace and remove the worker's fields; over HTTPS tls.hsts's Strict-Transport-Security is the one sent", () => {
  const rules = headerRules({ set: { 'strict-transport-security': 'max-age=1', 'x-frame-options': 'DENY' }, remove: ['server'] });
  const fields = new ResponseFields(hsts({ maxAgeS: 60, includeSubDomains: false, preload: false }), null, null, rules);
  const worker: [string, string][] = [['Server', 'w'], ['X-Frame-Options', 'SAMEORIGIN'], ['Strict-Transport-Security', 'max-age=5'], ['X-A', 'b']];
  const request = { scheme: 'https', requestId: '', stickyToken: '' } as ClientRequestHead;
  const forward = (scheme: 'http' | 'https'): string[] => {
    let out = '';
    const parser = new ResponseParser({ onHead: (_s, lines) => (out = forwardedHead(lines, false, fields.replaced(scheme), fields.proxied({ ...request, scheme }, '')).toString('latin1')), onBody() {}, onComplete() {} });
    parser.expect(true);
    parser.execute(Buffer.from(`HTTP/1.1 200 OK\r\n${worker.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`, 'latin1'));
    return out.split('\r\n');
  };
  assert.deepEqual(forward('https'), ['200 OK', 'X-A: b', 'x-frame-options: DENY', 'strict-transport-security: max-age=60']);
  assert.deepEqual(forward('http'), ['200 OK', 'X-A: b', 'strict-transport-security: max-age=1', 'x-frame-options: DENY']);
});

test("the ingress's own responses: Strict-Transport-Security over HTTPS only, the request id when there is one", () => {
  const fields = new ResponseFields(hsts({ maxAgeS: 60, includeSubDomains: true, preload: false }), 'x-request-id', null);
  assert.deepEqual(fields.own('https', 'r1', { 'retry-after': '1' }), { 'retry-after': '1', 'strict-transport-security': 'max-age=60; includeSubDomains', 'x-request-id': 'r1' });
  assert.deepEqual(fields.own('http', 'r1'), { 'x-request-id': 'r1' });
  assert.equal(fields.own('http', ''), undefined);
  assert.deepEqual(new ResponseFields(null, null, null).own('https', '', { location: '/x' }), { location: '/x' });
});

test("the ingress's own responses get the fields headers.response sets; what the answer needs, HSTS and the request id win, and no Content-Type", () => {
  const rules = headerRules({ set: { 'x-frame-options': 'DENY', 'retry-after': '99', 'strict-transport-security': 'max-age=1', 'content-type': 'application/json' }, remove: [] });
  const fields = new ResponseFields(hsts({ maxAgeS: 60, includeSubDomains: false, preload: false }), 'x-request-id', null, rules);
  assert.deepEqual(fields.own('https', 'r1', { 'retry-after': '1' }), { 'x-frame-options': 'DENY', 'retry-after': '1', 'strict-transport-security': 'max-age=60', 'x-request-id': 'r1' });
  assert.deepEqual(fields.own('http', ''), { 'x-frame-options': 'DENY', 'retry-after': '99', 'strict-transport-security': 'max-age=1' });
  assert.equal(new ResponseFields(null, null, null, headerRules({ set: { 'content-type': 'text/html' }, remove: [] })).own('http', ''), undefined);
});
