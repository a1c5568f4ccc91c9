/**
 * The initial schema. Frozen: never edit a migration that has shipped, add a new one.
 * Literal values (statuses) are written out here rather than imported so that a later
 * change to the domain constants cannot silently change what this migration meant.
 */
import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  // The only dialect-specific DDL: an auto-increment integer key. bigserial is read back as a
  // JS number by the pool's int8 parser (see postgres.ts).
  const autoKey = dialect === 'postgres' ? 'bigserial' : 'integer';
  // SQLite needs AUTOINCREMENT so ids are never reused after a delete; bigserial already is.
  const autoKeyDef = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  const s = db.schema;

  await s
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  for (const table of ['apps', 'environments']) {
    await s
      .createTable(table)
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  }

  await s
    .createTable('releases')
    .addColumn('seq', autoKey, autoKeyDef)
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('app', 'text', (c) => c.notNull().references('apps.name'))
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('artifact_dir', 'text', (c) => c.notNull())
    .addColumn('commit_sha', 'text')
    .addColumn('commit_time', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addUniqueConstraint('releases_id_unique', ['id'])
    .addUniqueConstraint('releases_app_version_unique', ['app', 'version'])
    .execute();
  await s.createIndex('releases_app_seq').on('releases').columns(['app', 'seq']).execute();

  await s
    .createTable('deployments')
    .addColumn('seq', autoKey, autoKeyDef)
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('app', 'text', (c) => c.notNull().references('apps.name'))
    .addColumn('env', 'text', (c) => c.notNull().references('environments.name'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('release_id', 'text', (c) => c.notNull().references('releases.id'))
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('previous_release_id', 'text', (c) => c.references('releases.id'))
    .addColumn('previous_version', 'text')
    .addColumn('strategy', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('deployments_id_unique', ['id'])
    .addCheckConstraint(
      'deployments_status_check',
      sql`status in ('pending', 'progressing', 'paused', 'succeeded', 'failed', 'aborted', 'rolled_back')`,
    )
    .addCheckConstraint('deployments_kind_check', sql`kind in ('deploy', 'rollback')`)
    .execute();
  // One active deployment per service, enforced by the database so that concurrent
  // requests (or several server replicas) cannot both start one.
  await s
    .createIndex('deployments_one_active')
    .on('deployments')
    .columns(['app', 'env'])
    .unique()
    .where(sql<boolean>`status in ('pending', 'progressing', 'paused')`)
    .execute();
  await s.createIndex('deployments_app_env_seq').on('deployments').columns(['app', 'env', 'seq']).execute();

  await s
    .createTable('deployment_events')
    .addColumn('id', autoKey, autoKeyDef)
    .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('data', 'text')
    .execute();
  await s.createIndex('deployment_events_deployment').on('deployment_events').columns(['deployment_id', 'id']).execute();

  await s
    .createTable('service_state')
    .addColumn('app', 'text', (c) => c.notNull().references('apps.name'))
    .addColumn('env', 'text', (c) => c.notNull().references('environments.name'))
    .addColumn('current_release_id', 'text', (c) => c.references('releases.id'))
    .addColumn('previous_release_id', 'text', (c) => c.references('releases.id'))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('service_state_pk', ['app', 'env'])
    .execute();

  // A log: no foreign keys, an event may outlive or precede what it names.
  await s
    .createTable('events')
    .addColumn('id', autoKey, autoKeyDef)
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('app', 'text')
    .addColumn('env', 'text')
    .addColumn('deployment_id', 'text')
    .addColumn('data', 'text')
    .execute();
}
