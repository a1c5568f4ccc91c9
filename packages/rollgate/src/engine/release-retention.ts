/**
 * Release retention: which releases of an app are in use, and pruning the rest down to the N
 * newest. A release that runs anywhere, is an environment's stable version or its rollback
 * target, or belongs to a deployment or pipeline run in progress is never pruned, whatever N.
 * Pruning removes the files and marks the record (deployments, DORA and the audit trail keep
 * naming it); uploading the same version with the same content brings it back.
 */
import { rm } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { isActiveStatus, type ReleaseRecord } from '../core/domain.js';
import { RollgateError, errorMessage } from '../core/errors.js';
import { isActiveRun } from '../core/pipeline.js';
import type { Runtime } from '../runtime/types.js';
import type { Store } from '../store/types.js';
import type { EventBus } from './events.js';
import type { Logger } from './logger.js';

export type ReleaseRole = 'running' | 'stable' | 'rollback-target' | 'deploying' | 'pipeline';

export interface ReleaseUse {
  role: ReleaseRole;
  /** The environment, or null for a pipeline run (which may span several). */
  env: string | null;
  detail?: string;
}

/** A release as `rollgate releases list` shows it: what uses it, whether pruning may remove it. */
export interface ReleaseView extends ReleaseRecord {
  uses: ReleaseUse[];
  protected: boolean;
  /** false when the data plane did not answer: `uses` then lacks "running". */
  runningKnown: boolean;
}

export interface PruneResult {
  app: string;
  keep: number;
  dryRun: boolean;
  pruned: { id: string; version: string }[];
  /** Kept although older than the N newest, and why. */
  protected: { id: string; version: string; uses: ReleaseUse[] }[];
  kept: number;
}

export interface RetentionDeps {
  store: Store;
  runtime: Runtime;
  events: EventBus;
  log: Logger;
  /** Where release directories live; nothing outside it is ever removed. */
  releasesDir: string;
  /** N of the automatic policy. */
  keep: number;
}

/** Enough for any app: retention looks at every release it has. */
const ALL = 1_000_000;

export class ReleaseRetention {
  /** One prune per app at a time (the database guards the marks; this spares double work). */
  private readonly running = new Map<string, Promise<PruneResult>>();

  constructor(private readonly d: RetentionDeps) {}

  get keep(): number {
    return this.d.keep;
  }

  async list(app: string): Promise<ReleaseView[]> {
    const releases = await this.d.store.listReleases(app, ALL);
    // A list is still useful while the agent is down; pruning is not allowed then.
    let runningKnown = true;
    const uses = await this.usesOf(app, releases).catch(async (e: unknown) => {
      if (!(e instanceof RollgateError && e.code === 'agent_unreachable')) throw e;
      runningKnown = false;
      return this.usesOf(app, releases, { skipRuntime: true });
    });
    return releases.map((r) => view(r, uses.get(r.id) ?? [], runningKnown));
  }

  /** Prunes `app` down to its `keep` newest kept releases plus every protected one. */
  async prune(app: string, opts: { keep: number; actor: string; dryRun?: boolean }): Promise<PruneResult> {
    if (!(await this.d.store.getApp(app))) throw new RollgateError('not_found', `unknown app "${app}"; see \`rollgate status\` for the apps there are`);
    const busy = this.running.get(app);
    if (busy && !opts.dryRun) await busy.catch(() => undefined);
    const p = this.pruneNow(app, opts);
    if (!opts.dryRun) this.running.set(app, p);
    try {
      return await p;
    } finally {
      if (this.running.get(app) === p) this.running.delete(app);
    }
  }

  /** The automatic policy (after each successful deployment, and at start): never throws. */
  async auto(app: string): Promise<void> {
    try {
      const r = await this.prune(app, { keep: this.d.keep, actor: 'system' });
      if (r.pruned.length) this.d.log.info('releases pruned', { app, keep: r.keep, pruned: r.pruned.map((x) => x.version) });
    } catch (e) {
      this.d.log.warn('automatic release pruning skipped', { app, error: errorMessage(e) });
    }
  }

