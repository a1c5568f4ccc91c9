/**
 * One write transaction on either dialect. On SQLite it begins IMMEDIATE: the database's write
 * lock is taken up front, so another process cannot write between our reads and our writes (a
 * deferred BEGIN would read, then fail to upgrade); Kysely's SQLite driver already runs one
 * connection at a time within this process.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, SqlDialect } from './schema.js';

export type Db = Kysely<Database> | Transaction<Database>;

export function writeTransaction<T>(db: Kysely<Database>, dialect: SqlDialect, fn: (trx: Db) => Promise<T>): Promise<T> {
  if (dialect === 'postgres') return db.transaction().execute(fn);
  return db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const out = await fn(conn);
      await sql`commit`.execute(conn);
      return out;
    } catch (e) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw e;
    }
  });
}
