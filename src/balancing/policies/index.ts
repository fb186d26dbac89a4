import type { PolicyView } from '../policy-view.js';
import type { RandomSource } from '../random.js';
import { leastConnections } from './least-connections.js';
import { p2cPeakEwma } from './p2c-peak-ewma.js';
import { roundRobin } from './round-robin.js';
import { smoothWeightedRoundRobin } from './smooth-weighted-round-robin.js';
import { weightedP2c } from './weighted-p2c.js';
import { weightedRandom } from './weighted-random.js';

/** A policy maps a read-only table view and a random source to an index in [0, view.count). */
export type Policy = (view: PolicyView, random: RandomSource) => number;

export const POLICY_NAMES = ['weighted-random', 'round-robin', 'smooth-weighted-round-robin', 'least-connections', 'p2c-peak-ewma', 'weighted-p2c'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** A fresh policy instance; stateful ones (the round robins) keep their state per instance. */
export function createPolicy(name: PolicyName): Policy {
  switch (name) {
    case 'weighted-random':
      return weightedRandom;
    case 'round-robin':
      return roundRobin();
    case 'smooth-weighted-round-robin':
      return smoothWeightedRoundRobin();
    case 'least-connections':
      return leastConnections;
    case 'p2c-peak-ewma':
      return p2cPeakEwma;
    case 'weighted-p2c':
      return weightedP2c;
  }
}
