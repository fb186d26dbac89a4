import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressText } from '../../src/ingress/client-address.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

test('IPv4 addresses read as dotted quads, as uWS writes them', () => {
  assert.equal(addressText(bytes(127, 0, 0, 1)), '127.0.0.1');
  assert.equal(addressText(bytes(203, 0, 113, 255)), '203.0.113.255');
  // Served from the cache the second time, and still right for a neighbour.
  assert.equal(addressText(bytes(203, 0, 113, 255)), '203.0.113.255');
  assert.equal(addressText(bytes(203, 0, 113, 254)), '203.0.113.254');
});

test('IPv6 addresses read as eight groups of four hex digits, as uWS writes them', () => {
  const mapped = bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1);
  assert.equal(addressText(mapped), '0000:0000:0000:0000:0000:ffff:7f00:0001');
  const doc = bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd);
  assert.equal(addressText(doc), '2001:0db8:0000:0000:0000:0000:0000:abcd');
  assert.equal(addressText(doc), '2001:0db8:0000:0000:0000:0000:0000:abcd');
});

test('an address of no known length reads as empty', () => {
  assert.equal(addressText(new Uint8Array(0)), '');
});
