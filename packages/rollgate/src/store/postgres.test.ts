import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RollgateError, errorMessage } from '../core/errors.js';
import { PG_TEST_SERVER, createTestDatabase, requireAllBackends, type TestDatabase } from '../test/pg.js';
import { pipelineStoreSuite } from '../test/store-pipeline.suite.js';
import { storeSuite } from '../test/store.suite.js';
import { openStore } from './index.js';

let tdb: TestDatabase | null = null;
// The pipeline suite gets a database of its own: each suite drops its database when it ends.
let pipelineDb: TestDatabase | null = null;
let reason = '';
try {
  tdb = await createTestDatabase();
  pipelineDb = await createTestDatabase();
} catch (e) {
  reason = errorMessage(e);
  await tdb?.drop();
  tdb = null;
}

if (tdb && pipelineDb) {
  const db = tdb;
  const pdb = pipelineDb;
  storeSuite('store on PostgreSQL', () => openStore({ url: db.url }), () => db.drop());
  pipelineStoreSuite('pipeline store on PostgreSQL', () => openStore({ url: pdb.url }), () => pdb.drop());
} else {
  test('store on PostgreSQL', (t) => {
    if (requireAllBackends()) assert.fail(`${reason} (ROLLGATE_REQUIRE_ALL=1)`);
    console.warn(`\n*** SKIPPED: store suite on PostgreSQL — ${reason} ***\n`);
    t.skip(reason);
  });
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  assert.ok(addr && typeof addr === 'object');
  return addr.port;
}

describe('openStore with a PostgreSQL URL that does not work', () => {
  test('unreachable server: unavailable, names the host, hides the password', async () => {
    const port = await closedPort();
    const err = await openStore({ url: `postgres://rollgate:s3cr3t-pw@127.0.0.1:${port}/rollgate` }).catch((e: unknown) => e);
    assert.ok(err instanceof RollgateError, String(err));
    assert.equal(err.code, 'unavailable');
    assert.ok(err.message.includes(`127.0.0.1:${port}`), err.message);
    assert.match(err.message, /check/);
    assert.ok(!err.message.includes('s3cr3t-pw'), err.message);
  });

  test('unparseable URL: unavailable, does not echo it', async () => {
    const err = await openStore({ url: 'postgres://user:zq9@pw:x7@[bad/db' }).catch((e: unknown) => e);
    assert.ok(err instanceof RollgateError, String(err));
    assert.equal(err.code, 'unavailable');
    assert.ok(!err.message.includes('zq9') && !err.message.includes('x7@'), err.message);
  });

  test('wrong database name: unavailable, names it', { skip: tdb ? false : reason }, async () => {
    const url = new URL(PG_TEST_SERVER);
    url.pathname = '/rollgate_no_such_db';
    const err = await openStore({ url: url.toString() }).catch((e: unknown) => e);
    assert.ok(err instanceof RollgateError, String(err));
    assert.equal(err.code, 'unavailable');
    assert.match(err.message, /rollgate_no_such_db/);
  });
});
