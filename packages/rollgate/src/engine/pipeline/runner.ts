/**
 * The durable pipeline runner. One loop per active run:
 *   read the run and its stages from the store -> ask the pure planner what starts, stops or is
 *   skipped -> write that -> let each active stage's handler look at the world -> write what it
 *   says -> wait for news (a command ended, a deployment moved, an approval) or a timer.
 * Every state change is written before it is acted on, so a server killed at any line resumes
 * each run where it was (see stage-run.ts for commands that were running).
 */
import { join } from 'node:path';
import { errorMessage } from '../../core/errors.js';
import { planRun } from '../../core/pipeline-plan.js';
import { isActiveRun, type LogStream, type PipelineRunRecord, type StageRecord } from '../../core/pipeline.js';
import type { StageKind } from '../../core/pipeline-spec.js';
import type { Store, StagePatch } from '../../store/types.js';
import type { EventBus } from '../events.js';
import { KeyedLock } from '../keyed-lock.js';
import type { Logger } from '../logger.js';
import type { Releases } from '../releases.js';
import type { DeployQueue } from './deploy-queue.js';
import { serviceKey } from './stage-deploy.js';
import type { LogHub } from './log-hub.js';
import type { StageContext, StageHandler, StageStep } from './stage.js';
import type { Workspaces } from './workspace.js';

export interface RunnerDeps {
  store: Store;
  events: EventBus;
  log: Logger;
  logs: LogHub;
  workspaces: Workspaces;
  releases: Releases;
  queue: DeployQueue;
  handlers: Record<StageKind, StageHandler>;
  now?: () => number;
}

type TickResult = { done: true } | { done: false; again: boolean; waitMs: number };

const MAX_WAIT_MS = 60_000;
/** How long a failed or cancelled run keeps its workspace for `retry`. */
const WORKSPACE_KEEP_MS = 7 * 86_400_000;

