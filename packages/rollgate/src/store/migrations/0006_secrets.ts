/**
 * Encrypted secrets, one row per version. Frozen once shipped (see 0001). No foreign keys: a
 * secret's rows may outlive its app or environment in the spec (they stay unreadable without
 * the master key, and `rollgate secret rm` marks them deleted).
 */
import { sql, type Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, _dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('secrets')
    .addColumn('app', 'text', (c) => c.notNull())
    .addColumn('env', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('ciphertext', 'text', (c) => c.notNull())
    .addColumn('tag', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'text')
    // Two writers choosing the same next version: the database lets exactly one in.
    .addPrimaryKeyConstraint('secrets_pk', ['app', 'env', 'name', 'version'])
    .addCheckConstraint('secrets_version_check', sql`version >= 1`)
    .execute();
}
