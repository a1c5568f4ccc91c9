/**
 * The DORA delivery metrics over a time window, computed from the platform's own records. Pure:
 * no I/O, no clock (the window is given), so every figure can be checked by hand.
 *
 * Scope: deployments and incidents of `app` (all apps when absent) in `env` when given (whatever
 * its production flag: `--env staging` measures staging), else in every environment for which
 * `isProduction(env)` holds (incidents: their own `production` flag, recorded when they opened).
 * The window is [since, until): a deployment belongs to it by when it finished, an incident by
 * when it opened.
 *
 * Definitions (DORA names; see tiers.ts for the 2024 tiers):
 * - Production deploy: a deployment of kind 'deploy' (rollbacks ship no new change) in scope
 *   that ended `succeeded`.
 * - Deployment frequency: production deploys in the window / window length (per day, per week).
 * - Lead time for changes: for each change (commit) of a release, from its commit time to the
 *   release's FIRST production deploy (a redeploy delivers no new change), when that first deploy
 *   lies in the window. Commit times per change come from `commitTimes` (every commit in the
 *   release, read from git) when given and non-empty, else the release's `commitTime`. Median
 *   over all changes; a commit "after" its deploy (clock skew) counts as 0.
 * - Change failure rate: distinct finished production deployments (kind 'deploy') in the window
 *   that were rolled back or failed, or that an incident names as its cause, over all of them
 *   (succeeded, rolled back, failed, plus any aborted one an incident names). A deployment counts
 *   once however many of those apply.
 * - Failed deployment recovery time: median duration (openedAt → resolvedAt) of the incidents in
 *   scope opened in the window and resolved by `until`; the others are reported as open.
 * - Rework rate (DORA 2024): production deploys made to fix an incident (named by an incident's
 *   `resolvedByDeploymentId`) over all production deploys in the window.
 * Empty figures are null (never NaN): no deploys → no frequency tier, no samples → no median.
 */
import type { DeploymentRecord, ReleaseRecord } from '../core/domain.js';
import type { IncidentRecord } from '../core/incidents.js';
import { changeFailureRateTier, deploymentFrequencyTier, leadTimeTier, recoveryTimeTier, type DoraTier } from './tiers.js';

export interface DoraInput {
  deployments: readonly DeploymentRecord[];
  releases: readonly ReleaseRecord[];
  incidents: readonly IncidentRecord[];
  /** Commit times (ISO) of every change in a release, by release id, when read from git. */
  commitTimes?: ReadonlyMap<string, readonly string[]> | undefined;
  since: Date;
  until: Date;
  env?: string | undefined;
  app?: string | undefined;
  isProduction: (env: string) => boolean;
}

export interface DoraReport {
  window: { since: string; until: string; days: number; app: string | null; env: string | null };
  deploymentFrequency: { count: number; perDay: number | null; perWeek: number | null; tier: DoraTier | null };
  leadTimeForChanges: {
    medianSeconds: number | null;
    /** Changes measured. */
    samples: number;
    /** Of those, how many had per-commit times from git (the rest used the release's commit time). */
    fromGit: number;
    /** First production deploys in the window whose release has no commit time at all. */
    releasesWithoutCommitTime: number;
    tier: DoraTier | null;
  };
  changeFailureRate: { rate: number | null; failed: number; total: number; tier: DoraTier | null };
  failedDeploymentRecoveryTime: { medianSeconds: number | null; samples: number; open: number; tier: DoraTier | null };
  reworkRate: { rate: number | null; rework: number; total: number };
}

const FINISHED_FOR_CFR = new Set(['succeeded', 'rolled_back', 'failed']);
const FAILED = new Set(['rolled_back', 'failed']);

