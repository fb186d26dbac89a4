import type { MessageType } from './messages.js';

/**
 * A subject and the one message type it carries. Topics are only built by the functions below,
 * so a publish or subscribe that pairs a subject with the wrong message does not compile, and a
 * subscriber knows at run time which type to accept.
 */
export interface Topic<T extends MessageType> {
  readonly subject: string;
  readonly type: T;
}

const PREFIX = 'wb';
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

/** One subject token: a host id or pool name must not smuggle in dots or wildcards. */
function token(value: string): string {
  if (!TOKEN.test(value)) throw new RangeError(`"${value}" cannot be a subject token: use letters, digits, - and _ (at most 128)`);
  return value;
}

const topic = <T extends MessageType>(type: T, ...parts: string[]): Topic<T> => ({ subject: [PREFIX, ...parts].join('.'), type });

export const topics = {
  weightsUpdated: (pool: string) => topic('weights.updated', 'weights', token(pool)),
  allWeightsUpdated: () => topic('weights.updated', 'weights', '*'),
  scoresUpdated: (pool: string) => topic('scores.updated', 'scores', token(pool)),
  ingressStats: (host: string) => topic('ingress.stats', 'ingress', 'stats', token(host)),
  allIngressStats: () => topic('ingress.stats', 'ingress', 'stats', '*'),
  metricsSample: (host: string) => topic('metrics.sample', 'metrics', token(host)),
  allMetricsSamples: () => topic('metrics.sample', 'metrics', '*'),
  fleetInventory: (host: string) => topic('fleet.inventory', 'fleet', 'inventory', token(host)),
  allFleetInventories: () => topic('fleet.inventory', 'fleet', 'inventory', '*'),
  fleetCommand: (host: string) => topic('fleet.command', 'fleet', 'command', token(host)),
  presence: (host: string) => topic('presence', 'presence', token(host)),
  allPresence: () => topic('presence', 'presence', '*'),
  ping: (host: string) => topic('ping', 'ping', token(host)),
} as const;

/** NATS subject matching: tokens split on '.', '*' matches one token, a final '>' one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return i === p.length - 1 && s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
