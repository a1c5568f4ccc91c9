/**
 * The Store contract for secrets, run against every backend, and the promise that the database
 * only ever holds ciphertext: after the Secrets engine set and rotated known values, every row
 * of every table (and, for SQLite, the database files themselves) is searched for them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { EventBus } from '../engine/events.js';
import { Secrets } from '../engine/secrets/secrets.js';
import { KyselyStore } from '../store/kysely-store.js';
import type { NewSecretVersion } from '../store/secrets-types.js';
import type { Store } from '../store/types.js';
import { rejectsWith, storeLifecycle } from './store.suite.js';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function uid(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

function version(app: string, env: string, name: string, v: number, over: Partial<NewSecretVersion> = {}): NewSecretVersion {
  return {
    app,
    env,
    name,
    version: v,
    keyId: 'v1.0123456789abcdef',
    // Every byte value, zeros included: base64 text must carry them all.
    nonce: randomBytes(12),
    ciphertext: Buffer.concat([Buffer.from([0, 255, 0, 10, 13]), randomBytes(40)]),
    tag: randomBytes(16),
    createdBy: 'token:admin',
    ...over,
  };
}

export interface SecretsSuiteOptions {
  /** Files that hold the database (SQLite: the file and its WAL), searched byte by byte. */
  files?: () => string[];
}

/** Every row of every table of the store's database, as text. */
async function dumpDatabase(store: Store): Promise<string> {
  assert.ok(store instanceof KyselyStore, 'the raw scan needs the Kysely store');
  const db = store.db;
  const tables =
    store.dialect === 'postgres'
      ? (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db)).rows
      : (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows;
  assert.ok(tables.some((t) => t.name === 'secrets'), 'the secrets table exists');
  let out = '';
  for (const { name } of tables) {
    const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db)).rows;
    out += `${name}\n${JSON.stringify(rows, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v))}\n`;
  }
  return out;
}

