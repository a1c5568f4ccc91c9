/**
 * Throwaway PostgreSQL databases for tests: one fresh database per test file, dropped at
 * the end, so test files can run in parallel against one server.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { errorMessage } from '../core/errors.js';

/** Admin connection of the test server (trust auth in CI). */
export const PG_TEST_SERVER = process.env.ROLLGATE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** URL of the fresh database, for openStore({ url }). */
  url: string;
  name: string;
  /** Drops the database (terminating leftover connections). Idempotent. */
  drop(): Promise<void>;
}

/** Whether a test that needs PostgreSQL must fail, rather than skip, when it is unreachable. */
export function requireAllBackends(): boolean {
  return process.env.ROLLGATE_REQUIRE_ALL === '1';
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_TEST_SERVER, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates `rollgate_test_<random>`. Throws an Error whose message starts
 * "PostgreSQL not reachable at HOST:PORT: …" when the server cannot be used.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `rollgate_test_${randomBytes(6).toString('hex')}`;
  const server = new URL(PG_TEST_SERVER);
  const where = `${server.hostname}:${server.port || '5432'}`;
  try {
    await admin((c) => c.query(`create database ${name}`));
  } catch (e) {
    throw new Error(`PostgreSQL not reachable at ${where}: ${errorMessage(e)}`);
  }
  const url = new URL(PG_TEST_SERVER);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/**
 * Runs `suite` with a fresh database when PostgreSQL is reachable; otherwise one test that skips
 * saying why (or fails, under ROLLGATE_REQUIRE_ALL=1). The suite is responsible for dropping it.
 */
export async function withPostgres(name: string, suite: (db: TestDatabase) => void): Promise<void> {
  const { test } = await import('node:test');
  let db: TestDatabase | null = null;
  let reason = '';
  try {
    db = await createTestDatabase();
  } catch (e) {
    reason = errorMessage(e);
  }
  if (db) {
    suite(db);
    return;
  }
  test(name, (t) => {
    if (requireAllBackends()) throw new Error(`${reason} (ROLLGATE_REQUIRE_ALL=1)`);
    console.warn(`\n*** SKIPPED: ${name} — ${reason} ***\n`);
    t.skip(reason);
  });
}
