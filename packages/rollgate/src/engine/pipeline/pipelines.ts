/**
 * User commands on pipeline runs: start (from an upload or a git ref), approve, reject, cancel,
 * retry. Each checks its input fully before it records anything, writes its intent under the
 * run's lock, then wakes the runner, which acts on it.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RollgateError } from '../../core/errors.js';
import type { ArchiveLimits } from '../../core/release-limits.js';
import { isActiveRun, type ApprovalRecord, type PipelineRunRecord, type RunSource, type StageLogLine, type StageRecord, type TriggerKind } from '../../core/pipeline.js';
import { guardedEnvironments, stageKind } from '../../core/pipeline-spec.js';
import { EnvironmentSpec, requiresSeparationOfDuties } from '../../core/spec.js';
import type { RunFilter, Store } from '../../store/types.js';
import type { EventBus } from '../events.js';
import type { PipelineCatalog } from './catalog.js';
import type { PipelineRunner } from './runner.js';
import type { Workspaces } from './workspace.js';
import type { MaskText } from '../../core/secret-masker.js';
import { maskLine } from './log-hub.js';

export type StartSource = { kind: 'archive'; body: Readable; limits: ArchiveLimits; commitSha?: string | undefined; commitTime?: string | undefined } | { kind: 'git'; ref?: string | undefined };

export interface StartRequest {
  /** The pipeline by name, or the app's pipeline. */
  pipeline?: string | undefined;
  app?: string | undefined;
  version?: string | undefined;
  source: StartSource;
  trigger: TriggerKind;
  actor: string;
}

export interface RunView extends PipelineRunRecord {
  stages: StageRecord[];
  approvals: ApprovalRecord[];
}

/** Who may act for a role: the roles an actor holds (the server passes the API's authorization: api/authz.ts). */
export type RolesOf = (actor: string) => string[];
/** Without an authorization layer (engine-level use) nobody holds a role. */
const noRoles: RolesOf = () => [];

export class Pipelines {
  constructor(
    private readonly d: {
      store: Store;
      events: EventBus;
      catalog: PipelineCatalog;
      runner: PipelineRunner;
      workspaces: Workspaces;
      rolesOf?: RolesOf;
      /** Masks lines again as they are read: values learned after a line was written, lines of older versions. */
      mask?: MaskText;
    },
  ) {}

  async start(req: StartRequest): Promise<PipelineRunRecord> {
    const { name, spec } = req.pipeline ? { name: req.pipeline, spec: await this.d.catalog.get(req.pipeline) } : await this.d.catalog.forApp(req.app ?? '');
    if (req.app && spec.app !== req.app) throw new RollgateError('invalid_input', `pipeline "${name}" releases app "${spec.app}", not "${req.app}"`);
    const id = randomUUID();
    let source: RunSource;
    if (req.source.kind === 'archive') {
      // Unpacked before the run is recorded: a bad archive changes nothing.
      await this.d.workspaces.fromArchive(id, req.source.body, req.source.limits);
      source = { kind: 'upload', commitSha: req.source.commitSha ?? null, commitTime: req.source.commitTime ?? null };
    } else {
      const git = spec.source?.git;
      if (!git) throw new RollgateError('invalid_input', `pipeline "${name}" has no git source; add source: { git: { url: … } } to it, or release from a directory with --path`);
      const ref = req.source.ref ?? git.branch;
      if (ref.startsWith('-') || !/^[A-Za-z0-9._/^~@{}-]{1,200}$/.test(ref)) throw new RollgateError('invalid_input', `"${ref.slice(0, 80)}" is not a git ref; give a branch, tag or commit`);
      source = { kind: 'git', url: git.url, ref, commitSha: null, commitTime: null };
    }
    const run = await this.d.store.createRun(
      { id, pipeline: name, app: spec.app, spec, trigger: req.trigger, source, version: req.version ?? null, createdBy: req.actor },
      spec.stages.map((s, index) => ({ name: s.name, index, kind: stageKind(s) })),
    );
    await this.d.events.emit({ type: 'pipeline.queued', app: spec.app, data: { runId: id, pipeline: name, status: 'queued', trigger: req.trigger, actor: req.actor } });
    this.d.runner.drive(id);
    return run;
  }

