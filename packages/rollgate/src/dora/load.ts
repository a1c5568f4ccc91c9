/**
 * Reads what the DORA figures need from the store and computes them (the API route's body).
 * The store has no time filter on deployments, so it reads the newest LIMIT of each and says
 * when that cut the window short.
 */
import type { DeploymentRecord, ReleaseRecord } from '../core/domain.js';
import { EnvironmentSpec, isProduction } from '../core/spec.js';
import type { Store } from '../store/types.js';
import { computeDora, type DoraReport } from './compute.js';
import { releaseCommitTimes, type GitOptions } from './git.js';

export interface DoraQuery {
  app?: string | undefined;
  env?: string | undefined;
  since: Date;
  until: Date;
}

export interface DoraLoadOptions {
  /** The local git repository of an app, when the server knows one (per-commit lead times). */
  gitDir?: ((app: string) => string | null | Promise<string | null>) | undefined;
  git?: GitOptions | undefined;
  /** Rows read per list (default 10,000). */
  limit?: number | undefined;
}

export interface DoraResult extends DoraReport {
  /** Environments counted as production: every such one, or the one asked for when it is one. */
  productionEnvironments: string[];
  /** Why a figure may be partial: git problems, a list cut at its limit. */
  warnings: string[];
}

export async function loadDora(store: Store, q: DoraQuery, opts: DoraLoadOptions = {}): Promise<DoraResult> {
  const limit = opts.limit ?? 10_000;
  const warnings: string[] = [];
  const envs = await store.listEnvironments();
  const prod = new Map<string, boolean>();
  for (const e of envs) {
    const spec = EnvironmentSpec.safeParse(e.spec);
    prod.set(e.name, spec.success ? isProduction(e.name, spec.data) : e.name === 'production');
  }
  const isProd = (env: string): boolean => prod.get(env) ?? env === 'production';

  const [deployments, incidents] = await Promise.all([
    store.listDeployments({ ...(q.app !== undefined ? { app: q.app } : {}), ...(q.env !== undefined ? { env: q.env } : {}), limit }),
    // Not only those opened in the window: an older incident resolved by a deploy in it is rework.
    store.listIncidents({ app: q.app, env: q.env, limit }),
  ]);
  if (deployments.length >= limit) warnings.push(`only the newest ${limit} deployments were read; older ones in the window are left out`);
  if (incidents.length >= limit) warnings.push(`only the newest ${limit} incidents were read`);

  const apps = q.app !== undefined ? [q.app] : [...new Set(deployments.map((d) => d.app))];
  const releases: ReleaseRecord[] = (await Promise.all(apps.map((a) => store.listReleases(a, limit)))).flat();

  let commitTimes: Map<string, string[]> | undefined;
  if (opts.gitDir) {
    commitTimes = new Map();
    const inScope = (d: DeploymentRecord): boolean => (q.env !== undefined ? d.env === q.env : isProd(d.env));
    for (const app of apps) {
      const dir = await opts.gitDir(app);
      if (!dir) continue;
      const r = await releaseCommitTimes(dir, deployments.filter((d) => d.app === app), releases.filter((x) => x.app === app), inScope, opts.git);
      for (const [k, v] of r.commitTimes) commitTimes.set(k, v);
      warnings.push(...r.problems.map((p) => `lead time used release commit times: ${p}`));
    }
  }

  const report = computeDora({ deployments, releases, incidents, commitTimes, since: q.since, until: q.until, app: q.app, env: q.env, isProduction: isProd });
  // With --env the figures are of that environment: it is listed when it counts as production.
  const productionEnvironments = q.env !== undefined ? (isProd(q.env) ? [q.env] : []) : [...prod].filter(([, p]) => p).map(([n]) => n).sort();
  return { ...report, productionEnvironments, warnings };
}
