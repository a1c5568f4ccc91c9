/**
 * Pipeline runs, their stages, approvals and stage logs, over Kysely (both dialects). The
 * KyselyStore delegates here so each concern stays in a file of its own.
 */
import { sql, type Kysely } from 'kysely';
import { RollgateError } from '../core/errors.js';
import { ACTIVE_RUN_STATUSES, type ApprovalRecord, type PipelineRunRecord, type StageLogLine, type StageRecord } from '../core/pipeline.js';
import { approvalRecord, logLineRecord, now, runRecord, runRow, stageRecord, stageRow, toJson } from './rows.js';
import type { Database, PipelineRunsTable, PipelineStagesTable, SqlDialect } from './schema.js';
import type { NewLogLine, NewRun, NewStage, RunFilter, RunPatch, StagePatch } from './types.js';
import { constraintViolation } from './violations.js';

export const DEFAULT_RUN_LIMIT = 100;
export const DEFAULT_LOG_LIMIT = 1000;
/**
 * Rows per INSERT of log lines: 6 parameters each, so 3,000 a statement, far below SQLite's
 * 32,766 and PostgreSQL's 65,535.
 */
export const LOG_CHUNK = 500;
// First key of the two-key PostgreSQL advisory lock that serialises log appends per run (the
// two-key space never overlaps the single-key one the event stream uses).
const LOG_LOCK_CLASS = 727_012;

const ACTIVE = [...ACTIVE_RUN_STATUSES];

type Db = Kysely<Database>;

const runNotFound = (id: string) => new RollgateError('not_found', `pipeline run ${id} does not exist; list the pipeline's runs to find its id`);
const stageNotFound = (runId: string, name: string) =>
  new RollgateError('not_found', `stage "${name}" of pipeline run ${runId} does not exist; list the run's stages to find its name`);

export async function createRun(db: Db, run: NewRun, stages: NewStage[]): Promise<PipelineRunRecord> {
  const at = now();
  try {
    const row = await db.transaction().execute(async (trx) => {
      const r = await trx.insertInto('pipeline_runs').values(runRow(run, at)).returningAll().executeTakeFirstOrThrow();
      if (stages.length > 0) await trx.insertInto('pipeline_stages').values(stages.map((s) => stageRow(run.id, s, at))).execute();
      return r;
    });
    return runRecord(row);
  } catch (e) {
    const v = constraintViolation(e);
    if (v?.kind === 'unique' && v.constraint === 'pipeline_stages_pk') {
      throw new RollgateError('invalid_input', `pipeline run ${run.id} names a stage twice (${stages.map((s) => s.name).join(', ')}); give every stage its own name`);
    }
    if (v?.kind === 'unique') throw new RollgateError('conflict', `pipeline run id ${run.id} is already used by another run; use a new id`);
    throw e;
  }
}

export async function getRun(db: Db, id: string): Promise<PipelineRunRecord | null> {
  const row = await db.selectFrom('pipeline_runs').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? runRecord(row) : null;
}

export async function listRuns(db: Db, f: RunFilter): Promise<PipelineRunRecord[]> {
  let q = db.selectFrom('pipeline_runs').selectAll();
  if (f.pipeline !== undefined) q = q.where('pipeline', '=', f.pipeline);
  if (f.app !== undefined) q = q.where('app', '=', f.app);
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  const rows = await q
    .orderBy('seq', 'desc')
    .limit(f.limit ?? DEFAULT_RUN_LIMIT)
    .execute();
  return rows.map(runRecord);
}

export async function listActiveRuns(db: Db): Promise<PipelineRunRecord[]> {
  const rows = await db.selectFrom('pipeline_runs').selectAll().where('status', 'in', ACTIVE).orderBy('seq').execute();
  return rows.map(runRecord);
}

export async function updateRun(db: Db, id: string, p: RunPatch): Promise<PipelineRunRecord> {
  const set: Partial<Omit<PipelineRunsTable, 'seq'>> = { updated_at: now() };
  if (p.status !== undefined) set.status = p.status;
  if (p.message !== undefined) set.message = p.message;
  if (p.source !== undefined) set.source = JSON.stringify(p.source);
  if (p.releaseId !== undefined) set.release_id = p.releaseId;
  if (p.releaseVersion !== undefined) set.release_version = p.releaseVersion;
  if (p.cancelRequested !== undefined) set.cancel_requested = p.cancelRequested ? 1 : 0;
  if (p.startedAt !== undefined) set.started_at = p.startedAt;
  if (p.finishedAt !== undefined) set.finished_at = p.finishedAt;
  const row = await db.updateTable('pipeline_runs').set(set).where('id', '=', id).returningAll().executeTakeFirst();
  if (!row) throw runNotFound(id);
  return runRecord(row);
}