  async view(id: string): Promise<RunView> {
    const run = await this.mustRun(id);
    const [stages, approvals] = await Promise.all([this.d.store.listStages(id), this.d.store.listApprovals(id)]);
    return { ...run, stages, approvals };
  }

  list(filter: RunFilter): Promise<PipelineRunRecord[]> {
    return this.d.store.listRuns(filter);
  }

  async logs(id: string, filter: { stage?: string | undefined; afterId?: number | undefined; limit?: number | undefined }): Promise<StageLogLine[]> {
    const lines = await this.d.store.listStageLogs(id, filter);
    const mask = this.d.mask;
    return mask ? lines.map((l) => ({ ...l, text: maskLine(mask, l.text) })) : lines;
  }

  approve(id: string, actor: string, opts: { stage?: string | undefined; reason?: string | undefined }): Promise<RunView> {
    return this.decide(id, actor, 'approve', opts);
  }

  async reject(id: string, actor: string, opts: { stage?: string | undefined; reason: string }): Promise<RunView> {
    if (!opts.reason.trim()) throw new RollgateError('invalid_input', 'a rejection needs a reason (--reason "…"): it is shown to everyone waiting on the run');
    return this.decide(id, actor, 'reject', opts);
  }

  async cancel(id: string, actor: string): Promise<RunView> {
    await this.d.runner.lock.run(id, async () => {
      const run = await this.mustRun(id);
      if (!isActiveRun(run.status)) throw new RollgateError('conflict', `run ${id} already ended (${run.status}); nothing to cancel`);
      await this.d.store.updateRun(id, { cancelRequested: true, message: `cancel requested by ${actor}` });
      await this.d.events.emit({ type: 'pipeline.cancel', app: run.app, data: { runId: id, pipeline: run.pipeline, actor } });
    });
    this.d.runner.drive(id);
    return this.view(id);
  }

  /** Runs again every stage of a failed or cancelled run that did not succeed, in the same workspace. */
  async retry(id: string, actor: string, opts: { stage?: string | undefined }): Promise<RunView> {
    await this.d.runner.lock.run(id, async () => {
      const run = await this.mustRun(id);
      if (isActiveRun(run.status)) throw new RollgateError('conflict', `run ${id} is still ${run.status}; retry applies to a run that failed or was cancelled`);
      if (run.status === 'succeeded') throw new RollgateError('conflict', `run ${id} succeeded; start a new run to release again`);
      const stages = await this.d.store.listStages(id);
      if (opts.stage) {
        const s = stages.find((x) => x.name === opts.stage);
        if (!s) throw new RollgateError('not_found', `run ${id} has no stage "${opts.stage}"; stages: ${stages.map((x) => x.name).join(', ')}`);
        if (s.status === 'succeeded') throw new RollgateError('conflict', `stage "${opts.stage}" of run ${id} succeeded; only stages that did not can be retried`);
      }
      if (run.source.kind === 'upload' || stages.some((s) => s.status !== 'succeeded' && s.kind === 'run')) {
        if (!(await this.d.workspaces.exists(id))) throw new RollgateError('conflict', `the workspace of run ${id} is gone (cleaned up); start a new run instead`);
      }
      for (const s of stages) {
        if (s.status !== 'succeeded') await this.d.store.updateStage(id, s.name, { status: 'pending', message: `retry requested by ${actor}`, finishedAt: null, waitingSince: null });
      }
      await this.d.store.updateRun(id, { status: 'running', cancelRequested: false, finishedAt: null, message: `retry requested by ${actor}` });
      await this.d.events.emit({ type: 'pipeline.retry', app: run.app, data: { runId: id, pipeline: run.pipeline, actor, stage: opts.stage ?? null } });
    });
    this.d.runner.drive(id);
    return this.view(id);
  }

