/**
 * The durable deployment executor. One loop per active deployment:
 *   read the deployment from the store -> observe the data plane -> ask the pure planner
 *   -> write the decision -> apply it (idempotent) -> wait for news or a timer.
 * Every decision is written before it is acted on, and applying the same desired state twice
 * changes nothing, so a server killed at any line resumes where it was on restart.
 */
import type { RouteSpec, ServiceKey, ServiceObserved } from '../core/dataplane.js';
import { isActiveStatus, type DeploymentRecord, type DeploymentState, type DeploymentStatus, type ReleaseRecord, type RevertIntent, type VersionSettings } from '../core/domain.js';
import { isProduction, type StrategySpec } from '../core/spec.js';
import { analysisPhase, type AnalysisEvaluator, type AnalysisResult } from './analysis-types.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { errorMessage, isRollgateError } from '../core/errors.js';
import { canonicalJson } from '../core/canonical-json.js';
import { plan, planRevert, planRollback, allTo, type Plan, type PlanContext } from '../core/strategies/index.js';
import type { Runtime } from '../runtime/types.js';
import type { Store } from '../store/types.js';
import type { TrafficProvider } from '../traffic/types.js';
import { loadServiceConfig } from './config-store.js';
import type { EventBus } from './events.js';
import { KeyedLock } from './keyed-lock.js';
import type { Logger } from './logger.js';
import { countsFrom } from './observed.js';
import { declaration, replicasOf, type ServiceConfig, type SettingsOf } from './service-config.js';
import { settingsServed } from './version-settings.js';

export interface ExecutorDeps {
  store: Store;
  runtime: Runtime;
  traffic: TrafficProvider;
  events: EventBus;
  log: Logger;
  now?: () => number;
  /** Longest wait between two looks at a deployment when nothing is heard from the data plane. */
  maxWaitMs?: number;
  /** Automated analysis; without it rollouts move on their steps alone. */
  analysis?: AnalysisEvaluator;
  /** Called once a deployment has ended (incidents, notifications). */
  onEnded?: (dep: DeploymentRecord) => Promise<void>;
}

/** How often a deployment under analysis is looked at: the judge decides as soon as evidence suffices. */
const ANALYSIS_TICK_MS = 200;

/** Data-plane refusals that no retry can fix. */
const PERMANENT_REFUSALS = new Set(['invalid_spec', 'invalid_input', 'port_in_use']);

function abortScaleDownDelay(strategy: StrategySpec): number {
  return 'canary' in strategy ? parseDuration(strategy.canary.abortScaleDownDelay) : parseDuration('30s');
}

export interface PlanView {
  step: string;
  candidateWeight: number;
}

type TickResult = { done: true } | { done: false; again: boolean; waitMs: number };

const serviceId = (k: ServiceKey) => `${k.app}/${k.env}`;

export class Executor {
  readonly lock = new KeyedLock();
  private readonly loops = new Map<string, { wake: () => void; done?: Promise<void> }>();
  private readonly plans = new Map<string, PlanView>();
  /** Last declaration/routes sent per service, so a tick that changes nothing sends nothing. */
  private readonly applied = new Map<string, { decl: string; routes: string }>();
  private readonly scaleDowns = new Map<string, NodeJS.Timeout>();
  private unwatch: (() => void) | null = null;
  private stopped = false;
  private readonly now: () => number;
  private readonly maxWaitMs: number;

  constructor(private readonly d: ExecutorDeps) {
    this.now = d.now ?? Date.now;
    this.maxWaitMs = d.maxWaitMs ?? 1000;
  }

