/** Opens a PostgreSQL pool for ROLLGATE_DATABASE_URL; never lets the password reach a message. */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { RollgateError, errorMessage } from '../core/errors.js';
import type { Database as Schema } from './schema.js';

const INT8_OID = 20;

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** host:port/database of a URL, without credentials, for messages. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname || '/'}`;
  } catch {
    return '(unparseable URL)';
  }
}

export async function openPostgres(url: string): Promise<Kysely<Schema>> {
  const where = describePostgresUrl(url);
  try {
    new URL(url);
  } catch {
    // Do not echo the URL: it may hold a password.
    throw new RollgateError(
      'unavailable',
      'ROLLGATE_DATABASE_URL is not a valid URL; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE (percent-encode special characters in the password)',
    );
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 5000,
    // Auto-increment ids are bigserial; read them as numbers (exact below 2^53) for this
    // pool only, without touching pg's global parsers.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client dropped by the server (restart, failover) is replaced on next use; without
  // a listener the pool's 'error' event would crash the process.
  pool.on('error', () => {});
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
  } catch (e) {
    await db.destroy().catch(() => {});
    throw new RollgateError(
      'unavailable',
      `cannot reach PostgreSQL at ${where}: ${redact(errorMessage(e), url)}; check that the server runs and accepts connections there, and the user, password and database in ROLLGATE_DATABASE_URL`,
    );
  }
  return db;
}

function redact(message: string, url: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // unparseable: nothing to redact beyond the URL itself
  }
  let out = message.split(url).join('<ROLLGATE_DATABASE_URL>');
  if (password) out = out.split(password).join('***');
  return out;
}
