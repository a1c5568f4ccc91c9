/**
 * Where a guarded flag rollout's evidence comes from (flags/guard.ts): per-(flag, variant)
 * counters of a service, monotonic for as long as the source is read. One file per source:
 * router.ts (the Rollgate router in front of the app counts each response by the variants its
 * `rollgate-flags` header names) and sdk.ts (apps behind another proxy: the outcomes the SDK's
 * middleware reports). Adding a source is one file behind this interface.
 */
import type { FlagMetrics } from '../../core/dataplane.js';

export interface FlagEvidence {
  readonly name: 'router' | 'sdk';
  /** The service's counters now; undefined when this source has none for it. Throws when it cannot be read. */
  read(app: string, env: string): Promise<FlagMetrics | undefined>;
}
