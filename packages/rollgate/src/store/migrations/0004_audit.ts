/**
 * The audit trail. Frozen once shipped (see 0001). Append-only by construction: the store has
 * no UPDATE or DELETE for it, and triggers refuse both (and TRUNCATE on PostgreSQL) so neither
 * a bug nor an injected statement changes history. Someone with full database access can drop
 * the triggers; the keyed hash chain (engine/audit.ts) is what detects that.
 */
import { sql, type Kysely } from 'kysely';
import type { SqlDialect } from '../schema.js';

export async function up(db: Kysely<unknown>, dialect: SqlDialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('audit_log')
    // Not auto-assigned: the append picks seq under its lock, since the hash covers it.
    .addColumn('seq', dialect === 'postgres' ? 'bigint' : 'integer', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('source_address', 'text')
    .addColumn('source_agent', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('before', 'text')
    .addColumn('after', 'text')
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addCheckConstraint('audit_log_outcome_check', sql`outcome in ('ok', 'denied', 'failed')`)
    .execute();
  await s.createIndex('audit_log_actor_seq').on('audit_log').columns(['actor', 'seq']).execute();
  await s.createIndex('audit_log_action_seq').on('audit_log').columns(['action', 'seq']).execute();
  await s.createIndex('audit_log_at').on('audit_log').column('at').execute();

  if (dialect === 'postgres') {
    await sql`create function audit_log_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'audit_log is append-only: entries cannot be changed or deleted';
      end
    $$`.execute(db);
    await sql`create trigger audit_log_no_change before update or delete on audit_log for each row execute function audit_log_append_only()`.execute(db);
    await sql`create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function audit_log_append_only()`.execute(db);
  } else {
    await sql`create trigger audit_log_no_update before update on audit_log begin select raise(abort, 'audit_log is append-only: entries cannot be changed or deleted'); end`.execute(db);
    await sql`create trigger audit_log_no_delete before delete on audit_log begin select raise(abort, 'audit_log is append-only: entries cannot be changed or deleted'); end`.execute(db);
  }
}
