/** Opens the SQLite file of a data directory with the pragmas the store relies on. */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import { RollgateError, errorMessage } from '../core/errors.js';
import type { Database as Schema } from './schema.js';

export const SQLITE_FILE = 'rollgate.db';

export function openSqlite(dataDir: string): Kysely<Schema> {
  const file = join(resolve(dataDir), SQLITE_FILE);
  let db: Database.Database;
  try {
    mkdirSync(resolve(dataDir), { recursive: true });
    db = new Database(file);
  } catch (e) {
    throw new RollgateError('unavailable', `cannot open the SQLite database ${file}: ${errorMessage(e)}; check that the data directory exists and is writable`);
  }
  try {
    // Wait for another process's write rather than failing at once.
    db.pragma('busy_timeout = 5000');
    // WAL: readers never block the writer; FULL: a committed write survives a power loss.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  } catch (e) {
    db.close();
    throw new RollgateError('unavailable', `cannot use the SQLite database ${file}: ${errorMessage(e)}; check that no other program holds it locked`);
  }
  return new Kysely<Schema>({ dialect: new SqliteDialect({ database: withStatementCache(db) }) });
}

/**
 * Kysely prepares every query anew; the store runs a small set of query shapes over and over
 * (each pipeline stage, each deployment tick), so prepared statements are kept, by SQL text.
 */
function withStatementCache(db: Database.Database, size = 512): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => db.close(),
    prepare(sqlText: string) {
      let stmt = cache.get(sqlText);
      if (stmt) {
        // Most recently used last, so the oldest is the first key.
        cache.delete(sqlText);
      } else {
        stmt = db.prepare(sqlText);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
      }
      cache.set(sqlText, stmt);
      return stmt;
    },
  };
}
