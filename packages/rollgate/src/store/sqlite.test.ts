import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { RollgateError } from '../core/errors.js';
import { pipelineStoreSuite } from '../test/store-pipeline.suite.js';
import { storeSuite } from '../test/store.suite.js';
import { KyselyStore, SQLITE_FILE, openStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'rollgate-store-'));
storeSuite(
  'store on SQLite',
  () => openStore({ dataDir: join(dir, 'suite') }),
  async () => rmSync(join(dir, 'suite'), { recursive: true, force: true }),
);
pipelineStoreSuite(
  'pipeline store on SQLite',
  () => openStore({ dataDir: join(dir, 'pipeline-suite') }),
  async () => rmSync(join(dir, 'pipeline-suite'), { recursive: true, force: true }),
);

describe('SQLite file', () => {
  test('data survives close and reopen; the file is in WAL mode with the pragmas set', async () => {
    const dataDir = join(dir, 'reopen', 'nested');
    try {
      const a = await openStore({ dataDir });
      await a.upsertApp('shop', { run: 'x' });
      await a.setSetting('token', 'hash');
      const ev = await a.appendEvent({ type: 'deployment.started', app: 'shop' });
      // The connection the store uses has the durability settings.
      assert.ok(a instanceof KyselyStore);
      const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(a.db);
      assert.equal(rows[0]?.synchronous, 2, 'synchronous=FULL');
      const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(a.db);
      assert.equal(fk.rows[0]?.foreign_keys, 1);
      await a.close();

      const raw = new Database(join(dataDir, SQLITE_FILE), { readonly: true });
      try {
        assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        raw.close();
      }

      const b = await openStore({ dataDir });
      try {
        assert.deepEqual((await b.getApp('shop'))?.spec, { run: 'x' });
        assert.equal(await b.getSetting('token'), 'hash');
        assert.deepEqual(await b.listEvents(0), [ev]);
        const next = await b.appendEvent({ type: 'deployment.finished' });
        assert.ok(next.id > ev.id);
      } finally {
        await b.close();
      }
    } finally {
      rmSync(join(dir, 'reopen'), { recursive: true, force: true });
    }
  });

  test('a data directory that cannot be used, or no database at all, is a clear error', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    await assert.rejects(openStore({ dataDir: file }), (e) => e instanceof RollgateError && e.code === 'unavailable' && e.message.includes(file));
    await assert.rejects(openStore({}), (e) => e instanceof RollgateError && e.code === 'invalid_input');
    await assert.rejects(
      openStore({ url: 'mysql://u:pw@h/db' }),
      (e) => e instanceof RollgateError && e.code === 'unavailable' && !e.message.includes('pw'),
    );
  });

  test('cleanup', () => {
    rmSync(dir, { recursive: true, force: true });
  });
});
