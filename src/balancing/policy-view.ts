import type { AliasView } from './alias-table.js';

/**
 * What a load-aware policy reads about the table's entries, beyond the alias table: live
 * in-flight counts (over every ingress thread), peak-EWMA latency and the current weight.
 * The data plane reads them from shared memory; the simulation from its model.
 */
export interface PolicyView extends AliasView {
  inflight(i: number): number;
  /** Peak-EWMA latency in microseconds; 0 while unknown. */
  latencyUs(i: number): number;
  weight(i: number): number;
}