export class PipelineRunner {
  readonly lock = new KeyedLock();
  private readonly loops = new Map<string, { wake: () => void; done: Promise<void> }>();
  /** Deployment id -> run, so deployment events wake the run that waits on them. */
  private readonly deploymentRuns = new Map<string, string>();
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly d: RunnerDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Resumes every run found active in the store, oldest first. */
  async start(): Promise<void> {
    this.unsubscribe = this.d.events.subscribe((e) => {
      // Only the end of a deployment matters to a run (its progress is read on the stage's own
      // ticks): it ends the deploy stage, and frees the service for the run first in line.
      if (e.type !== 'deployment.finished') return;
      const runId = e.deploymentId ? this.deploymentRuns.get(e.deploymentId) : undefined;
      if (runId) this.wake(runId);
      if (e.app && e.env) {
        const next = this.d.queue.waiting(serviceKey(e.app, e.env))[0];
        if (next) this.wake(next);
      }
    });
    const runs = await this.d.store.listActiveRuns();
    // Rebuild the deploy queues first, in recorded order, so no resumed run jumps the queue.
    for (const run of runs) {
      for (const s of await this.d.store.listStages(run.id)) {
        const st = run.spec.stages[s.index];
        if (st?.deploy && s.status === 'waiting' && !s.deploymentId && s.waitingSince) {
          this.d.queue.enter(serviceKey(run.app, st.deploy.env), { runId: run.id, runSeq: run.seq, stage: s.name, since: s.waitingSince });
        }
      }
    }
    for (const run of runs) this.drive(run.id, true);
    // Workspaces are kept for retries of failed runs, for a week; older ones and strays go.
    const keepUntil = this.now() - WORKSPACE_KEEP_MS;
    // Only what was there before this start: a run started meanwhile fills its workspace before
    // it is recorded, and would look like a stray (its files vanished mid-stage).
    const startedAt = Date.now();
    void this.d.workspaces
      .prune(
        async (id) => {
          const run = await this.d.store.getRun(id);
          return run !== null && (isActiveRun(run.status) || (run.status !== 'succeeded' && Date.parse(run.finishedAt ?? run.updatedAt) > keepUntil));
        },
        { touchedBefore: startedAt },
      )
      .catch((e: unknown) => this.d.log.warn('could not prune old run workspaces', { error: errorMessage(e) }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    const loops = [...this.loops.values()];
    for (const l of loops) l.wake();
    await Promise.all(loops.map((l) => l.done));
    await this.d.logs.flush();
  }

  /** Starts the loop of a run (no-op when it runs already). */
  drive(runId: string, resumed = false): void {
    if (this.stopped || this.loops.has(runId)) {
      this.loops.get(runId)?.wake();
      return;
    }
    let wake: () => void = () => undefined;
    let woken = false;
    const entry = {
      wake: () => {
        woken = true;
        wake();
      },
      done: Promise.resolve(),
    };
    this.loops.set(runId, entry);
    entry.done = (async () => {
      let first = resumed;
      try {
        while (!this.stopped) {
          woken = false;
          let r: TickResult;
          try {
            r = await this.lock.run(runId, () => this.tick(runId, first));
          } catch (e) {
            this.d.log.error('pipeline run tick failed; retrying', { runId, error: errorMessage(e) });
            r = { done: false, again: false, waitMs: 2000 };
          }
          first = false;
          if (r.done) break;
          if (r.again || woken) continue;
          await new Promise<void>((ok) => {
            const t = setTimeout(ok, Math.min(MAX_WAIT_MS, Math.max(10, r.waitMs)));
            wake = () => {
              clearTimeout(t);
              ok();
            };
            if (woken || this.stopped) wake();
          });
          wake = () => undefined;
        }
      } finally {
        this.loops.delete(runId);
      }
    })();
  }

  wake(runId: string): void {
    this.loops.get(runId)?.wake();
  }

  /** Whether a run's loop is live in this process (for views). */
  isDriving(runId: string): boolean {
    return this.loops.has(runId);
  }

  private async tick(runId: string, resumed: boolean): Promise<TickResult> {
    let run = await this.d.store.getRun(runId);
    if (!run || !isActiveRun(run.status)) return { done: true };
    if (!run.startedAt) {
      const prepared = await this.prepare(run);
      if (!prepared) return { done: true };
      run = prepared;
    }
    let stages = await this.d.store.listStages(runId);
    const plan = planRun(run.spec, stages, run.cancelRequested);
    let changed = false;

    for (const s of plan.stop) {
      const rec = stages.find((x) => x.name === s.name)!;
      await this.handler(rec).stop(this.context(run, rec), s.why).catch((e: unknown) => this.d.log.warn('stopping a stage failed', { runId, stage: s.name, error: errorMessage(e) }));
      await this.endStage(run, rec, { done: true, status: 'failed', message: '' }, 'cancelled', `stopped: ${s.why}`);
      changed = true;
    }
    for (const s of plan.skip) {
      await this.d.store.updateStage(runId, s.name, { status: 'skipped', message: `skipped: ${s.why}`, finishedAt: new Date(this.now()).toISOString() });
      changed = true;
    }
    for (const name of plan.start) {
      const rec = stages.find((x) => x.name === name)!;
      const at = new Date(this.now()).toISOString();
      await this.d.store.updateStage(runId, name, { status: 'running', attempt: rec.attempt + 1, message: 'running', startedAt: at, finishedAt: null, waitingSince: null, result: null, deploymentId: null });
      await this.d.events.emit({ type: 'pipeline.stage.started', app: run.app, data: { runId, pipeline: run.pipeline, stage: name, kind: rec.kind, attempt: rec.attempt + 1 } });
      changed = true;
    }
    if (plan.outcome) return this.finish(run, plan.outcome.status, plan.outcome.message);
    if (changed) stages = await this.d.store.listStages(runId);

    let waitMs = MAX_WAIT_MS;
    // Look again at once only when something ended (a stage, or stages stopped or skipped): the
    // stages just started were ticked below already.
    let again = plan.stop.length > 0 || plan.skip.length > 0;
    for (const rec of stages) {
      if (rec.status !== 'running' && rec.status !== 'waiting') continue;
      const ctx = this.context(run, rec);
      let step: StageStep;
      try {
        step = await this.handler(rec).tick(ctx, resumed && !plan.start.includes(rec.name));
      } catch (e) {
        this.d.log.error('pipeline stage failed unexpectedly', { runId, stage: rec.name, error: errorMessage(e) });
        step = { done: true, status: 'failed', message: `internal error: ${errorMessage(e)}; see the server log, then retry the stage` };
      }
      // A message or result may quote what a command or its artifacts printed (a gate's failing tests).
      step = this.d.logs.masked(step);
      if (rec.deploymentId || ctx.stage.deploymentId) this.deploymentRuns.set((ctx.stage.deploymentId ?? rec.deploymentId)!, runId);
      if (step.done) {
        await this.endStage(run, ctx.stage, step, step.status, step.message);
        again = true;
        continue;
      }
      waitMs = Math.min(waitMs, step.waitMs);
      const patch: StagePatch = {};
      if (step.status !== ctx.stage.status) patch.status = step.status;
      if (step.message !== ctx.stage.message) patch.message = step.message;
      if (step.result !== undefined && JSON.stringify(step.result) !== JSON.stringify(ctx.stage.result)) patch.result = step.result;
      if (Object.keys(patch).length) {
        await this.d.store.updateStage(runId, rec.name, patch);
        if (patch.status === 'waiting') {
          await this.d.events.emit({ type: 'pipeline.stage.waiting', app: run.app, data: { runId, pipeline: run.pipeline, stage: rec.name, kind: rec.kind, message: step.message } });
        }
      }
    }
    if (!again) {
      const fresh = await this.d.store.listStages(runId);
      const status = fresh.some((s) => s.status === 'running') ? 'running' : fresh.some((s) => s.status === 'waiting') ? 'waiting' : 'running';
      // What the run waits for, if anything; stage by stage progress is on the stages, so a
      // run of quick stages does not rewrite its own row at every step.
      const waits = fresh.filter((s) => s.status === 'waiting').map((s) => s.name);
      const message = status === 'waiting' ? `waiting at ${waits.join(', ')}` : 'running';
      if (status !== run.status || message !== run.message) await this.d.store.updateRun(runId, { status, message: message || run.message });
    }
    return { done: false, again, waitMs };
  }

  /** Marks the run started: checks out its source when it comes from git. Null when the run ended. */
  private async prepare(run: PipelineRunRecord): Promise<PipelineRunRecord | null> {
    const at = new Date(this.now()).toISOString();
    if (run.source.kind === 'git' && !run.source.commitSha) {
      await this.d.store.updateRun(run.id, { status: 'running', message: `checking out ${run.source.ref} from ${run.source.url}` });
      try {
        const commit = await this.d.workspaces.fromGit(run.id, run.source.url!, run.source.ref!);
        run = await this.d.store.updateRun(run.id, { source: { ...run.source, commitSha: commit.sha, commitTime: commit.time } });
      } catch (e) {
        await this.d.store.updateRun(run.id, { startedAt: at });
        await this.finish(run, 'failed', `could not check out the source: ${errorMessage(e)}`);
        return null;
      }
    }
    const started = await this.d.store.updateRun(run.id, { status: 'running', message: 'started', startedAt: at });
    await this.d.events.emit({ type: 'pipeline.started', app: run.app, data: { runId: run.id, pipeline: run.pipeline, status: 'running' } });
    return started;
  }

  private async finish(run: PipelineRunRecord, status: 'succeeded' | 'failed' | 'cancelled', message: string): Promise<TickResult> {
    await this.d.store.updateRun(run.id, { status, message, finishedAt: new Date(this.now()).toISOString() });
    await this.d.events.emit({
      type: 'pipeline.finished',
      app: run.app,
      data: { runId: run.id, pipeline: run.pipeline, status, ...(status === 'succeeded' ? {} : { error: message }), version: run.releaseVersion },
    });
    for (const [dep, r] of this.deploymentRuns) if (r === run.id) this.deploymentRuns.delete(dep);
    // A failed run keeps its workspace so a stage can be retried.
    if (status === 'succeeded') await this.d.workspaces.remove(run.id).catch(() => undefined);
    return { done: true };
  }

  private async endStage(run: PipelineRunRecord, rec: StageRecord, step: StageStep, status: 'succeeded' | 'failed' | 'cancelled', message: string): Promise<void> {
    const at = new Date(this.now()).toISOString();
    await this.d.store.updateStage(run.id, rec.name, { status, message, finishedAt: at, ...(step.result !== undefined ? { result: step.result } : {}) });
    this.d.logs.append(run.id, rec.name, rec.attempt, 'system', [`stage ${status}: ${message}`]);
    await this.d.events.emit({ type: 'pipeline.stage.finished', app: run.app, data: { runId: run.id, pipeline: run.pipeline, stage: rec.name, kind: rec.kind, attempt: rec.attempt, status, message } });
  }

  private handler(rec: StageRecord): StageHandler {
    return this.d.handlers[rec.kind];
  }

  private context(run: PipelineRunRecord, rec: StageRecord): StageContext {
    const ctx: StageContext = {
      run,
      stage: rec,
      spec: run.spec.stages[rec.index]!,
      workspace: this.d.workspaces.dir(run.id),
      home: this.d.workspaces.home(run.id),
      now: this.now(),
      log: (text) => this.d.logs.append(run.id, rec.name, rec.attempt, 'system', [text]),
      output: (stream: LogStream, lines) => this.d.logs.append(run.id, rec.name, rec.attempt, stream, lines),
      save: async (patch) => {
        ctx.stage = await this.d.store.updateStage(run.id, rec.name, patch);
      },
      wake: () => this.wake(run.id),
    };
    return ctx;
  }

  /** Builds the run's release from its workspace, once; every deploy stage promotes this one. */
  async ensureRelease(runId: string): Promise<{ id: string; version: string }> {
    const run = await this.d.store.getRun(runId);
    if (!run) throw new Error(`no run ${runId}`);
    if (run.releaseId && run.releaseVersion) return { id: run.releaseId, version: run.releaseVersion };
    const { release, created } = await this.d.releases.fromDirectory({
      app: run.app,
      dir: join(this.d.workspaces.dir(run.id), run.spec.release.path),
      ...(run.version ? { version: run.version } : {}),
      ...(run.source.commitSha ? { commitSha: run.source.commitSha } : {}),
      ...(run.source.commitTime ? { commitTime: run.source.commitTime } : {}),
      actor: `pipeline:${run.pipeline}/${run.id}`,
    });
    await this.d.store.updateRun(runId, { releaseId: release.id, releaseVersion: release.version });
    if (created) await this.d.events.emit({ type: 'release.created', app: run.app, data: { version: release.version, releaseId: release.id, runId, actor: `pipeline:${run.pipeline}/${run.id}` } });
    return { id: release.id, version: release.version };
  }
}
