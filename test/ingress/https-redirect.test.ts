import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpsLocation } from '../../src/ingress/https-redirect.js';

test('the HTTPS location keeps host and target, swaps the port, and leaves 443 out', () => {
  assert.equal(httpsLocation('example.com', '/a?b=1', 8443), 'https://example.com:8443/a?b=1');
  assert.equal(httpsLocation('example.com:8080', '/', 8443), 'https://example.com:8443/');
  assert.equal(httpsLocation('Example.COM.', '/x', 443), 'https://Example.COM./x');
  assert.equal(httpsLocation('127.0.0.1:80', '/x', 443), 'https://127.0.0.1/x');
  assert.equal(httpsLocation('[::1]:8080', '/x', 8443), 'https://[::1]:8443/x');
  assert.equal(httpsLocation('[2001:db8::1]', '/x', 443), 'https://[2001:db8::1]/x');
  assert.equal(httpsLocation('a-b.c-d.example', '/x', 8443), 'https://a-b.c-d.example:8443/x');
  // The host comes first, so a target that looks like one stays a path on it.
  assert.equal(httpsLocation('example.com', '//evil.com/x', 443), 'https://example.com//evil.com/x');
});

test('a Host that is not a host, or a target that is not a path, gives no location', () => {
  for (const host of ['', 'a b', 'evil.com/x', 'user@evil.com', 'evil.com:80@good', '[::1', '::1', 'a..b', '-a.com', 'a.com:', 'a.com:123456', 'a.com\\x', 'ex%61mple.com']) {
    assert.equal(httpsLocation(host, '/', 8443), null, `host ${JSON.stringify(host)}`);
  }
  for (const target of ['*', 'http://other/', '']) {
    assert.equal(httpsLocation('example.com', target, 8443), null, `target ${JSON.stringify(target)}`);
  }
});
