/**
 * Change requests for flag changes (flags/change-requests.ts): one person proposes a flag's new
 * state in an environment (or its archiving), another approves it, and only then does it apply.
 * The proposal keeps the state it was made against (`base_state`), so an approval after the flag
 * moved is refused as stale rather than overwriting what changed. `status` moves once from
 * `open` by a conditional update (approve, reject, cancel): of two approvals, one applies.
 * Expiry is a time (`expires_at`), never a status a clock must write. Frozen once shipped (see 0001).
 */
import { sql, type Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, _dialect: SqlDialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('flag_change_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('flag', 'text', (c) => c.notNull())
    // What is proposed: enable, disable, rollout (a percentage now), set (a new state), steps (a
    // rollout the server moves on, as \`flags rollout --steps\`) or archive.
    .addColumn('action', 'text', (c) => c.notNull())
    // JSON: the flag's whole new state in the environment (for steps: after the first step; null for archive).
    .addColumn('proposed_state', 'text')
    // JSON: the rollout to start, for steps ({steps, everyMs, variant, guard}).
    .addColumn('rollout_plan', 'text')
    // JSON: its state when proposed (null: never set there); the approval compares against it.
    .addColumn('base_state', 'text')
    // The (app, env) revision when proposed, for the reader.
    .addColumn('base_revision', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('proposed_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', 'text')
    .addColumn('decision_reason', 'text')
    // The revision the approval made (approved only).
    .addColumn('applied_revision', 'integer')
    .addCheckConstraint('flag_change_requests_action_check', sql`action in ('enable', 'disable', 'rollout', 'set', 'steps', 'archive')`)
    .addCheckConstraint('flag_change_requests_status_check', sql`status in ('open', 'approved', 'rejected', 'cancelled')`)
    .execute();
  await s.createIndex('flag_change_requests_open').on('flag_change_requests').columns(['app', 'env', 'status', 'created_at']).execute();
  await s.createIndex('flag_change_requests_flag').on('flag_change_requests').columns(['app', 'flag', 'created_at']).execute();
}
