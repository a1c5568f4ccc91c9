import type { ServiceObserved } from '../core/dataplane.js';
import type { VersionCounts } from '../core/strategies/index.js';

/** Instances that still count toward a version's size (not leaving, not given up on). */
const LIVE = new Set(['starting', 'ready', 'unhealthy', 'ejected', 'crashed']);

/** Reduces a data-plane report to what planners look at. */
export function countsFrom(obs: ServiceObserved | null): Record<string, VersionCounts & { failureReason: string | null }> {
  const out: Record<string, VersionCounts & { failureReason: string | null }> = {};
  for (const v of obs?.versions ?? []) {
    out[v.version] = {
      ready: v.instances.filter((i) => i.state === 'ready').length,
      total: v.instances.filter((i) => LIVE.has(i.state)).length,
      failed: v.failed,
      failureReason: v.failureReason,
    };
  }
  return out;
}
