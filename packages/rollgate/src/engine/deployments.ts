/**
 * User commands on deployments. Each writes its intent to the store under the deployment's
 * lock, then wakes the executor, which acts on it.
 */
import { randomUUID } from 'node:crypto';
import { isActiveStatus, type DeploymentRecord, type DeploymentState, type ReleaseRecord } from '../core/domain.js';
import { RollgateError } from '../core/errors.js';
import { VERSION_RE, defaultStrategy, resolveStrategy, strategyType, withEnvironmentAnalysis, type StrategySpec, type StrategyType } from '../core/spec.js';
import type { DeployRequest, RollbackRequest } from '../api/contract.js';
import type { Store } from '../store/types.js';
import { loadServiceConfig } from './config-store.js';
import { versionSettings } from './service-config.js';
import { changedSettings, settingsServed } from './version-settings.js';
import type { EventBus } from './events.js';
import type { Executor } from './executor.js';
import type { Releases } from './releases.js';

/** The suffix of a release that carries another's files with changed settings: 1.4.2+s2. */
const SETTINGS_SUFFIX = /\+s\d+$/;

const STRATEGY_NAMES: Record<string, StrategyType> = { rolling: 'rolling', 'blue-green': 'blueGreen', canary: 'canary', recreate: 'recreate' };

export function initialState(nowIso: string): DeploymentState {
  return {
    stepIndex: 0,
    stepStartedAt: nowIso,
    promoteRequested: false,
    promoteFull: false,
    pausedByUser: false,
    abortRequested: false,
    revert: null,
    skipAnalysis: false,
    analysis: null,
    endHandled: false,
    scaleDownAt: null,
    oldScaledDown: false,
    lastProgressAt: nowIso,
    lastReady: 0,
  };
}

/** A pruned release has no files left to run: say how to bring it back. */
function assertKept(r: ReleaseRecord): void {
  if (r.prunedAt !== null) {
    throw new RollgateError('conflict', `release ${r.version} of "${r.app}" was pruned on ${r.prunedAt} (its files were removed by retention); upload the same build again (rollgate deploy --path DIR --version ${r.version}) to bring it back, or deploy a kept release (rollgate releases list ${r.app})`);
  }
}

export class Deployments {
  constructor(
    private readonly store: Store,
    private readonly executor: Executor,
    private readonly events: EventBus,
    private readonly releases: Pick<Releases, 'copy'>,
  ) {}

  async deploy(req: DeployRequest, actor: string): Promise<DeploymentRecord> {
    const cfg = await loadServiceConfig(this.store, req.app, req.env);
    const release = req.releaseId ? await this.store.getRelease(req.releaseId) : await this.store.getReleaseByVersion(req.app, req.version!);
    if (!release || release.app !== req.app) {
      throw new RollgateError('not_found', `no release ${req.version ?? req.releaseId} of app "${req.app}"; create it first (rollgate deploy --path DIR, or POST /v1/apps/${req.app}/releases)`);
    }
    assertKept(release);
    const svc = await this.store.getServiceState(req.app, req.env);
    const previous = svc?.currentReleaseId ? await this.store.getRelease(svc.currentReleaseId) : null;
    let candidate = release;
    if (previous?.id === release.id) {
      const active = await this.store.getActiveDeployment(req.app, req.env);
      if (!active) {
        // Settings ride with a version: changed settings of the release that serves roll out as
        // a release of their own (the same files), judged and revertible like any other.
        const served = await settingsServed(this.store, req.app, req.env, release.id);
        const changed = served ? changedSettings(served, versionSettings(cfg)) : [];
        if (changed.length === 0) throw new RollgateError('conflict', `${req.app} ${release.version} already serves ${req.env} with the settings in the spec; deploy a new version, or roll back with rollgate rollback`);
        candidate = await this.settingsRelease(release, changed, actor);
      }
    }
    let strategy: StrategySpec = resolveStrategy(cfg.appSpec, req.env, cfg.envSpec);
    if (req.strategy) {
      const want = STRATEGY_NAMES[req.strategy]!;
      if (strategyType(strategy) !== want) strategy = withEnvironmentAnalysis(defaultStrategy(want), cfg.envSpec);
    }
    const settings = { candidate: versionSettings(cfg), stable: previous ? ((await settingsServed(this.store, req.app, req.env, previous.id)) ?? versionSettings(cfg)) : null };
    const note = candidate === release ? '' : `: the settings of ${release.version} changed (${changedSettings(settings.stable ?? settings.candidate, settings.candidate).join(', ')}) and roll out as ${candidate.version}, the same files`;
    return this.create(req.app, req.env, 'deploy', candidate.id, candidate.version, previous, strategy, actor, settings, note);
  }

