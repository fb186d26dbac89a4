import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardedResponseFields } from '../../src/ingress/response-head.js';

test('end-to-end fields are joined into one field line, in order, names as received', () => {
  const block = forwardedResponseFields(['Server', 'nginx', 'Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2'], false);
  assert.deepEqual(block, { name: 'Server', value: 'nginx\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie: b=2' });
});

test('hop-by-hop fields, Date and Content-Length are dropped in any letter case', () => {
  const dropped = ['TE', 'Date', 'Trailer', 'UPGRADE', 'Connection', 'keep-alive', 'Content-Length', 'Proxy-Connection', 'Transfer-Encoding'];
  const headers = dropped.flatMap((name) => [name, 'x']);
  assert.equal(forwardedResponseFields(headers, false), null);
  // Same lengths as dropped names, but end-to-end: kept.
  const kept = ['Tx', 'Vary', 'Expires', 'X-Request', 'Content-Type', 'X-Frame-Options1', 'X-Content-Options'];
  const block = forwardedResponseFields([...headers, ...kept.flatMap((name) => [name, 'y'])], false);
  assert.equal(block?.name, 'Tx');
  assert.equal(block?.value, ['y', ...kept.slice(1).map((name) => `${name}: y`)].join('\r\n'));
});

test('fields named by Connection are dropped; a HEAD response keeps its Content-Length', () => {
  const block = forwardedResponseFields(['connection', 'X-Secret, close', 'x-secret', 'hidden', 'Content-Length', '11', 'ETag', '"e"'], true);
  assert.deepEqual(block, { name: 'Content-Length', value: '11\r\nETag: "e"' });
});

test('a non-ASCII value is passed on as latin1 bytes, not re-encoded', () => {
  const block = forwardedResponseFields(['X-A', 'plain', 'X-Name', 'caf\u00e9'], false);
  assert.ok(Buffer.isBuffer(block?.value));
  assert.deepEqual(block?.value, Buffer.from('plain\r\nX-Name: caf\xe9', 'latin1'));
});
