/**
 * Login throttling per account and address, and failed-login counts per window (issue 9, items
 * 9 and 10). Replaces the lockout tables of 0005: a lock on a name alone let anyone lock out any
 * account. Frozen once shipped (see 0001).
 */
import type { Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, _dialect: SqlDialect): Promise<void> {
  const s = db.schema;
  await s.dropTable('auth_login_failures').ifExists().execute();
  await s.dropTable('auth_lockouts').ifExists().execute();

  // One row per (user name, client address) and one per client address (name null): failures
  // counted in place, and until when the next attempt must wait.
  await s
    .createTable('auth_login_throttle')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text')
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('last_failure_at', 'text', (c) => c.notNull())
    .addColumn('blocked_until', 'text')
    .execute();
  await s.createIndex('auth_login_throttle_name').on('auth_login_throttle').column('name').execute();
  await s.createIndex('auth_login_throttle_last').on('auth_login_throttle').column('last_failure_at').execute();

  // One row per (attempted name, address, window): the audit trail gets the first failure of a
  // window and a summary with the counts, never one entry per attempt.
  await s
    .createTable('auth_login_failure_windows')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('window_start', 'text', (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('refused', 'integer', (c) => c.notNull())
    .addColumn('first_at', 'text', (c) => c.notNull())
    .addColumn('last_at', 'text', (c) => c.notNull())
    // What the trail has been told so far (failures + refused); a summary reports the rest.
    .addColumn('reported', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('auth_login_failure_windows_pk', ['name', 'address', 'window_start'])
    .execute();
  await s.createIndex('auth_login_failure_windows_start').on('auth_login_failure_windows').column('window_start').execute();
}
