/** Flag rollouts and scheduled changes over Kysely (SQLite and PostgreSQL); see flag-rollouts-types.ts. */
import type { Selectable } from 'kysely';
import { now } from './rows.js';
import {
  ACTIVE_ROLLOUT_STATUSES,
  type FlagRolloutGuard,
  type FlagRolloutPatch,
  type FlagRolloutQueriesApi,
  type FlagRolloutRecord,
  type FlagRolloutStatus,
  type FlagScheduleAction,
  type FlagSchedulePatch,
  type FlagScheduleRecord,
  type FlagScheduleStatus,
  type NewFlagRollout,
  type NewFlagSchedule,
  type RolloutFilter,
  type ScheduleFilter,
} from './flag-rollouts-types.js';
import type { FlagRolloutsTable, FlagSchedulesTable } from './schema-flag-rollouts.js';
import { constraintViolation } from './violations.js';
import type { Db } from './write-transaction.js';

const ACTIVE = [...ACTIVE_ROLLOUT_STATUSES];

function rolloutRecord(r: Selectable<FlagRolloutsTable>): FlagRolloutRecord {
  return {
    id: r.id,
    app: r.app,
    env: r.env,
    flag: r.flag,
    variant: r.variant,
    steps: JSON.parse(r.steps) as number[],
    everyMs: Number(r.every_ms),
    applied: Number(r.applied),
    nextStepAt: r.next_step_at,
    remainingMs: r.remaining_ms === null ? null : Number(r.remaining_ms),
    status: r.status as FlagRolloutStatus,
    reason: r.reason,
    guard: r.guard === null ? null : (JSON.parse(r.guard) as FlagRolloutGuard),
    startedBy: r.started_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

function scheduleRecord(r: Selectable<FlagSchedulesTable>): FlagScheduleRecord {
  return {
    id: r.id,
    app: r.app,
    env: r.env,
    flag: r.flag,
    action: r.action as FlagScheduleAction,
    percent: r.percent === null ? null : Number(r.percent),
    at: r.at,
    status: r.status as FlagScheduleStatus,
    appliedAt: r.applied_at,
    lateMs: r.late_ms === null ? null : Number(r.late_ms),
    message: r.message,
    createdBy: r.created_by,
    createdAt: r.created_at,
    cancelledBy: r.cancelled_by,
  };
}

function rolloutSet(p: FlagRolloutPatch): Partial<FlagRolloutsTable> {
  return {
    ...(p.applied !== undefined ? { applied: p.applied } : {}),
    ...(p.nextStepAt !== undefined ? { next_step_at: p.nextStepAt } : {}),
    ...(p.remainingMs !== undefined ? { remaining_ms: p.remainingMs } : {}),
    ...(p.status !== undefined ? { status: p.status } : {}),
    ...(p.reason !== undefined ? { reason: p.reason } : {}),
    ...(p.finishedAt !== undefined ? { finished_at: p.finishedAt } : {}),
    ...(p.guard !== undefined ? { guard: p.guard === null ? null : JSON.stringify(p.guard) } : {}),
    updated_at: now(),
  };
}

export class FlagRolloutQueries implements FlagRolloutQueriesApi {
  constructor(private readonly db: Db) {}

  async insertRollout(r: NewFlagRollout): Promise<boolean> {
    const at = now();
    try {
      await this.db
        .insertInto('flag_rollouts')
        .values({ id: r.id, app: r.app, env: r.env, flag: r.flag, variant: r.variant, steps: JSON.stringify(r.steps), every_ms: r.everyMs, applied: r.applied, next_step_at: r.nextStepAt, remaining_ms: null, status: r.status, reason: null, guard: r.guard ? JSON.stringify(r.guard) : null, started_by: r.startedBy, created_at: at, updated_at: at, finished_at: null })
        .execute();
      return true;
    } catch (e) {
      // The partial unique index: one rollout in progress per flag and environment.
      if (constraintViolation(e)?.kind === 'unique') return false;
      throw e;
    }
  }

  async getRollout(id: string): Promise<FlagRolloutRecord | null> {
    const r = await this.db.selectFrom('flag_rollouts').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? rolloutRecord(r) : null;
  }

  async activeRollout(app: string, env: string, flag: string): Promise<FlagRolloutRecord | null> {
    const r = await this.db.selectFrom('flag_rollouts').selectAll().where('app', '=', app).where('env', '=', env).where('flag', '=', flag).where('status', 'in', ACTIVE).executeTakeFirst();
    return r ? rolloutRecord(r) : null;
  }

  async listRollouts(f: RolloutFilter = {}): Promise<FlagRolloutRecord[]> {
    let q = this.db.selectFrom('flag_rollouts').selectAll();
    if (f.app !== undefined) q = q.where('app', '=', f.app);
    if (f.env !== undefined) q = q.where('env', '=', f.env);
    if (f.flag !== undefined) q = q.where('flag', '=', f.flag);
    if (f.active) q = q.where('status', 'in', ACTIVE);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit ?? 100).execute();
    return rows.map(rolloutRecord);
  }

  async updateRollout(id: string, expect: { status: FlagRolloutStatus; applied: number }, patch: FlagRolloutPatch): Promise<boolean> {
    const r = await this.db.updateTable('flag_rollouts').set(rolloutSet(patch)).where('id', '=', id).where('status', '=', expect.status).where('applied', '=', expect.applied).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async dueRollouts(at: string, limit = 100): Promise<FlagRolloutRecord[]> {
    const rows = await this.db.selectFrom('flag_rollouts').selectAll().where('status', '=', 'running').where('next_step_at', '<=', at).orderBy('next_step_at').limit(limit).execute();
    return rows.map(rolloutRecord);
  }

  async insertSchedule(s: NewFlagSchedule): Promise<FlagScheduleRecord> {
    const row = { id: s.id, app: s.app, env: s.env, flag: s.flag, action: s.action, percent: s.percent, at: s.at, status: 'pending', applied_at: null, late_ms: null, message: null, created_by: s.createdBy, created_at: now(), cancelled_by: null };
    await this.db.insertInto('flag_schedules').values(row).execute();
    return scheduleRecord(row);
  }

  async getSchedule(id: string): Promise<FlagScheduleRecord | null> {
    const r = await this.db.selectFrom('flag_schedules').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? scheduleRecord(r) : null;
  }

  async listSchedules(f: ScheduleFilter = {}): Promise<FlagScheduleRecord[]> {
    let q = this.db.selectFrom('flag_schedules').selectAll();
    if (f.app !== undefined) q = q.where('app', '=', f.app);
    if (f.env !== undefined) q = q.where('env', '=', f.env);
    if (f.flag !== undefined) q = q.where('flag', '=', f.flag);
    if (f.pending) q = q.where('status', '=', 'pending');
    const rows = await q.orderBy('at').orderBy('id').limit(f.limit ?? 100).execute();
    return rows.map(scheduleRecord);
  }

  async updateSchedule(id: string, expect: FlagScheduleStatus, p: FlagSchedulePatch): Promise<boolean> {
    const r = await this.db
      .updateTable('flag_schedules')
      .set({
        ...(p.status !== undefined ? { status: p.status } : {}),
        ...(p.appliedAt !== undefined ? { applied_at: p.appliedAt } : {}),
        ...(p.lateMs !== undefined ? { late_ms: p.lateMs } : {}),
        ...(p.message !== undefined ? { message: p.message } : {}),
        ...(p.cancelledBy !== undefined ? { cancelled_by: p.cancelledBy } : {}),
      })
      .where('id', '=', id)
      .where('status', '=', expect)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async dueSchedules(at: string, limit = 100): Promise<FlagScheduleRecord[]> {
    const rows = await this.db.selectFrom('flag_schedules').selectAll().where('status', '=', 'pending').where('at', '<=', at).orderBy('at').limit(limit).execute();
    return rows.map(scheduleRecord);
  }

  async nextDue(): Promise<string | null> {
    const r = await this.db.selectFrom('flag_rollouts').select((eb) => eb.fn.min('next_step_at').as('at')).where('status', '=', 'running').executeTakeFirst();
    const s = await this.db.selectFrom('flag_schedules').select((eb) => eb.fn.min('at').as('at')).where('status', '=', 'pending').executeTakeFirst();
    const times = [r?.at, s?.at].filter((t): t is string => typeof t === 'string');
    return times.length ? times.sort()[0]! : null;
  }
}