  /**
   * The release a settings change of `base` rolls out as: the same files under the next free
   * `BASE+sN` version, so the data plane runs it beside `base` and a rollback finds `base` with
   * the settings it ran with.
   */
  private async settingsRelease(base: ReleaseRecord, changed: string[], actor: string): Promise<ReleaseRecord> {
    const root = base.version.replace(SETTINGS_SUFFIX, '');
    let n = 1;
    while (await this.store.getReleaseByVersion(base.app, `${root}+s${n}`)) n++;
    const version = `${root}+s${n}`;
    if (!VERSION_RE.test(version)) {
      throw new RollgateError('invalid_input', `the settings of ${base.app} ${base.version} changed (${changed.join(', ')}), and they roll out as a version of their own, but ${version} is longer than 64 characters; upload the same files under a shorter --version`);
    }
    return this.releases.copy(base, version, actor);
  }

  async rollback(req: RollbackRequest, actor: string): Promise<DeploymentRecord> {
    const cfg = await loadServiceConfig(this.store, req.app, req.env);
    const active = await this.store.getActiveDeployment(req.app, req.env);
    if (active) {
      // Rolling back a rollout in progress means: abort it, traffic back to stable at once.
      if (req.toVersion && req.toVersion !== active.previousVersion) {
        throw new RollgateError('deployment_in_progress', `deployment ${active.id} of ${active.version} is in progress; rollback can only return to ${active.previousVersion ?? 'nothing'} now (run rollgate abort, then roll back to ${req.toVersion})`);
      }
      return this.abort(active.id, actor);
    }
    const svc = await this.store.getServiceState(req.app, req.env);
    const current = svc?.currentReleaseId ? await this.store.getRelease(svc.currentReleaseId) : null;
    if (!current) throw new RollgateError('conflict', `${req.app} does not serve ${req.env} yet; there is nothing to roll back`);
    const target = req.toVersion ? await this.store.getReleaseByVersion(req.app, req.toVersion) : svc?.previousReleaseId ? await this.store.getRelease(svc.previousReleaseId) : null;
    if (!target) {
      throw new RollgateError(req.toVersion ? 'not_found' : 'conflict', req.toVersion ? `no release ${req.toVersion} of app "${req.app}"` : `${req.app} has had only one release in ${req.env}; there is no previous release to roll back to`);
    }
    if (target.id === current.id) throw new RollgateError('conflict', `${req.app} ${target.version} already serves ${req.env}`);
    assertKept(target);
    // Back to what it ran with when it served, not what the spec says now.
    const settings = {
      candidate: (await settingsServed(this.store, req.app, req.env, target.id)) ?? versionSettings(cfg),
      stable: (await settingsServed(this.store, req.app, req.env, current.id)) ?? versionSettings(cfg),
    };
    return this.create(req.app, req.env, 'rollback', target.id, target.version, current, resolveStrategy(cfg.appSpec, req.env, cfg.envSpec), actor, settings);
  }

  promote(id: string, opts: { full: boolean; skipAnalysis: boolean }, actor: string): Promise<DeploymentRecord> {
    const what = `${opts.full ? 'full promotion' : 'promotion'}${opts.skipAnalysis ? ' without analysis' : ''} requested`;
    return this.command(id, actor, 'promote', what, (s) => ({ ...s, promoteRequested: true, promoteFull: s.promoteFull || opts.full, pausedByUser: false, skipAnalysis: s.skipAnalysis || opts.skipAnalysis }));
  }