  private async pruneNow(app: string, opts: { keep: number; actor: string; dryRun?: boolean }): Promise<PruneResult> {
    const releases = await this.d.store.listReleases(app, ALL);
    const uses = await this.usesOf(app, releases);
    const live = releases.filter((r) => r.prunedAt === null);
    const older = live.slice(opts.keep);
    const prot = older.filter((r) => (uses.get(r.id) ?? []).length > 0);
    let candidates = older.filter((r) => (uses.get(r.id) ?? []).length === 0);
    const result = (pruned: ReleaseRecord[]): PruneResult => ({
      app,
      keep: opts.keep,
      dryRun: opts.dryRun === true,
      pruned: pruned.map((r) => ({ id: r.id, version: r.version })),
      protected: prot.map((r) => ({ id: r.id, version: r.version, uses: uses.get(r.id) ?? [] })),
      kept: live.length - pruned.length,
    });
    if (opts.dryRun || candidates.length === 0) return result(candidates);

    // Mark first, so a deploy from now on refuses these; then look again for one that started
    // using a release in between, and give that one back before any file is touched.
    const marked: ReleaseRecord[] = [];
    for (const r of candidates) if (await this.d.store.markReleasePruned(r.id)) marked.push(r);
    const again = await this.usesOf(app, releases);
    candidates = [];
    for (const r of marked) {
      if ((again.get(r.id) ?? []).length > 0) await this.d.store.restoreRelease(r.id, r.artifactDir);
      else candidates.push(r);
    }
    for (const r of candidates) {
      if (isInside(this.d.releasesDir, r.artifactDir)) await rm(r.artifactDir, { recursive: true, force: true });
      await this.d.events.emit({ type: 'release.pruned', app, data: { version: r.version, releaseId: r.id, actor: opts.actor, keep: opts.keep } });
    }
    return result(candidates);
  }

  /**
   * What uses each release of `app`: the data plane's report (what runs), each environment's
   * stable version and rollback target, deployments and pipeline runs in progress. Throws when
   * the data plane cannot be asked: without knowing what runs nothing may be pruned.
   */
  private async usesOf(app: string, releases: ReleaseRecord[], opts: { skipRuntime?: boolean } = {}): Promise<Map<string, ReleaseUse[]>> {
    const out = new Map<string, ReleaseUse[]>();
    const add = (id: string | null, use: ReleaseUse) => {
      if (!id) return;
      const list = out.get(id) ?? [];
      if (!list.some((u) => u.role === use.role && u.env === use.env)) list.push(use);
      out.set(id, list);
    };
    const byVersion = new Map(releases.map((r) => [r.version, r.id]));
    let observed: Awaited<ReturnType<Runtime['observeAll']>> = [];
    try {
      if (!opts.skipRuntime) observed = await this.d.runtime.observeAll();
    } catch (e) {
      throw new RollgateError('agent_unreachable', `cannot tell which releases of "${app}" run (the data plane did not answer: ${errorMessage(e)}); nothing was pruned, try again once the agent is up`);
    }
    for (const svc of observed) {
      if (svc.app !== app) continue;
      for (const v of svc.versions) {
        if (v.instances.length > 0 || v.desiredReplicas > 0) add(v.releaseId || byVersion.get(v.version) || null, { role: 'running', env: svc.env, detail: `${v.ready}/${v.desiredReplicas} ready` });
      }
    }
    for (const s of await this.d.store.listServiceStates()) {
      if (s.app !== app) continue;
      add(s.currentReleaseId, { role: 'stable', env: s.env });
      add(s.previousReleaseId, { role: 'rollback-target', env: s.env });
    }
    for (const dep of await this.d.store.listActiveDeployments()) {
      if (dep.app !== app || !isActiveStatus(dep.status)) continue;
      add(dep.releaseId, { role: 'deploying', env: dep.env, detail: `deployment ${dep.id}` });
      add(dep.previousReleaseId, { role: 'rollback-target', env: dep.env, detail: `of deployment ${dep.id}` });
    }
    for (const run of await this.d.store.listActiveRuns()) {
      if (run.app === app && isActiveRun(run.status)) add(run.releaseId, { role: 'pipeline', env: null, detail: `run ${run.id} of ${run.pipeline}` });
    }
    return out;
  }
}

function view(r: ReleaseRecord, uses: ReleaseUse[], runningKnown: boolean): ReleaseView {
  return { ...r, uses, protected: uses.length > 0, runningKnown };
}

function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel !== '' && rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel);
}

/**
 * The automatic policy: prune an app after each of its deployments succeeds, and every app once
 * at start. `stop()` unsubscribes and waits for prunes in flight.
 */
export function autoPruneAfterDeploys(bus: EventBus, retention: ReleaseRetention, store: Store): { startup(): Promise<void>; stop(): Promise<void> } {
  const inFlight = new Set<Promise<void>>();
  const run = (app: string) => {
    const p = retention.auto(app).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const unsubscribe = bus.subscribe((e) => {
    const data = e.data as { status?: unknown } | null;
    if (e.type === 'deployment.finished' && e.app && data?.status === 'succeeded') run(e.app);
  });
  return {
    async startup() {
      const listed = store.listApps().then(
        (apps) => apps.forEach((a) => run(a.name)),
        () => undefined, // the store is closing: nothing to prune
      );
      inFlight.add(listed);
      await listed;
      inFlight.delete(listed);
      await Promise.all([...inFlight]);
    },
    async stop() {
      unsubscribe();
      await Promise.all([...inFlight]);
    },
  };
}
