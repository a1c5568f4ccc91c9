/**
 * The settings a release runs with in a service are those of the deployment that made it serve:
 * the candidate's when that deployment succeeded, the stable's when it was reverted. A spec
 * change reaches a running version only through a new deployment.
 */
import type { VersionSettings } from '../core/domain.js';
import type { Store } from '../store/types.js';
import { canonicalJson } from '../core/canonical-json.js';

/** How far back to look for the deployment that made a release serve (older ones fall back to the spec). */
const LOOKBACK = 200;

export async function settingsServed(store: Store, app: string, env: string, releaseId: string): Promise<VersionSettings | null> {
  for (const d of await store.listDeployments({ app, env, limit: LOOKBACK })) {
    const s = d.state.settings;
    if (d.status === 'succeeded' && d.releaseId === releaseId) return s?.candidate ?? null;
    if ((d.status === 'rolled_back' || d.status === 'aborted' || d.status === 'failed') && d.previousReleaseId === releaseId) {
      if (s) return s.stable;
    }
    // A deployment still running for this release (the server restarted mid-rollout): its candidate.
    if ((d.status === 'progressing' || d.status === 'paused' || d.status === 'pending') && d.releaseId === releaseId && s) return s.candidate;
  }
  return null;
}

const SETTING_NAMES: Record<keyof VersionSettings, string> = {
  command: 'run',
  portEnv: 'portEnv',
  env: 'configuration',
  health: 'healthCheck',
  drainTimeoutMs: 'drainTimeout',
  isolation: 'isolation',
};

/** Which settings differ, by their names in rollgate.yaml. */
export function changedSettings(a: VersionSettings, b: VersionSettings): string[] {
  return (Object.keys(SETTING_NAMES) as (keyof VersionSettings)[]).filter((k) => canonicalJson(a[k] ?? null) !== canonicalJson(b[k] ?? null)).map((k) => SETTING_NAMES[k]);
}