  private async decide(id: string, actor: string, decision: 'approve' | 'reject', opts: { stage?: string | undefined; reason?: string | undefined }): Promise<RunView> {
    await this.d.runner.lock.run(id, async () => {
      const run = await this.mustRun(id);
      const stages = await this.d.store.listStages(id);
      const open = stages.filter((s) => s.kind === 'approval' && s.status === 'waiting' && run.spec.stages[s.index]?.approval?.manual);
      const stage = opts.stage ? open.find((s) => s.name === opts.stage) : open.length === 1 ? open[0] : undefined;
      if (!stage) {
        if (!isActiveRun(run.status)) throw new RollgateError('conflict', `run ${id} already ended (${run.status}); there is nothing to ${decision}`);
        if (opts.stage) throw new RollgateError('conflict', `stage "${opts.stage}" of run ${id} is not waiting for an approval${open.length ? `; waiting: ${open.map((s) => s.name).join(', ')}` : ''}`);
        throw new RollgateError('conflict', open.length ? `run ${id} waits for approvals on ${open.map((s) => s.name).join(', ')}; name one with --stage` : `run ${id} is not waiting for an approval now`);
      }
      const manual = run.spec.stages[stage.index]!.approval!.manual!;
      const roles = (this.d.rolesOf ?? noRoles)(actor);
      if (!roles.includes('admin') && !manual.roles.some((r) => roles.includes(r))) {
        throw new RollgateError('forbidden', `${actor} may not ${decision} stage "${stage.name}": it needs one of the roles ${manual.roles.join(', ')}`);
      }
      if (decision === 'approve' && manual.reasonRequired && !opts.reason?.trim()) throw new RollgateError('invalid_input', `stage "${stage.name}" needs a reason with each approval (--reason "…")`);
      if (decision === 'approve' && actor === run.createdBy) {
        const guarded = await this.separatedEnvironments(run.spec.stages, stage.index);
        if (guarded.length) {
          throw new RollgateError('forbidden', `${actor} started this release and may not approve stage "${stage.name}", which guards ${guarded.join(', ')} (separation of duties); someone else holding ${manual.roles.join(' or ')} must approve`);
        }
      }
      await this.d.store.addApproval({ runId: id, stage: stage.name, attempt: stage.attempt, actor, decision, reason: opts.reason?.trim() || null });
      await this.d.events.emit({ type: `pipeline.${decision === 'approve' ? 'approved' : 'rejected'}`, app: run.app, data: { runId: id, pipeline: run.pipeline, stage: stage.name, actor, reason: opts.reason ?? null } });
    });
    this.d.runner.wake(id);
    return this.view(id);
  }

  /** Environments behind an approval stage whose spec asks for separation of duties. */
  private async separatedEnvironments(stages: PipelineRunRecord['spec']['stages'], index: number): Promise<string[]> {
    const out: string[] = [];
    for (const env of guardedEnvironments(stages, index)) {
      const rec = await this.d.store.getEnvironment(env);
      const spec = rec ? EnvironmentSpec.safeParse(rec.spec) : null;
      // An environment whose spec cannot be read is treated as production: the safe side.
      if (!spec?.success || requiresSeparationOfDuties(env, spec.data)) out.push(env);
    }
    return out;
  }

  private async mustRun(id: string): Promise<PipelineRunRecord> {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new RollgateError('invalid_input', `"${id.slice(0, 60)}" is not a run id; list runs with rollgate pipeline status`);
    const run = await this.d.store.getRun(id);
    if (!run) throw new RollgateError('not_found', `no run ${id}; list runs with rollgate pipeline status`);
    return run;
  }
}
