import type { AliasView } from '../alias-table.js';
import type { RandomSource } from '../random.js';
import { roundRobin } from './round-robin.js';
import { weightedRandom } from './weighted-random.js';

/** A policy maps a read-only table view and a random source to an index in [0, view.count). */
export type Policy = (view: AliasView, random: RandomSource) => number;

export const POLICY_NAMES = ['weighted-random', 'round-robin'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** A fresh policy instance; stateful ones (round robin) keep their state per instance. */
export function createPolicy(name: PolicyName): Policy {
  switch (name) {
    case 'weighted-random':
      return weightedRandom;
    case 'round-robin':
      return roundRobin();
  }
}
