/**
 * Incidents and chaos experiments. Frozen once shipped (see 0001). Neither table has foreign
 * keys: both are records of what happened and may outlive an app, environment or deployment.
 */
import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  const autoKey = dialect === 'postgres' ? 'bigserial' : 'integer';
  const autoKeyDef = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  // PostgreSQL's `real` is single precision; `double precision` keeps a rate as the user gave it.
  const float = dialect === 'postgres' ? 'double precision' : 'real';
  const s = db.schema;

  await s
    .createTable('incidents')
    .addColumn('seq', autoKey, autoKeyDef)
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    // 0/1 rather than a boolean type, so both dialects read back the same value.
    .addColumn('production', 'integer', (c) => c.notNull())
    .addColumn('deployment_id', 'text')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('opened_at', 'text', (c) => c.notNull())
    .addColumn('resolved_at', 'text')
    .addColumn('resolved_by', 'text')
    .addColumn('resolved_by_deployment_id', 'text')
    .addColumn('resolution', 'text')
    .addColumn('fingerprint', 'text')
    .addColumn('labels', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('incidents_id_unique', ['id'])
    .addCheckConstraint('incidents_source_check', sql`source in ('rollback', 'deployment_failed', 'alert', 'manual')`)
    .addCheckConstraint('incidents_status_check', sql`status in ('open', 'resolved')`)
    .addCheckConstraint('incidents_production_check', sql`production in (0, 1)`)
    .execute();
  // One incident per deployment: opening it again (a retried hook, a resumed server) finds it.
  await s.createIndex('incidents_one_per_deployment').on('incidents').column('deployment_id').unique().where(sql<boolean>`deployment_id is not null`).execute();
  // One open incident per alert fingerprint: redelivered notifications find it.
  await s
    .createIndex('incidents_one_open_fingerprint')
    .on('incidents')
    .columns(['source', 'fingerprint'])
    .unique()
    .where(sql<boolean>`status = 'open' and fingerprint is not null`)
    .execute();
  await s.createIndex('incidents_app_env_seq').on('incidents').columns(['app', 'env', 'seq']).execute();
  // DORA reads incidents by opening time.
  await s.createIndex('incidents_opened_at').on('incidents').column('opened_at').execute();

  await s
    .createTable('chaos_experiments')
    .addColumn('seq', autoKey, autoKeyDef)
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('error_rate', float, (c) => c.notNull())
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('ends_at', 'text', (c) => c.notNull())
    .addColumn('stopped_at', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('detail', 'text')
    .addUniqueConstraint('chaos_experiments_id_unique', ['id'])
    .addCheckConstraint('chaos_experiments_kind_check', sql`kind in ('fault', 'kill')`)
    .addCheckConstraint('chaos_experiments_status_check', sql`status in ('active', 'stopped', 'expired')`)
    .addCheckConstraint('chaos_experiments_error_rate_check', sql`error_rate >= 0 and error_rate <= 1`)
    .execute();
  // At most one active fault per version: a new one replaces it (the engine stops the old first).
  await s
    .createIndex('chaos_one_active_fault')
    .on('chaos_experiments')
    .columns(['app', 'env', 'version'])
    .unique()
    .where(sql<boolean>`status = 'active' and kind = 'fault'`)
    .execute();
  await s.createIndex('chaos_experiments_app_env_seq').on('chaos_experiments').columns(['app', 'env', 'seq']).execute();
  await s.createIndex('chaos_experiments_active_ends').on('chaos_experiments').columns(['status', 'ends_at']).execute();
}