export async function listStages(db: Db, runId: string): Promise<StageRecord[]> {
  const rows = await db.selectFrom('pipeline_stages').selectAll().where('run_id', '=', runId).orderBy('idx').orderBy('name').execute();
  return rows.map(stageRecord);
}

export async function updateStage(db: Db, runId: string, name: string, p: StagePatch): Promise<StageRecord> {
  const set: Partial<PipelineStagesTable> = { updated_at: now() };
  if (p.status !== undefined) set.status = p.status;
  if (p.attempt !== undefined) set.attempt = p.attempt;
  if (p.message !== undefined) set.message = p.message;
  if (p.startedAt !== undefined) set.started_at = p.startedAt;
  if (p.finishedAt !== undefined) set.finished_at = p.finishedAt;
  if (p.waitingSince !== undefined) set.waiting_since = p.waitingSince;
  if (p.result !== undefined) set.result = toJson(p.result);
  if (p.deploymentId !== undefined) set.deployment_id = p.deploymentId;
  const row = await db.updateTable('pipeline_stages').set(set).where('run_id', '=', runId).where('name', '=', name).returningAll().executeTakeFirst();
  if (!row) throw stageNotFound(runId, name);
  return stageRecord(row);
}

export async function addApproval(db: Db, a: Omit<ApprovalRecord, 'at'>): Promise<ApprovalRecord> {
  try {
    const row = await db
      .insertInto('pipeline_approvals')
      .values({ run_id: a.runId, stage: a.stage, attempt: a.attempt, actor: a.actor, decision: a.decision, reason: a.reason, at: now() })
      .returningAll()
      .executeTakeFirstOrThrow();
    return approvalRecord(row);
  } catch (e) {
    const v = constraintViolation(e);
    if (v?.kind === 'unique') throw new RollgateError('conflict', `${a.actor} already decided on stage ${a.stage} of run ${a.runId}`);
    if (v?.kind === 'foreign_key') throw stageNotFound(a.runId, a.stage);
    throw e;
  }
}

export async function listApprovals(db: Db, runId: string, stage?: string, attempt?: number): Promise<ApprovalRecord[]> {
  let q = db.selectFrom('pipeline_approvals').selectAll().where('run_id', '=', runId);
  if (stage !== undefined) q = q.where('stage', '=', stage);
  if (attempt !== undefined) q = q.where('attempt', '=', attempt);
  const rows = await q.orderBy('seq').execute();
  return rows.map(approvalRecord);
}

export async function appendStageLogs(db: Db, dialect: SqlDialect, runId: string, stage: string, attempt: number, lines: NewLogLine[]): Promise<StageLogLine[]> {
  if (lines.length === 0) return [];
  return db.transaction().execute(async (trx) => {
    if (dialect === 'postgres') {
      // Sequence values are handed out before commit: without this lock, a reader following the
      // run's log by afterId could see a parallel stage's later lines commit first and skip
      // the earlier ones for good. SQLite has one writer at a time, so it needs none.
      await sql`select pg_advisory_xact_lock(${sql.lit(LOG_LOCK_CLASS)}, hashtext(${runId}))`.execute(trx);
    }
    const out: StageLogLine[] = [];
    for (let i = 0; i < lines.length; i += LOG_CHUNK) {
      const values = lines.slice(i, i + LOG_CHUNK).map((l) => ({ run_id: runId, stage, attempt, stream: l.stream, text: l.text, at: l.at }));
      const rows = await trx.insertInto('stage_logs').values(values).returningAll().execute();
      // RETURNING promises no order; ids are handed out in VALUES order, so sort by them.
      rows.sort((a, b) => Number(a.id) - Number(b.id));
      for (const r of rows) out.push(logLineRecord(r));
    }
    return out;
  });
}

export async function listStageLogs(
  db: Db,
  runId: string,
  f: { stage?: string | undefined; attempt?: number | undefined; afterId?: number | undefined; limit?: number | undefined },
): Promise<StageLogLine[]> {
  let q = db.selectFrom('stage_logs').selectAll().where('run_id', '=', runId);
  if (f.afterId !== undefined) q = q.where('id', '>', f.afterId);
  if (f.stage !== undefined) q = q.where('stage', '=', f.stage);
  if (f.attempt !== undefined) q = q.where('attempt', '=', f.attempt);
  const rows = await q
    .orderBy('id')
    .limit(f.limit ?? DEFAULT_LOG_LIMIT)
    .execute();
  return rows.map(logLineRecord);
}
