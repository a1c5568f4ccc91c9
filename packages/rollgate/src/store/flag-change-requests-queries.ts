/** Flag change requests over Kysely (SQLite and PostgreSQL); see flag-change-requests-types.ts. */
import type { Selectable } from 'kysely';
import type { ChangeRequestAction, ChangeRequestDecision, ChangeRequestFilter, ChangeRequestStatus, FlagChangeRequestQueriesApi, FlagChangeRequestRecord, NewFlagChangeRequest, RolloutPlan } from './flag-change-requests-types.js';
import type { FlagState } from './flags-types.js';
import { now } from './rows.js';
import type { FlagChangeRequestsTable } from './schema-flag-change-requests.js';
import type { Db } from './write-transaction.js';

const state = (json: string | null) => (json === null ? null : (JSON.parse(json) as FlagState));

function record(r: Selectable<FlagChangeRequestsTable>): FlagChangeRequestRecord {
  return {
    id: r.id,
    app: r.app,
    env: r.env,
    flag: r.flag,
    action: r.action as ChangeRequestAction,
    proposedState: state(r.proposed_state),
    rolloutPlan: r.rollout_plan === null ? null : (JSON.parse(r.rollout_plan) as RolloutPlan),
    baseState: state(r.base_state),
    baseRevision: Number(r.base_revision),
    reason: r.reason,
    status: r.status as ChangeRequestStatus,
    proposedBy: r.proposed_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decisionReason: r.decision_reason,
    appliedRevision: r.applied_revision === null ? null : Number(r.applied_revision),
  };
}

export class FlagChangeRequestQueries implements FlagChangeRequestQueriesApi {
  constructor(private readonly db: Db) {}

  async insert(r: NewFlagChangeRequest): Promise<FlagChangeRequestRecord> {
    const row: FlagChangeRequestsTable = {
      id: r.id,
      app: r.app,
      env: r.env,
      flag: r.flag,
      action: r.action,
      proposed_state: r.proposedState === null ? null : JSON.stringify(r.proposedState),
      rollout_plan: r.rolloutPlan === null ? null : JSON.stringify(r.rolloutPlan),
      base_state: r.baseState === null ? null : JSON.stringify(r.baseState),
      base_revision: r.baseRevision,
      reason: r.reason,
      status: 'open',
      proposed_by: r.proposedBy,
      created_at: now(),
      expires_at: r.expiresAt,
      decided_by: null,
      decided_at: null,
      decision_reason: null,
      applied_revision: null,
    };
    await this.db.insertInto('flag_change_requests').values(row).execute();
    return record(row);
  }

  async get(id: string): Promise<FlagChangeRequestRecord | null> {
    const r = await this.db.selectFrom('flag_change_requests').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? record(r) : null;
  }

  async list(f: ChangeRequestFilter = {}): Promise<FlagChangeRequestRecord[]> {
    let q = this.db.selectFrom('flag_change_requests').selectAll();
    if (f.app !== undefined) q = q.where('app', '=', f.app);
    if (f.env !== undefined) q = q.where('env', '=', f.env);
    if (f.flag !== undefined) q = q.where('flag', '=', f.flag);
    if (f.status !== undefined) q = q.where('status', '=', f.status);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit ?? 100).execute();
    return rows.map(record);
  }

  async decide(id: string, d: ChangeRequestDecision): Promise<boolean> {
    const r = await this.db
      .updateTable('flag_change_requests')
      .set({ status: d.status, decided_by: d.decidedBy, decided_at: now(), decision_reason: d.decisionReason, applied_revision: d.appliedRevision ?? null })
      .where('id', '=', id)
      .where('status', '=', 'open')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
