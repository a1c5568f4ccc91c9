/**
 * Feature flags: a flag belongs to an app (its metadata), its state per environment is an
 * Unleash `Feature` kept as JSON, segments per (app, environment), a revision per (app,
 * environment) bumped in the transaction of every change (the delivery's ETag and change-stream
 * position), and SDK keys stored as a sha256 hash only. Frozen once shipped (see 0001).
 */
import { sql, type Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, _dialect: SqlDialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('flags')
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('owner', 'text')
    .addColumn('description', 'text', (c) => c.notNull())
    // Null: permanent (kill switches, permissions).
    .addColumn('lifetime_days', 'integer')
    .addColumn('archived_at', 'text')
    .addColumn('archived_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('flags_pk', ['app', 'name'])
    .addCheckConstraint('flags_kind_check', sql`kind in ('release', 'experiment', 'operational', 'kill-switch', 'permission')`)
    .execute();

  await s
    .createTable('flag_states')
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('feature', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('flag_states_pk', ['app', 'env', 'name'])
    .addForeignKeyConstraint('flag_states_flag_fk', ['app', 'name'], 'flags', ['app', 'name'])
    .execute();

  await s
    .createTable('flag_segments')
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('id', 'integer', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('constraints', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('flag_segments_pk', ['app', 'env', 'id'])
    .execute();

  await s
    .createTable('flag_revisions')
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('flag_revisions_pk', ['app', 'env'])
    .execute();

  await s
    .createTable('flag_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    // The first characters of the key, enough to tell keys apart in a listing; never the key.
    .addColumn('prefix', 'text', (c) => c.notNull())
    // Hex sha256 of the key.
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .addColumn('revoked_by', 'text')
    .addCheckConstraint('flag_keys_kind_check', sql`kind in ('server', 'client')`)
    .execute();
  await s.createIndex('flag_keys_app_env').on('flag_keys').columns(['app', 'env']).execute();
}
