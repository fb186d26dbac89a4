/**
 * What a host process can run. ingress: the data plane (ingress threads, workers, route and
 * stats tables), applying weights from the bus and reporting its stats to it. The others are
 * control-plane actors: collector (measures workers), scorer (measurements to weights),
 * autoscaler (starts and stops workers) and reconciler (state store against reality); the
 * autoscaler and reconciler act only while they hold the cluster's lease.
 */
export const ROLE_NAMES = ['ingress', 'collector', 'scorer', 'autoscaler', 'reconciler'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];