  /** Resumes every active deployment and every pending scale-down found in the store. */
  async start(): Promise<void> {
    this.unwatch = this.d.runtime.watch((change) => {
      this.wakeService(change);
      // Instance health is part of the platform's event stream (dashboard, CLI live view).
      void this.d.events
        .emit({ type: 'instance.changed', app: change.app, env: change.env, data: { instance: change.instance.id, version: change.instance.version, state: change.instance.state, lastError: change.instance.lastError } })
        .catch((e) => this.d.log.warn('could not record an instance event', { error: errorMessage(e) }));
    });
    for (const dep of await this.d.store.listActiveDeployments()) {
      // Time the server was down is not the rollout being stuck: the progress clock restarts.
      const at = new Date(this.now()).toISOString();
      await this.d.store.updateDeployment(dep.id, { state: { ...dep.state, lastProgressAt: at, ...(dep.state.revert ? { revert: { ...dep.state.revert, at } } : {}) } });
      this.drive(dep.id);
    }
    // Deployments that ended while their end hooks (incidents, notifications) had not run yet.
    for (const dep of await this.d.store.listDeployments({ limit: 200 })) {
      if (!isActiveStatus(dep.status) && dep.state.endHandled === false) await this.ended(dep);
    }
    for (const s of await this.d.store.listServiceStates()) {
      const [last] = await this.d.store.listDeployments({ app: s.app, env: s.env, limit: 1 });
      if (last && last.state.scaleDownAt && !last.state.oldScaledDown) this.scheduleScaleDown(last);
    }
  }

