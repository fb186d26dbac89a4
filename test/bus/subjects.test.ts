import assert from 'node:assert/strict';
import { test } from 'node:test';
import { subjectMatches, topics } from '../../src/bus/subjects.js';

test('subject matching follows NATS: * is one token, a final > one or more', () => {
  const cases: [string, string, boolean][] = [
    ['wb.weights.default', 'wb.weights.default', true],
    ['wb.weights.*', 'wb.weights.default', true],
    ['wb.weights.*', 'wb.weights', false],
    ['wb.weights.*', 'wb.weights.a.b', false],
    ['wb.>', 'wb.weights.a.b', true],
    ['wb.>', 'wb', false],
    ['wb.*.stats.*', 'wb.ingress.stats.h1', true],
    ['wb.weights.default', 'wb.weights.other', false],
    ['_INBOX.abc.*', '_INBOX.abc.7', true],
  ];
  for (const [pattern, subject, expected] of cases) assert.equal(subjectMatches(pattern, subject), expected, `${pattern} vs ${subject}`);
});

test('topics carry their message type; ids that would break a subject are refused', () => {
  assert.deepEqual(topics.ingressStats('host-a'), { subject: 'wb.ingress.stats.host-a', type: 'ingress.stats' });
  for (const bad of ['', 'a.b', 'a*', '>', 'x y']) assert.throws(() => topics.presence(bad), /cannot be a subject token/);
});
