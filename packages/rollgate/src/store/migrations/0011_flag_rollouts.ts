/**
 * Durable flag rollouts and scheduled flag changes (flags/rollouts.ts, flags/scheduler.ts). A
 * rollout is a list of percentages applied one after another, `every_ms` apart; `applied` counts
 * the steps done, and the scheduler moves it on only by a conditional update on that count, so
 * with several servers each step is applied once. Times are ISO-8601 UTC text, like the rest.
 * Frozen once shipped (see 0001).
 */
import { sql, type Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, _dialect: SqlDialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('flag_rollouts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('flag', 'text', (c) => c.notNull())
    // Null: the flexibleRollout percentage; else the weight of this variant.
    .addColumn('variant', 'text')
    // JSON array of whole percentages, strictly increasing.
    .addColumn('steps', 'text', (c) => c.notNull())
    .addColumn('every_ms', 'integer', (c) => c.notNull())
    // How many steps have been applied (0 .. steps.length).
    .addColumn('applied', 'integer', (c) => c.notNull())
    // When the next step is due (running only).
    .addColumn('next_step_at', 'text')
    // What was left of the wait when it was paused (the clock stops while paused).
    .addColumn('remaining_ms', 'integer')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    // Reserved for the guard (judged by evidence); JSON, null while guards are not available.
    .addColumn('guard', 'text')
    .addColumn('started_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addCheckConstraint('flag_rollouts_status_check', sql`status in ('running', 'paused', 'completed', 'aborted', 'failed')`)
    .execute();
  // One rollout in progress per flag and environment, even with several servers.
  await s
    .createIndex('flag_rollouts_one_active')
    .on('flag_rollouts')
    .columns(['app', 'env', 'flag'])
    .unique()
    .where(sql<boolean>`status in ('running', 'paused')`)
    .execute();
  await s.createIndex('flag_rollouts_due').on('flag_rollouts').columns(['status', 'next_step_at']).execute();
  await s.createIndex('flag_rollouts_flag').on('flag_rollouts').columns(['app', 'env', 'flag', 'created_at']).execute();

  await s
    .createTable('flag_schedules')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('flag', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('percent', 'integer')
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('applied_at', 'text')
    // How long after its time it was applied (a server that was down applies it at start).
    .addColumn('late_ms', 'integer')
    .addColumn('message', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('cancelled_by', 'text')
    .addCheckConstraint('flag_schedules_action_check', sql`action in ('enable', 'disable', 'percent')`)
    .addCheckConstraint('flag_schedules_status_check', sql`status in ('pending', 'applied', 'cancelled', 'failed')`)
    .execute();
  await s.createIndex('flag_schedules_due').on('flag_schedules').columns(['status', 'at']).execute();
}