  /** Stops the loops; the data plane keeps serving as last set. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    for (const t of this.scaleDowns.values()) clearTimeout(t);
    const running = [...this.loops.values()];
    for (const l of running) l.wake();
    // Let ticks in flight finish, so nothing (an analysis run, a timer) starts after stop.
    await Promise.all(running.map((l) => l.done));
  }

  planOf(id: string): PlanView | null {
    return this.plans.get(id) ?? null;
  }

  /** Starts the loop of a deployment if it is not running. */
  drive(id: string): void {
    if (this.stopped || this.loops.has(id)) return;
    let wakeFn: () => void = () => {};
    let woken = false;
    const loop: { wake: () => void; done?: Promise<void> } = { wake: () => ((woken = true), wakeFn()) };
    this.loops.set(id, loop);
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        if (woken) return resolve();
        const t = setTimeout(resolve, ms);
        wakeFn = () => {
          clearTimeout(t);
          resolve();
        };
      });
    loop.done = (async () => {
      try {
        while (!this.stopped) {
          woken = false;
          let waitMs = this.maxWaitMs;
          try {
            const r = await this.lock.run(id, () => this.tick(id));
            if (r.done) break;
            if (r.again) continue;
            waitMs = Math.min(r.waitMs, this.maxWaitMs);
          } catch (e) {
            // The data plane or the store is unreachable: keep the deployment as it is and look again.
            this.d.log.warn('deployment tick failed; retrying', { deployment: id, error: errorMessage(e) });
            waitMs = this.maxWaitMs;
          }
          await sleep(waitMs);
        }
      } finally {
        this.loops.delete(id);
      }
    })();
  }

  wake(id: string): void {
    const l = this.loops.get(id);
    if (l) l.wake();
    else this.drive(id);
  }

  private wakeService(key: ServiceKey): void {
    // Deployment ids are not known per service here; waking all loops is cheap (a handful at most).
    for (const l of this.loops.values()) l.wake();
    void key;
  }

  private async tick(id: string): Promise<TickResult> {
    const { store } = this.d;
    let dep = await store.getDeployment(id);
    if (!dep || !isActiveStatus(dep.status)) return { done: true };
    const cfg = await loadServiceConfig(store, dep.app, dep.env);
    const releases = await this.releasesOf(dep);
    const now = this.now();
    const nowIso = new Date(now).toISOString();

    if (dep.status === 'pending') {
      // Another deployment may have ended between this one's creation and now: its stable must still be what serves.
      const svc = await store.getServiceState(dep.app, dep.env);
      if ((svc?.currentReleaseId ?? null) !== dep.previousReleaseId && dep.kind === 'deploy') {
        const msg = `what serves ${dep.env} changed after this deployment was requested (it expected ${dep.previousVersion ?? 'nothing'}); deploy again`;
        const rec = await store.updateDeployment(id, { status: 'failed', startedAt: nowIso, finishedAt: nowIso, message: msg });
        await this.timeline(rec, 'failed', msg);
        return { done: true };
      }
      dep = await store.updateDeployment(id, { status: 'progressing', startedAt: nowIso, message: 'started' });
      await this.timeline(dep, 'started', `deploying ${dep.version} to ${dep.env} (${dep.kind === 'rollback' ? 'rollback' : strategyLabel(dep)})`);
    }

    const observed = await this.d.runtime.observe(dep);
    const counts = countsFrom(observed);
    let state: DeploymentState = { ...dep.state };
    const cand = counts[dep.version];

    // Automated analysis: judged before planning so a failure moves traffic in this same tick.
    let analysisFailed: string | null = null;
    let analysisHold: string | null = null;
    let analysisPending = false;
    if (!state.revert && !state.skipAnalysis && this.d.analysis && dep.kind === 'deploy') {
      const found = analysisPhase(dep.strategy, state, dep.previousVersion !== null);
      const phase = found && { ...found, production: isProduction(dep.env, cfg.envSpec) };
      let r: AnalysisResult | null = null;
      try {
        r = phase ? await this.d.analysis.evaluate(dep, phase, observed, now) : null;
      } catch (e) {
        // An analysis that cannot run must never let the rollout through, nor stall it.
        analysisFailed = `the analysis could not run: ${errorMessage(e)}`;
      }
      if (r) {
        if (r.snapshot.verdict !== state.analysis?.verdict || r.snapshot.reason !== state.analysis?.reason || now - Date.parse(state.analysis?.at ?? nowIso) > 2000) {
          state = { ...state, analysis: r.snapshot };
          dep = await store.updateDeployment(id, { state });
          await this.d.events.emit({ type: 'analysis.updated', app: dep.app, env: dep.env, deploymentId: dep.id, data: r.snapshot });
        }
        if (r.snapshot.verdict === 'fail') analysisFailed = r.snapshot.reason;
        else if (r.hold) analysisHold = r.hold;
        analysisPending = !r.passed;
      } else if (state.analysis && state.analysis.verdict === 'running') {
        this.d.analysis.forget(dep.id);
      }
    } else if (this.d.analysis && (state.revert || state.skipAnalysis)) {
      this.d.analysis.forget(dep.id);
    }

    // Decide whether this deployment must be reverted, and write that down before acting on it.
    if (!state.revert) {
      const revert = this.decideRevert(dep, cfg, state, cand, analysisFailed, now);
      if (revert) {
        state = { ...state, revert };
        dep = await store.updateDeployment(id, { state, status: 'progressing', message: `${revert.status === 'rolled_back' ? 'rolling back' : 'reverting'}: ${revert.reason}` });
        await this.timeline(dep, 'reverting', revert.reason, { status: revert.status });
      }
    }

    const ctx: PlanContext = {
      strategy: dep.strategy,
      replicas: replicasOf(cfg),
      stable: dep.previousVersion,
      candidate: dep.version,
      state,
      observed: counts,
      now,
      analysisPending,
    };
    const p: Plan = state.revert ? planRevert(ctx) : dep.kind === 'rollback' ? planRollback(ctx) : plan(ctx);
    this.plans.set(id, { step: p.step, candidateWeight: p.candidateWeight });
    // 7. Paused by a user: hold what the data plane has now; do not move a single instance.
    const holdStill = state.pausedByUser && !state.revert;
    try {
      if (!holdStill) await this.apply(cfg, p.desired.replicas, p.desired.routes, releases, observed, settingsOfDeployment(dep));
    } catch (e) {
      // The data plane refused the change for good: retrying cannot help. Revert (traffic back to
      // stable); if even the revert is refused, end here with the reason.
      if (!isRollgateError(e) || !PERMANENT_REFUSALS.has(e.code)) throw e;
      const reason = `the data plane refused the change: ${e.message}`;
      if (!state.revert) {
        state = { ...state, revert: { status: 'failed', reason, at: nowIso, keepCandidate: false } };
        dep = await store.updateDeployment(id, { state, status: 'progressing', message: `reverting: ${reason}` });
        await this.timeline(dep, 'reverting', reason, { status: 'failed' });
        return { done: false, again: true, waitMs: 0 };
      }
      // The revert itself was refused: say so once, not the same refusal twice.
      const ended = reason !== state.revert.reason ? `${state.revert.reason}; then ${reason}` : dep.previousVersion ? `${reason} (going back to ${dep.previousVersion} was refused too)` : reason;
      await this.finish(dep, cfg, { ...state, revert: { ...state.revert, reason: ended } }, releases);
      return { done: true };
    }

    // Progress = more candidate instances ready, or a pause (waiting on purpose is not being stuck).
    const ready = cand?.ready ?? 0;
    if (ready > state.lastReady || (p.outcome.kind === 'wait' && p.outcome.paused) || analysisHold) {
      state = { ...state, lastReady: Math.max(ready, state.lastReady), lastProgressAt: nowIso };
      dep = await store.updateDeployment(id, { state });
    }
    const analysing = !state.revert && state.analysis?.verdict === 'running';
    const tickMs = analysing ? ANALYSIS_TICK_MS : this.maxWaitMs;

    // A revert that cannot finish (stable never gets healthy again) ends after the progress deadline;
    // traffic is already on stable, so nothing more can be done by waiting.
    if (state.revert && p.outcome.kind !== 'complete' && now - Date.parse(state.revert.at) > parseDuration(cfg.envSpec.progressDeadline)) {
      const reason = `${state.revert.reason}; then ${dep.previousVersion ?? 'the service'} did not recover within ${cfg.envSpec.progressDeadline}: ${p.outcome.kind === 'wait' ? p.outcome.reason : p.step}`;
      await this.finish(dep, cfg, { ...state, revert: { ...state.revert, status: 'failed', reason } }, releases);
      return { done: true };
    }

    switch (p.outcome.kind) {
      case 'complete':
        if (state.pausedByUser && !state.revert) return this.hold(dep, `paused by user at ${p.step} (rollgate resume)`, 'paused');
        if (analysisHold && !state.revert) return this.hold(dep, `${p.step}: ${analysisHold}`, 'paused', tickMs);
        await this.finish(dep, cfg, state, releases);
        return { done: true };
      case 'advance': {
        if (state.pausedByUser) return this.hold(dep, `paused by user at ${p.step} (rollgate resume)`, 'paused');
        if (analysisHold) return this.hold(dep, `${p.step}: ${analysisHold}`, 'paused', tickMs);
        state = { ...state, stepIndex: state.stepIndex + 1, stepStartedAt: nowIso, promoteRequested: false, lastProgressAt: nowIso };
        dep = await store.updateDeployment(id, { state, status: 'progressing', message: `completed ${p.step}` });
        await this.timeline(dep, 'step', `completed ${p.step}`, { stepIndex: state.stepIndex - 1, candidateWeight: p.candidateWeight });
        return { done: false, again: true, waitMs: 0 };
      }
      case 'wait': {
        const status: DeploymentStatus = state.pausedByUser || (p.outcome.paused && p.outcome.waitMs === undefined) ? 'paused' : 'progressing';
        const msg = state.pausedByUser ? `paused by user at ${p.step} (rollgate resume)` : `${p.step}: ${p.outcome.reason}`;
        return this.hold(dep, msg, status, Math.min(p.outcome.waitMs ?? tickMs, tickMs));
      }
    }
  }

  private decideRevert(dep: DeploymentRecord, cfg: ServiceConfig, state: DeploymentState, cand: { failed: boolean; failureReason: string | null } | undefined, analysisFailed: string | null, now: number): RevertIntent | null {
    const at = new Date(now).toISOString();
    if (state.abortRequested) return { status: state.abortStatus ?? 'aborted', reason: state.abortReason ?? 'aborted by user', at, keepCandidate: false };
    if (analysisFailed) return { status: 'rolled_back', reason: `analysis failed: ${analysisFailed}`, at, keepCandidate: true };
    if (cand?.failed) return { status: 'failed', reason: `${dep.version} could not become healthy: ${cand.failureReason ?? 'unknown reason'}`, at, keepCandidate: false };
    if (!state.pausedByUser && now - Date.parse(state.lastProgressAt) > parseDuration(cfg.envSpec.progressDeadline)) {
      return { status: 'failed', reason: `no progress for ${cfg.envSpec.progressDeadline} (progressDeadline of ${dep.env}); the rollout was stopped and traffic returned to ${dep.previousVersion ?? 'nothing'}`, at, keepCandidate: false };
    }
    return null;
  }

  private async hold(dep: DeploymentRecord, message: string, status: DeploymentStatus, waitMs?: number): Promise<TickResult> {
    if (dep.message !== message || dep.status !== status) {
      const statusChanged = dep.status !== status;
      dep = await this.d.store.updateDeployment(dep.id, { message, status });
      if (statusChanged) await this.timeline(dep, status, message);
      else await this.d.events.emit({ type: 'deployment.progress', app: dep.app, env: dep.env, deploymentId: dep.id, data: { message, status } });
    }
    return { done: false, again: false, waitMs: waitMs ?? this.maxWaitMs };
  }

  private async finish(dep: DeploymentRecord, cfg: ServiceConfig, state: DeploymentState, releases: Map<string, ReleaseRecord>): Promise<void> {
    const { store } = this.d;
    const now = this.now();
    const nowIso = new Date(now).toISOString();
    this.d.analysis?.forget(dep.id);
    if (state.revert) {
      // Traffic is back on stable. A kept candidate goes after the strategy's abortScaleDownDelay.
      const keep = state.revert.keepCandidate && dep.previousVersion !== null;
      const finalState: DeploymentState = { ...state, scaleDownAt: keep ? new Date(now + abortScaleDownDelay(dep.strategy)).toISOString() : null, oldScaledDown: !keep };
      const rec = await store.updateDeployment(dep.id, { status: state.revert.status, finishedAt: nowIso, message: state.revert.reason, state: finalState });
      await this.timeline(rec, state.revert.status, `ended ${state.revert.status.replace('_', ' ')}: ${state.revert.reason}`);
      await this.d.events.emit({ type: 'deployment.finished', app: dep.app, env: dep.env, deploymentId: dep.id, data: { status: rec.status, version: dep.version, previousVersion: dep.previousVersion, reason: state.revert.reason } });
      if (keep) this.scheduleScaleDown(rec);
      await this.ended(rec);
      return;
    }
    const keepWarm = dep.kind === 'deploy' && dep.previousVersion !== null && ('canary' in dep.strategy || 'blueGreen' in dep.strategy);
    const delay = keepWarm ? parseDuration('canary' in dep.strategy ? dep.strategy.canary.scaleDownDelay : 'blueGreen' in dep.strategy ? dep.strategy.blueGreen.scaleDownDelay : '0s') : 0;
    const finalState: DeploymentState = { ...state, scaleDownAt: keepWarm ? new Date(now + delay).toISOString() : null, oldScaledDown: !keepWarm };
    await store.setServiceState(dep.app, dep.env, dep.releaseId, dep.previousReleaseId);
    const started = dep.startedAt ? Date.parse(dep.startedAt) : now;
    const msg = `${dep.version} serves all traffic in ${dep.env} (took ${formatDuration(now - started)})`;
    const rec = await store.updateDeployment(dep.id, { status: 'succeeded', finishedAt: nowIso, message: msg, state: finalState });
    await this.timeline(rec, 'succeeded', msg);
    await this.d.events.emit({ type: 'deployment.finished', app: dep.app, env: dep.env, deploymentId: dep.id, data: { status: 'succeeded', version: dep.version, previousVersion: dep.previousVersion, kind: dep.kind } });
    if (keepWarm) this.scheduleScaleDown(rec);
    else if (dep.previousVersion) {
      // Nothing kept warm: make sure the data plane holds only the new version.
      await this.apply(cfg, { [dep.version]: replicasOf(cfg) }, allTo(dep.version), releases, undefined, settingsOfDeployment(dep));
    }
    await this.ended(rec);
  }

  /** Lets incidents and notifications react; their failure never changes the deployment's outcome. */
  private async ended(rec: DeploymentRecord): Promise<void> {
    try {
      await this.d.onEnded?.(rec);
      // Recorded after the hooks ran, so a server that died in between runs them again on start.
      const cur = await this.d.store.getDeployment(rec.id);
      if (cur) await this.d.store.updateDeployment(rec.id, { state: { ...cur.state, endHandled: true } });
    } catch (e) {
      this.d.log.warn('a deployment-ended hook failed; it runs again at the next start', { deployment: rec.id, error: errorMessage(e) });
    }
  }

  /** After a promotion, the old version stays warm for scaleDownDelay (instant rollback), then goes. */
  private scheduleScaleDown(dep: DeploymentRecord): void {
    const key = serviceId(dep);
    clearTimeout(this.scaleDowns.get(key));
    const at = Date.parse(dep.state.scaleDownAt ?? new Date(0).toISOString());
    const t = setTimeout(() => {
      this.scaleDowns.delete(key);
      void this.lock.run(key, () => this.scaleDown(dep.id)).catch((e) => {
        this.d.log.warn('scale-down failed; retrying in 5s', { deployment: dep.id, error: errorMessage(e) });
        if (!this.stopped) this.scheduleScaleDown({ ...dep, state: { ...dep.state, scaleDownAt: new Date(this.now() + 5000).toISOString() } });
      });
    }, Math.max(0, at - this.now()));
    t.unref();
    this.scaleDowns.set(key, t);
  }

  /**
   * The end of a keep-warm window: the service keeps only the release it serves now (the old one
   * after a promotion, or the failed candidate after a rollback, goes away).
   */
  private async scaleDown(id: string): Promise<void> {
    const { store } = this.d;
    const dep = await store.getDeployment(id);
    if (!dep || dep.state.oldScaledDown) return;
    const [latest] = await store.listDeployments({ app: dep.app, env: dep.env, limit: 1 });
    // A newer deployment owns the service now; it decides what runs.
    if (latest?.id !== dep.id) return;
    const svc = await store.getServiceState(dep.app, dep.env);
    const cur = svc?.currentReleaseId ? await store.getRelease(svc.currentReleaseId) : null;
    if (!cur) return;
    const cfg = await loadServiceConfig(store, dep.app, dep.env);
    const curSettings = (await settingsServed(store, dep.app, dep.env, cur.id)) ?? undefined;
    await this.apply(cfg, { [cur.version]: replicasOf(cfg) }, allTo(cur.version), new Map([[cur.version, cur]]), undefined, (v) => (v === cur.version ? curSettings : undefined));
    const rec = await store.updateDeployment(id, { state: { ...dep.state, oldScaledDown: true } });
    const gone = dep.status === 'succeeded' ? dep.previousVersion : dep.version;
    await this.timeline(rec, 'scaled-down', `${gone} stopped after the scale-down delay`);
  }

  /**
   * Makes sure the data plane runs what the store says serves, for services with no active
   * deployment (adoption after a restart, or an agent that lost its state). Idempotent.
   */
  async reconcileSettled(): Promise<void> {
    const { store } = this.d;
    for (const s of await store.listServiceStates()) {
      if (!s.currentReleaseId || (await store.getActiveDeployment(s.app, s.env))) continue;
      const cur = await store.getRelease(s.currentReleaseId);
      if (!cur) continue;
      const cfg = await loadServiceConfig(store, s.app, s.env);
      const [last] = await store.listDeployments({ app: s.app, env: s.env, limit: 1 });
      const replicas: Record<string, number> = { [cur.version]: replicasOf(cfg) };
      const releases = new Map([[cur.version, cur]]);
      // Still inside a keep-warm window: the other release of the last deployment stays up too.
      if (last && last.state.scaleDownAt && !last.state.oldScaledDown) {
        const otherId = last.releaseId === cur.id ? last.previousReleaseId : last.releaseId;
        const other = otherId ? await store.getRelease(otherId) : null;
        if (other) {
          replicas[other.version] = other.id === last.releaseId ? (await this.d.runtime.observe(s))?.versions.find((v) => v.version === other.version)?.desiredReplicas ?? replicasOf(cfg) : replicasOf(cfg);
          releases.set(other.version, other);
        }
      }
      const served = new Map<string, VersionSettings | undefined>();
      for (const r of releases.values()) served.set(r.version, (await settingsServed(store, s.app, s.env, r.id)) ?? undefined);
      await this.apply(cfg, replicas, allTo(cur.version), releases, undefined, (v) => served.get(v));
    }
  }

  private async apply(cfg: ServiceConfig, replicas: Record<string, number>, routes: RouteSpec, releases: Map<string, ReleaseRecord>, observed?: ServiceObserved | null, settingsOf?: SettingsOf): Promise<void> {
    const key = serviceId(cfg);
    const decl = declaration(cfg, replicas, releases, settingsOf);
    const declJson = canonicalJson(decl);
    const routesJson = canonicalJson(routes);
    let last = this.applied.get(key);
    // Verify: a data plane that restarted or drifted no longer matches what we sent; send again.
    // Replicas are checked on what the Runtime observed, routes on what the TrafficProvider holds.
    if (last && observed !== undefined && !(observed && matches(decl.versions, observed) && (await this.routesHeld(cfg, routesJson)))) last = undefined;
    if (last?.decl !== declJson) await this.d.runtime.apply(decl);
    if (last?.routes !== routesJson) {
      await this.d.traffic.setRoutes(cfg, routes);
      if (last === undefined || last.routes !== routesJson) {
        await this.d.events.emit({ type: 'traffic.changed', app: cfg.app, env: cfg.env, data: { balance: routes.balance, weights: routes.weights, headerRoutes: routes.headerRoutes } });
      }
    }
    this.applied.set(key, { decl: declJson, routes: routesJson });
  }

  /** Whether the traffic provider holds exactly these routes for the service now. */
  private async routesHeld(key: ServiceKey, routesJson: string): Promise<boolean> {
    const held = await this.d.traffic.getRoutes(key);
    return held !== null && canonicalJson(held) === routesJson;
  }

  private async releasesOf(dep: DeploymentRecord): Promise<Map<string, ReleaseRecord>> {
    const m = new Map<string, ReleaseRecord>();
    for (const rid of [dep.releaseId, dep.previousReleaseId]) {
      if (!rid) continue;
      const r = await this.d.store.getRelease(rid);
      if (r) m.set(r.version, r);
    }
    return m;
  }

  private async timeline(dep: DeploymentRecord, kind: string, message: string, data?: unknown): Promise<void> {
    await this.d.store.addDeploymentEvent(dep.id, kind, message, data);
    await this.d.events.emit({ type: `deployment.${kind}`, app: dep.app, env: dep.env, deploymentId: dep.id, data: { message, status: dep.status, ...(data as object | undefined) } });
  }
}

/** Whether the runtime runs the declared replicas of each version (and nothing else wanted up). */
function matches(versions: { version: string; replicas: number }[], observed: ServiceObserved): boolean {
  const want = new Map(versions.map((v) => [v.version, v.replicas]));
  for (const v of observed.versions) if (v.desiredReplicas > 0 && want.get(v.version) !== v.desiredReplicas) return false;
  for (const [v, n] of want) if (observed.versions.find((o) => o.version === v)?.desiredReplicas !== n) return false;
  return true;
}

/** Each side of a deployment runs with the settings it was deployed with (see version-settings.ts). */
function settingsOfDeployment(dep: DeploymentRecord): SettingsOf {
  const s = dep.state.settings;
  if (!s) return () => undefined;
  return (v) => (v === dep.version ? s.candidate : v === dep.previousVersion ? (s.stable ?? undefined) : undefined);
}

function strategyLabel(dep: DeploymentRecord): string {
  return Object.keys(dep.strategy)[0] ?? 'strategy';
}
