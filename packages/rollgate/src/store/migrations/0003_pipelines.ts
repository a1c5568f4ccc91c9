/**
 * Pipeline runs (with their stages, approvals and stage logs) and the notification delivery
 * log. Frozen once shipped (see 0001). Stages and approvals belong to their run (foreign keys);
 * the two logs have none: they are written in bulk, and a log line may name what is gone.
 */
import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  const autoKey = dialect === 'postgres' ? 'bigserial' : 'integer';
  const autoKeyDef = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  const s = db.schema;

  await s
    .createTable('pipeline_runs')
    .addColumn('seq', autoKey, autoKeyDef)
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('pipeline', 'text', (c) => c.notNull())
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('version', 'text')
    .addColumn('release_id', 'text')
    .addColumn('release_version', 'text')
    // 0/1 rather than a boolean type, so both dialects read back the same value.
    .addColumn('cancel_requested', 'integer', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('pipeline_runs_id_unique', ['id'])
    .addCheckConstraint('pipeline_runs_status_check', sql`status in ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled')`)
    .addCheckConstraint('pipeline_runs_cancel_requested_check', sql`cancel_requested in (0, 1)`)
    .execute();
  // The scheduler reads the active runs at every start and tick.
  await s.createIndex('pipeline_runs_status').on('pipeline_runs').column('status').execute();
  await s.createIndex('pipeline_runs_pipeline_seq').on('pipeline_runs').columns(['pipeline', 'seq']).execute();
  await s.createIndex('pipeline_runs_app_seq').on('pipeline_runs').columns(['app', 'seq']).execute();

  await s
    .createTable('pipeline_stages')
    .addColumn('run_id', 'text', (c) => c.notNull().references('pipeline_runs.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('waiting_since', 'text')
    .addColumn('result', 'text')
    .addColumn('deployment_id', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('pipeline_stages_pk', ['run_id', 'name'])
    .addCheckConstraint('pipeline_stages_status_check', sql`status in ('pending', 'running', 'waiting', 'succeeded', 'failed', 'skipped', 'cancelled')`)
    .execute();

  await s
    .createTable('pipeline_approvals')
    .addColumn('seq', autoKey, autoKeyDef)
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('at', 'text', (c) => c.notNull())
    // A decision is on a stage that exists.
    .addForeignKeyConstraint('pipeline_approvals_stage_fk', ['run_id', 'stage'], 'pipeline_stages', ['run_id', 'name'], (c) => c.onDelete('cascade'))
    // One decision per person per attempt, enforced by the database so two clicks (or two
    // replicas) cannot count one person twice.
    .addUniqueConstraint('pipeline_approvals_one_per_actor', ['run_id', 'stage', 'attempt', 'actor'])
    .addCheckConstraint('pipeline_approvals_decision_check', sql`decision in ('approve', 'reject')`)
    .execute();

  await s
    .createTable('stage_logs')
    .addColumn('id', autoKey, autoKeyDef)
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addCheckConstraint('stage_logs_stream_check', sql`stream in ('stdout', 'stderr', 'system')`)
    .execute();
  await s.createIndex('stage_logs_run_id').on('stage_logs').columns(['run_id', 'id']).execute();

  await s
    .createTable('notification_deliveries')
    .addColumn('seq', autoKey, autoKeyDef)
    .addColumn('delivery_id', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    // Also inside `notification`; its own column so the log can be filtered by it in SQL.
    .addColumn('notification_id', 'text', (c) => c.notNull())
    .addColumn('notification', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('http_status', 'integer')
    .addColumn('error', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('retry_in_ms', 'integer')
    .addColumn('next_attempt_at', 'text')
    .addColumn('resend_of', 'text')
    .addCheckConstraint('notification_deliveries_outcome_check', sql`outcome in ('delivered', 'retrying', 'failed', 'dropped')`)
    .execute();
  await s.createIndex('notification_deliveries_delivery').on('notification_deliveries').columns(['delivery_id', 'seq']).execute();
  await s.createIndex('notification_deliveries_channel').on('notification_deliveries').columns(['channel', 'seq']).execute();
  // A restarted server looks for deliveries still retrying.
  await s.createIndex('notification_deliveries_outcome').on('notification_deliveries').columns(['outcome', 'seq']).execute();
  await s.createIndex('notification_deliveries_notification').on('notification_deliveries').columns(['notification_id', 'seq']).execute();
}