export function computeDora(input: DoraInput): DoraReport {
  const since = input.since.getTime();
  const until = input.until.getTime();
  const inWindow = (t: number): boolean => Number.isFinite(t) && t >= since && t < until;
  const days = Math.max(0, until - since) / 86_400_000;

  const depInScope = (d: DeploymentRecord): boolean =>
    d.kind === 'deploy' && (input.app === undefined || d.app === input.app) && (input.env !== undefined ? d.env === input.env : input.isProduction(d.env));
  const incInScope = (i: IncidentRecord): boolean =>
    (input.app === undefined || i.app === input.app) && (input.env !== undefined ? i.env === input.env : i.production);

  const scoped = input.deployments.filter(depInScope);
  const finishedIn = scoped.filter((d) => inWindow(finishedAt(d)));
  const prodDeploys = finishedIn.filter((d) => d.status === 'succeeded');
  const scopedIncidents = input.incidents.filter(incInScope);

  // ---- deployment frequency
  const count = prodDeploys.length;
  const perDay = days > 0 ? count / days : null;
  const deploymentFrequency = {
    count,
    perDay,
    perWeek: perDay === null ? null : perDay * 7,
    tier: perDay === null || count === 0 ? null : deploymentFrequencyTier(perDay),
  };

  // ---- lead time: first production deploy of each release, over every scoped deploy (not only the window's)
  const firstDeploy = new Map<string, number>();
  for (const d of scoped) {
    if (d.status !== 'succeeded') continue;
    const t = finishedAt(d);
    if (!Number.isFinite(t)) continue;
    const prev = firstDeploy.get(d.releaseId);
    if (prev === undefined || t < prev) firstDeploy.set(d.releaseId, t);
  }
  const releases = new Map(input.releases.map((r) => [r.id, r]));
  const leadSamples: number[] = [];
  let fromGit = 0;
  let releasesWithoutCommitTime = 0;
  for (const [releaseId, deployedAt] of firstDeploy) {
    if (!inWindow(deployedAt)) continue;
    const gitTimes = input.commitTimes?.get(releaseId);
    const fallback = releases.get(releaseId)?.commitTime ?? null;
    const times = gitTimes && gitTimes.length > 0 ? gitTimes : fallback !== null ? [fallback] : [];
    const before = leadSamples.length;
    for (const c of times) {
      const ct = Date.parse(c);
      if (Number.isFinite(ct)) leadSamples.push(Math.max(0, deployedAt - ct) / 1000);
    }
    if (gitTimes && gitTimes.length > 0) fromGit += leadSamples.length - before;
    if (leadSamples.length === before) releasesWithoutCommitTime++;
  }
  const leadMedian = median(leadSamples);

  // ---- change failure rate: one entry per deployment id, whatever makes it failed
  const causedIncident = new Set(scopedIncidents.map((i) => i.deploymentId).filter((id): id is string => id !== null));
  const cfrPopulation = new Map<string, boolean>();
  for (const d of finishedIn) {
    const blamed = causedIncident.has(d.id);
    if (!FINISHED_FOR_CFR.has(d.status) && !blamed) continue;
    cfrPopulation.set(d.id, (cfrPopulation.get(d.id) ?? false) || FAILED.has(d.status) || blamed);
  }
  const total = cfrPopulation.size;
  const failed = [...cfrPopulation.values()].filter(Boolean).length;
  const rate = total > 0 ? failed / total : null;

  // ---- recovery time
  const recovery: number[] = [];
  let open = 0;
  for (const i of scopedIncidents) {
    const opened = Date.parse(i.openedAt);
    if (!inWindow(opened)) continue;
    const resolved = i.resolvedAt === null ? NaN : Date.parse(i.resolvedAt);
    if (Number.isFinite(resolved) && resolved <= until) recovery.push(Math.max(0, resolved - opened) / 1000);
    else open++;
  }
  const recoveryMedian = median(recovery);

  // ---- rework
  const fixers = new Set(input.incidents.map((i) => i.resolvedByDeploymentId).filter((id): id is string => id !== null));
  const rework = prodDeploys.filter((d) => fixers.has(d.id)).length;

  return {
    window: { since: input.since.toISOString(), until: input.until.toISOString(), days, app: input.app ?? null, env: input.env ?? null },
    deploymentFrequency,
    leadTimeForChanges: {
      medianSeconds: leadMedian,
      samples: leadSamples.length,
      fromGit,
      releasesWithoutCommitTime,
      tier: leadMedian === null ? null : leadTimeTier(leadMedian),
    },
    changeFailureRate: { rate, failed, total, tier: rate === null ? null : changeFailureRateTier(rate) },
    failedDeploymentRecoveryTime: { medianSeconds: recoveryMedian, samples: recovery.length, open, tier: recoveryMedian === null ? null : recoveryTimeTier(recoveryMedian) },
    reworkRate: { rate: count > 0 ? rework / count : null, rework, total: count },
  };
}

/** When a deployment ended (ms); NaN while it runs. */
function finishedAt(d: DeploymentRecord): number {
  return d.finishedAt === null ? NaN : Date.parse(d.finishedAt);
}

/** Median; the mean of the two middle values for an even count; null when empty. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
