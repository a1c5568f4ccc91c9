/**
 * Users, custom roles, API tokens, browser sessions and failed logins. Frozen once shipped (see
 * 0001). Tokens and sessions belong to their user (deleting a user ends them); tokens, session
 * ids and CSRF tokens are stored only as sha256 hashes.
 */
import { sql, type ColumnDefinitionBuilder, type Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  const autoKey = dialect === 'postgres' ? 'bigserial' : 'integer';
  const autoKeyDef = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
    dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement();
  const s = db.schema;

  await s
    .createTable('auth_users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('roles', 'text', (c) => c.notNull())
    // 0/1 rather than a boolean type, so both dialects read back the same value.
    .addColumn('disabled', 'integer', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('auth_users_name_unique', ['name'])
    .addCheckConstraint('auth_users_disabled_check', sql`disabled in (0, 1)`)
    .execute();

  await s
    .createTable('auth_roles')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('grants', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await s
    .createTable('auth_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('auth_users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('roles', 'text')
    .addColumn('expires_at', 'text')
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('auth_tokens_hash_unique', ['hash'])
    .execute();
  await s.createIndex('auth_tokens_user').on('auth_tokens').column('user_id').execute();

  await s
    .createTable('auth_sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('auth_users.id').onDelete('cascade'))
    .addColumn('csrf_hash', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('address', 'text')
    .addColumn('user_agent', 'text')
    .execute();
  await s.createIndex('auth_sessions_user').on('auth_sessions').column('user_id').execute();
  await s.createIndex('auth_sessions_expires').on('auth_sessions').column('expires_at').execute();

  await s
    .createTable('auth_login_failures')
    .addColumn('seq', autoKey, autoKeyDef)
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('auth_login_failures_key_at').on('auth_login_failures').columns(['key', 'at']).execute();
  await s.createIndex('auth_login_failures_at').on('auth_login_failures').column('at').execute();

  await s
    .createTable('auth_lockouts')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('locked_until', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}
