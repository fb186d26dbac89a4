import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeForwardedFields } from '../../src/ingress/response-head.js';
import { ResponseParser } from '../../src/upstream/response-parser.js';

/** Parses a response head made of `fields` and returns the writeHeader calls, as latin1 text. */
function forward(fields: [string, string][], keepContentLength = false): [string, string][] {
  const head = `HTTP/1.1 200 OK\r\n${fields.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
  const calls: [string, string][] = [];
  const sink = { writeHeader: (name: string, value: string | Buffer) => calls.push([name, typeof value === 'string' ? value : value.toString('latin1')]) };
  const parser = new ResponseParser({ onHead: (_s, _r, lines) => writeForwardedFields(sink, lines, keepContentLength), onBody() {}, onComplete() {} });
  parser.expect(true);
  parser.execute(Buffer.from(head, 'latin1'));
  return calls;
}

test('end-to-end fields are one field line, in order, names and lines as received', () => {
  assert.deepEqual(forward([['Server', 'nginx'], ['Content-Type', 'text/plain'], ['Set-Cookie', 'a=1'], ['set-cookie', 'b=2']]), [
    ['Server', 'nginx\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie: b=2'],
  ]);
});

test('hop-by-hop fields, Date and Content-Length are dropped in any letter case', () => {
  // (Content-Length is checked below: the parser refuses it beside Transfer-Encoding.)
  const dropped: [string, string][] = ['TE', 'Date', 'Trailer', 'UPGRADE', 'Connection', 'keep-alive', 'Proxy-Connection', 'Transfer-Encoding'].map((name) => [name, name === 'Transfer-Encoding' ? 'chunked' : 'x']);
  assert.deepEqual(forward(dropped), []);
  // Same lengths as dropped names, but end-to-end: kept.
  const kept = ['Tx', 'Vary', 'Expires', 'X-Request', 'Content-Type', 'X-Frame-Options1', 'X-Content-Options'];
  assert.deepEqual(forward([...dropped, ...kept.map((name): [string, string] => [name, 'y'])]), [['Tx', ['y', ...kept.slice(1).map((name) => `${name}: y`)].join('\r\n')]]);
  assert.deepEqual(forward([['Server', 'nginx'], ['Date', 'now'], ['Content-Type', 'text/plain'], ['Content-Length', '0'], ['Connection', 'keep-alive']]), [
    ['Server', 'nginx\r\nContent-Type: text/plain'],
  ]);
});

test('fields named by any Connection field are dropped; a HEAD response keeps its Content-Length', () => {
  const fields: [string, string][] = [['connection', 'X-Secret, close'], ['x-secret', 'hidden'], ['Content-Length', '11'], ['ETag', '"e"'], ['Connection', 'x-other'], ['X-OTHER', '1']];
  assert.deepEqual(forward(fields, true), [['Content-Length', '11\r\nETag: "e"']]);
});

test('a value with bytes above 0x7f goes as latin1 bytes, not a string uWS would re-encode', () => {
  const calls: (string | Buffer)[] = [];
  const parser = new ResponseParser({ onHead: (_s, _r, lines) => writeForwardedFields({ writeHeader: (name, value) => calls.push(name, value) }, lines, false), onBody() {}, onComplete() {} });
  parser.expect(true);
  parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nX-A: plain\r\nX-Name: caf\xe9  \r\n\r\n', 'latin1'));
  assert.deepEqual(calls, ['X-A', Buffer.from('plain\r\nX-Name: caf\xe9', 'latin1')]);
  assert.deepEqual(forward([['X-A', 'plain']]), [['X-A', 'plain']]);
});
