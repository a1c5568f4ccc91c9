/**
 * AuditStore over Kysely, for SQLite and PostgreSQL. Appends are serialized so the chain stays
 * linear with any number of writers: on SQLite by BEGIN IMMEDIATE (the write lock is taken
 * before the head is read, also against other processes); on PostgreSQL by an advisory
 * transaction lock. The head read, the insert and the anchor write share one transaction.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import { RollgateError } from '../core/errors.js';
import { now } from './rows.js';
import type { Database, SqlDialect } from './schema.js';
import type { AuditLogTable } from './schema-audit.js';
import { writeTransaction, type Db } from './write-transaction.js';
import { AUDIT_HEAD_SETTING, type AuditChainState, type AuditFilter, type AuditRow, type AuditStore } from './audit-types.js';

export const DEFAULT_AUDIT_LIMIT = 100;

// Arbitrary constant naming the PostgreSQL advisory lock that serialises audit appends (the
// single-key space; events use 7_270_110_001).
const AUDIT_LOCK_KEY = 7_270_110_004;

export class AuditQueries implements AuditStore {
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: SqlDialect,
  ) {}

  append(seal: (state: AuditChainState) => { row: AuditRow; anchor: string }): Promise<AuditRow> {
    return writeTransaction(this.db, this.dialect, (trx) => auditStoreIn(trx, this.dialect).append(seal));
  }

  async list(f: AuditFilter): Promise<AuditRow[]> {
    let q = this.db.selectFrom('audit_log').selectAll();
    if (f.since !== undefined) q = q.where('at', '>=', f.since);
    if (f.actor !== undefined) q = q.where('actor', '=', f.actor);
    if (f.action !== undefined) {
      if (f.action.endsWith('*')) {
        // substr rather than LIKE: `_` is a LIKE wildcard, and SQLite's LIKE ignores case.
        const prefix = f.action.slice(0, -1);
        if (prefix !== '') q = q.where(sql<string>`substr(action, 1, ${prefix.length})`, '=', prefix);
      } else {
        q = q.where('action', '=', f.action);
      }
    }
    if (f.outcome !== undefined) q = q.where('outcome', '=', f.outcome);
    if (f.beforeSeq !== undefined) q = q.where('seq', '<', f.beforeSeq);
    if (f.afterSeq !== undefined) q = q.where('seq', '>', f.afterSeq);
    const limit = f.limit ?? DEFAULT_AUDIT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new RollgateError('invalid_input', `audit limit must be a whole number of at least 1, not ${limit}`);
    const rows = await q
      .orderBy('seq', f.order === 'asc' ? 'asc' : 'desc')
      .limit(limit)
      .execute();
    return rows.map(auditRowFromDb);
  }

  async state(): Promise<AuditChainState> {
    if (this.dialect === 'postgres') {
      // One snapshot for both reads, so an append in between cannot pair a new anchor with an old last row.
      return this.db.transaction().setIsolationLevel('repeatable read').execute((trx) => readState(trx));
    }
    return this.db.transaction().execute((trx) => readState(trx));
  }
}

/**
 * The audit store inside a transaction someone else opened (a change and its entry commit
 * together): appends take the same lock as `AuditQueries.append` and write on `trx`. On SQLite
 * the caller must have begun the transaction IMMEDIATE, as `append` does.
 */
export function auditStoreIn(trx: Db, dialect: SqlDialect): AuditStore {
  return {
    async append(seal) {
      if (dialect === 'postgres') await lockAppends(trx);
      return writeEntry(trx, seal);
    },
    list: (f) => new AuditQueries(trx as Kysely<Database>, dialect).list(f),
    state: () => readState(trx),
  };
}

async function lockAppends(trx: Db): Promise<void> {
  await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_LOCK_KEY)})`.execute(trx);
}

async function writeEntry(trx: Db, seal: (state: AuditChainState) => { row: AuditRow; anchor: string }): Promise<AuditRow> {
  const { row, anchor } = seal(await readState(trx));
  await trx.insertInto('audit_log').values(auditRowToDb(row)).execute();
  const at = now();
  await trx
    .insertInto('settings')
    .values({ key: AUDIT_HEAD_SETTING, value: anchor, updated_at: at })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: anchor, updated_at: at }))
    .execute();
  return row;
}

async function readState(db: Db): Promise<AuditChainState> {
  const anchor = await db.selectFrom('settings').select('value').where('key', '=', AUDIT_HEAD_SETTING).executeTakeFirst();
  const last = await db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return { anchor: anchor?.value ?? null, last: last ? { seq: Number(last.seq), hash: last.hash } : null };
}

function auditRowToDb(r: AuditRow): AuditLogTable {
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    source_address: r.sourceAddress,
    source_agent: r.sourceAgent,
    outcome: r.outcome,
    before: r.before,
    after: r.after,
    prev_hash: r.prevHash,
    hash: r.hash,
  };
}

function auditRowFromDb(r: Selectable<AuditLogTable>): AuditRow {
  return {
    seq: Number(r.seq),
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    sourceAddress: r.source_address,
    sourceAgent: r.source_agent,
    outcome: r.outcome,
    before: r.before,
    after: r.after,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
