/** Opens the SQLite file of a data directory with the pragmas the store relies on. */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
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
  return new Kysely<Schema>({ dialect: new SqliteDialect({ database: db }) });
}