  /** Forces a rollback of a rollout in progress, as a failed analysis would. */
  fail(id: string, actor: string, reason?: string): Promise<DeploymentRecord> {
    const why = `failed by ${actor}${reason ? `: ${reason}` : ''}`;
    return this.command(id, actor, 'fail', 'rollback forced', (s) => ({ ...s, abortRequested: true, abortStatus: 'rolled_back', abortReason: why, pausedByUser: false }));
  }

  /** Deploys again the release whose last deployment to this service failed, was aborted or rolled back. */
  async retry(app: string, env: string, actor: string): Promise<DeploymentRecord> {
    const [last] = await this.store.listDeployments({ app, env, limit: 1 });
    if (!last) throw new RollgateError('not_found', `${app} has no deployment in ${env} to retry`);
    if (isActiveStatus(last.status)) throw new RollgateError('deployment_in_progress', `deployment ${last.id} of ${last.version} is still ${last.status} in ${env}; retry applies to one that ended`);
    if (last.status === 'succeeded' || last.kind !== 'deploy') throw new RollgateError('conflict', `the last deployment of ${app} to ${env} (${last.version}) ${last.status === 'succeeded' ? 'succeeded' : 'was a rollback'}; there is nothing to retry`);
    return this.deploy({ app, env, releaseId: last.releaseId }, actor);
  }

  pause(id: string, actor: string): Promise<DeploymentRecord> {
    return this.command(id, actor, 'pause', 'paused by user', (s) => ({ ...s, pausedByUser: true }));
  }

  resume(id: string, actor: string): Promise<DeploymentRecord> {
    return this.command(id, actor, 'resume', 'resumed by user', (s) => ({ ...s, pausedByUser: false, lastProgressAt: new Date().toISOString() }));
  }

  abort(id: string, actor: string): Promise<DeploymentRecord> {
    return this.command(id, actor, 'abort', 'abort requested: traffic returns to the stable version', (s) => ({ ...s, abortRequested: true, pausedByUser: false }));
  }

  private async create(app: string, env: string, kind: 'deploy' | 'rollback', releaseId: string, version: string, previous: { id: string; version: string } | null, strategy: StrategySpec, actor: string, settings: NonNullable<DeploymentState['settings']>, note = ''): Promise<DeploymentRecord> {
    const nowIso = new Date().toISOString();
    const dep = await this.store.createDeployment({
      id: randomUUID(),
      app,
      env,
      kind,
      releaseId,
      version,
      previousReleaseId: previous?.id ?? null,
      previousVersion: previous?.version ?? null,
      strategy,
      status: 'pending',
      state: { ...initialState(nowIso), settings },
      message: 'queued',
      requestedBy: actor,
      startedAt: null,
      finishedAt: null,
    });
    await this.store.addDeploymentEvent(dep.id, 'created', `${kind} of ${version} to ${env} requested by ${actor}${previous ? ` (serving now: ${previous.version})` : ''}${note}`);
    await this.events.emit({ type: 'deployment.created', app, env, deploymentId: dep.id, data: { version, kind, previousVersion: previous?.version ?? null, actor } });
    this.executor.drive(dep.id);
    return dep;
  }

  private async command(id: string, actor: string, kind: string, message: string, change: (s: DeploymentState) => DeploymentState): Promise<DeploymentRecord> {
    const rec = await this.executor.lock.run(id, async () => {
      const dep = await this.store.getDeployment(id);
      if (!dep) throw new RollgateError('not_found', `no deployment ${id}`);
      if (!isActiveStatus(dep.status)) throw new RollgateError('conflict', `deployment ${id} already ended (${dep.status}); ${kind} applies to a deployment in progress`);
      if (dep.state.revert && kind !== 'abort' && kind !== 'fail') throw new RollgateError('conflict', `deployment ${id} is being reverted (${dep.state.revert.reason}); it can no longer be ${kind}d`);
      const updated = await this.store.updateDeployment(id, { state: change(dep.state) });
      await this.store.addDeploymentEvent(id, kind, `${message} by ${actor}`);
      await this.events.emit({ type: `deployment.${kind}`, app: dep.app, env: dep.env, deploymentId: id, data: { actor } });
      return updated;
    });
    this.executor.wake(id);
    return rec;
  }
}