export function secretsStoreSuite(name: string, open: () => Promise<Store>, cleanup: () => Promise<void>, opts: SecretsSuiteOptions = {}): void {
  describe(name, () => {
    const current = storeLifecycle(open, cleanup);
    let store: Store;
    before(() => {
      store = current();
    });

    test('versions: the current one is the highest; listings carry no ciphertext', async () => {
      const [app, env] = [uid('app'), uid('env')];
      assert.equal(await store.secrets.lastSecretVersion(app, env, 'DB_PASSWORD'), 0);
      assert.equal(await store.secrets.currentSecret(app, env, 'DB_PASSWORD'), null);
      const v1 = version(app, env, 'DB_PASSWORD', 1);
      const m1 = await store.secrets.addSecretVersion(v1);
      assert.deepEqual(Object.keys(m1).sort(), ['app', 'createdAt', 'createdBy', 'env', 'name', 'version']);
      assert.match(m1.createdAt, ISO_UTC);
      assert.equal(m1.version, 1);
      const v2 = version(app, env, 'DB_PASSWORD', 2, { createdBy: 'user:ana' });
      await store.secrets.addSecretVersion(v2);
      await store.secrets.addSecretVersion(version(app, env, 'API_KEY', 1));

      const cur = await store.secrets.currentSecret(app, env, 'DB_PASSWORD');
      assert.ok(cur);
      assert.equal(cur.version, 2);
      assert.equal(cur.createdBy, 'user:ana');
      assert.equal(cur.keyId, v2.keyId);
      assert.ok(cur.nonce.equals(v2.nonce) && cur.ciphertext.equals(v2.ciphertext) && cur.tag.equals(v2.tag), 'bytes come back exactly');
      assert.equal(await store.secrets.lastSecretVersion(app, env, 'DB_PASSWORD'), 2);

      assert.deepEqual((await store.secrets.currentSecrets(app, env)).map((s) => [s.name, s.version]), [['API_KEY', 1], ['DB_PASSWORD', 2]]);
      const list = await store.secrets.listSecrets(app, env);
      assert.deepEqual(list.map((s) => [s.name, s.version, s.createdBy]), [['API_KEY', 1, 'token:admin'], ['DB_PASSWORD', 2, 'user:ana']]);
      for (const s of list) assert.deepEqual(Object.keys(s).sort(), ['app', 'createdAt', 'createdBy', 'env', 'name', 'version']);
    });

    test('apps and environments do not see each other; a listing of an app spans its environments', async () => {
      const [app, other, staging, production] = [uid('app'), uid('app'), uid('env'), uid('env')];
      await store.secrets.addSecretVersion(version(app, production, 'TOKEN', 1));
      await store.secrets.addSecretVersion(version(app, staging, 'TOKEN', 1));
      await store.secrets.addSecretVersion(version(app, staging, 'TOKEN', 2));
      await store.secrets.addSecretVersion(version(other, staging, 'OTHER', 1));
      assert.deepEqual((await store.secrets.currentSecrets(app, staging)).map((s) => [s.name, s.version]), [['TOKEN', 2]]);
      assert.deepEqual((await store.secrets.currentSecrets(app, production)).map((s) => [s.name, s.version]), [['TOKEN', 1]]);
      const byEnv = [staging, production].sort();
      assert.deepEqual((await store.secrets.listSecrets(app)).map((s) => [s.env, s.name, s.version]), byEnv.map((e) => [e, 'TOKEN', e === staging ? 2 : 1]));
      assert.deepEqual((await store.secrets.listSecrets(other)).map((s) => s.name), ['OTHER']);
      assert.deepEqual(await store.secrets.listSecrets(uid('app')), []);
    });

    test('deleting marks every version; version numbers are never reused', async () => {
      const [app, env] = [uid('app'), uid('env')];
      for (const v of [1, 2, 3]) await store.secrets.addSecretVersion(version(app, env, 'GONE', v));
      await store.secrets.addSecretVersion(version(app, env, 'KEPT', 1));
      assert.deepEqual(await store.secrets.deleteSecret(app, env, 'GONE'), [1, 2, 3]);
      assert.deepEqual(await store.secrets.deleteSecret(app, env, 'GONE'), [], 'a second delete finds nothing');
      assert.equal(await store.secrets.currentSecret(app, env, 'GONE'), null);
      assert.deepEqual((await store.secrets.listSecrets(app, env)).map((s) => s.name), ['KEPT']);
      assert.deepEqual((await store.secrets.currentSecrets(app, env)).map((s) => s.name), ['KEPT']);
      assert.equal(await store.secrets.lastSecretVersion(app, env, 'GONE'), 3, 'deleted versions still count');
      await store.secrets.addSecretVersion(version(app, env, 'GONE', 4));
      assert.equal((await store.secrets.currentSecret(app, env, 'GONE'))?.version, 4);
      assert.deepEqual(await store.secrets.deleteSecret(app, env, 'NEVER'), []);
    });

    test('a version number is taken once: a duplicate is a conflict, concurrent writers get exactly one in', async () => {
      const [app, env] = [uid('app'), uid('env')];
      await store.secrets.addSecretVersion(version(app, env, 'DUP', 1));
      await rejectsWith(store.secrets.addSecretVersion(version(app, env, 'DUP', 1)), 'conflict', /DUP .* \(version 1 is taken\); try again/);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.secrets.addSecretVersion(version(app, env, 'DUP', 2))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'conflict');
      assert.equal(await store.secrets.lastSecretVersion(app, env, 'DUP'), 2);
    });

    test('through the Secrets engine: values round-trip, events carry names and versions, the database holds ciphertext only', async () => {
      const [app, env] = [uid('app'), uid('env')];
      await store.upsertApp(app, { run: 'node server.js' });
      await store.upsertEnvironment(env, { listen: 18_080 });
      const events = new EventBus(store);
      const seen: unknown[] = [];
      events.subscribe((e) => seen.push(e));
      const masterKey = randomBytes(32);
      const secrets = new Secrets({ store, masterKey, events });
      const plain = {
        first: `pw-${randomBytes(12).toString('hex')}`,
        rotated: `pw2-${randomBytes(12).toString('hex')}`,
        unicode: `ünï-${randomBytes(8).toString('hex')}-🔑`,
        multiline: `-----BEGIN KEY-----\n${randomBytes(24).toString('base64')}\n-----END KEY-----\n`,
      };
      await secrets.set(app, env, 'DB_PASSWORD', plain.first, 'user:ana');
      const rot = await secrets.rotate(app, env, 'DB_PASSWORD', Buffer.from(plain.rotated), 'user:ana');
      assert.deepEqual([rot.version, rot.previousVersion], [2, 1]);
      await secrets.set(app, env, 'UNICODE', plain.unicode, 'user:ana');
      await secrets.set(app, env, 'PEM', plain.multiline, 'user:ana');
      await secrets.set(app, env, 'GONE_SOON', `bye-${randomBytes(8).toString('hex')}`, 'user:ana');
      await secrets.rm(app, env, 'GONE_SOON', 'user:ana');

      assert.deepEqual(await secrets.resolve(app, env), { DB_PASSWORD: plain.rotated, PEM: plain.multiline, UNICODE: plain.unicode });
      // A fresh engine with the same master key reads what another wrote (e.g. after a restart); another key cannot.
      assert.deepEqual(await new Secrets({ store, masterKey: Buffer.from(masterKey) }).resolve(app, env), await secrets.resolve(app, env));
      await rejectsWith(new Secrets({ store, masterKey: randomBytes(32) }).resolve(app, env), 'internal', /another master key/);
      const list = await secrets.list(app, env);
      assert.deepEqual(list.map((s) => [s.name, s.version]), [['DB_PASSWORD', 2], ['PEM', 1], ['UNICODE', 1]]);

      const types = seen.map((e) => (e as { type: string }).type);
      assert.deepEqual(types, ['secret.set', 'secret.rotated', 'secret.set', 'secret.set', 'secret.set', 'secret.removed']);

      const dump = await dumpDatabase(store);
      const files = (opts.files?.() ?? []).filter((f) => existsSync(f)).map((f) => readFileSync(f));
      for (const [what, value] of Object.entries(plain)) {
        for (const form of [value, ...value.split('\n').filter((l) => l.length >= 8), Buffer.from(value).toString('base64'), Buffer.from(value).toString('hex')]) {
          assert.ok(!dump.includes(form), `the ${what} value (or its base64/hex) is in a database row`);
          for (const bytes of files) assert.ok(!bytes.includes(Buffer.from(form)), `the ${what} value is in a database file`);
        }
      }
      assert.ok(dump.includes('DB_PASSWORD'), 'the scan did see the secrets rows');
      if (opts.files) assert.ok(Buffer.concat(files).includes(Buffer.from(app)), 'the file scan did read the database');
    });
  });
}
