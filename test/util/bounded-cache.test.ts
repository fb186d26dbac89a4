import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedCache } from '../../src/util/bounded-cache.js';

test('BoundedCache computes a key once, and forgets everything when full', () => {
  const computed: string[] = [];
  const cache = new BoundedCache(3, (key: string) => (computed.push(key), key.length));
  assert.equal(cache.get('a'), 1);
  assert.equal(cache.get('bb'), 2);
  assert.equal(cache.get('a'), 1);
  assert.equal(cache.get('ccc'), 3);
  assert.deepEqual(computed, ['a', 'bb', 'ccc']);
  // Full: a fourth key clears the cache, so the earlier ones are computed again.
  assert.equal(cache.get('dddd'), 4);
  assert.equal(cache.get('a'), 1);
  assert.deepEqual(computed, ['a', 'bb', 'ccc', 'dddd', 'a']);
});
