import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionTokens, hasCloseOption } from '../../src/http/hop-by-hop.js';

test('hasCloseOption: close alone or among other options, in any case, with or without spaces; not inside another token', () => {
  for (const value of ['close', 'Close', 'CLOSE', 'TE, close', 'TE,close', 'keep-alive, close', 'close, TE', ' close ', 'a,\tclose\t,b', 'keep-alive, CLOSE']) assert.equal(hasCloseOption(value), true, value);
  for (const value of ['', 'keep-alive', 'closed', 'x-close', 'enclose, TE', 'TE', 'clo se', 'close-me']) assert.equal(hasCloseOption(value), false, value);
});

test('connectionTokens: the fields a Connection value names, lowercased; none for the usual lone keep-alive or close', () => {
  assert.equal(connectionTokens(''), undefined);
  assert.equal(connectionTokens('keep-alive'), undefined);
  assert.equal(connectionTokens('Close'), undefined);
  assert.deepEqual(connectionTokens('TE, X-Secret ,close'), new Set(['te', 'x-secret', 'close']));
});
