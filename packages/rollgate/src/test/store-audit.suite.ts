/**
 * The audit trail against every backend: the store part (append, list, filters, no update or
 * delete) and the chain it carries (engine/audit.ts): concurrent appends stay one linear chain,
 * and rows edited, deleted or reordered directly in the database with SQL are named by verify.
 * Each test uses its own actor names; the tamper tests put the table back as it was after each
 * case, so the tests share one database.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { AuditTrail, type AuditEntry, type AuditVerifyResult } from '../engine/audit.js';
import { AUDIT_HEAD_SETTING } from '../store/audit-types.js';
import type { OpenStoreOptions } from '../store/index.js';
import { KyselyStore } from '../store/kysely-store.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/types.js';
import { storeLifecycle } from './store.suite.js';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function uid(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

function dbOf(store: Store): Kysely<Database> {
  assert.ok(store instanceof KyselyStore, 'the tamper tests reach the database through KyselyStore.db');
  return store.db;
}

/** Runs SQL text directly on the database, as someone with database access would. */
async function exec(store: Store, text: string): Promise<void> {
  await sql.raw(text).execute(dbOf(store));
}

/** Seqs consecutive, and in seq order each entry's prev_hash is the hash of the one before. */
function assertLinear(seqs: number[], chain: AuditEntry[]): void {
  const sorted = [...seqs].sort((x, y) => x - y);
  for (let i = 1; i < sorted.length; i++) assert.equal(sorted[i], sorted[0]! + i, `seqs are consecutive: ${sorted.join(',')}`);
  const ordered = [...chain].sort((x, y) => x.seq - y.seq);
  for (let i = 1; i < ordered.length; i++) assert.equal(ordered[i]!.prevHash, ordered[i - 1]!.hash, `entry ${ordered[i]!.seq} links to ${ordered[i - 1]!.seq}`);
}

/**
 * A second process (real node, the real store and trail) that opens the database, says
 * "ready", waits for a line on stdin, appends `n` entries at once, and exits.
 */
function startAppender(where: OpenStoreOptions, key: Buffer, actor: string, n: number): { ready: Promise<void>; go(): void; done: Promise<void>; kill(): void } {
  const code = `
    import { openStore } from ${JSON.stringify(new URL('../store/index.js', import.meta.url).href)};
    import { AuditTrail } from ${JSON.stringify(new URL('../engine/audit.js', import.meta.url).href)};
    const store = await openStore(JSON.parse(process.env.AUDIT_WHERE));
    const trail = new AuditTrail(store, Buffer.from(process.env.AUDIT_KEY, 'hex'));
    process.stdout.write('ready\\n');
    await new Promise((r) => process.stdin.once('data', r));
    await Promise.all(Array.from({ length: ${n} }, (_, i) => trail.record({ actor: process.env.AUDIT_ACTOR, action: 'flag.set', target: 'flag/child' + i })));
    await store.close();
    process.stdin.destroy();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, AUDIT_WHERE: JSON.stringify(where), AUDIT_KEY: key.toString('hex'), AUDIT_ACTOR: actor },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready')) resolve();
    });
    child.on('exit', () => reject(new Error(`appender exited before it was ready: ${err}`)));
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`appender exited with ${code}: ${err}`));
    });
  });
  ready.catch(() => undefined);
  return { ready, go: () => child.stdin.write('go\n'), done, kill: () => child.exitCode === null && child.kill('SIGKILL') };
}

function broken(r: AuditVerifyResult): { firstBroken: number; reason: string } {
  assert.equal(r.ok, false, `verify should have found a break: ${JSON.stringify(r)}`);
  if (r.ok) throw new Error('unreachable');
  return r;
}

/** `where`: how another process opens the same database (for the two-writer test). */
export function auditStoreSuite(name: string, open: () => Promise<Store>, cleanup: () => Promise<void>, where: OpenStoreOptions): void {
  describe(name, () => {
    const current = storeLifecycle(open, cleanup);
    let store: Store;
    let trail: AuditTrail;
    const key = randomBytes(32);

    before(() => {
      store = current();
      trail = new AuditTrail(store, key);
    });

    test('an entry is stored with who, what, when, from where, before and after, and chained', async () => {
      const actor = uid('alice');
      const a = await trail.record({
        actor,
        action: 'deployment.create',
        target: 'deployment/d-1',
        source: { address: '10.0.0.7', userAgent: 'rollgate-cli/0.1' },
        before: null,
        after: { app: 'shop', env: 'production', version: '1.2.0', nested: { list: [1, 'ü', null, true] } },
      });
      const b = await trail.record({ actor, action: 'pipeline.approve', target: 'run/r-1', outcome: 'denied' });
      assert.equal(b.seq, a.seq + 1);
      assert.equal(b.prevHash, a.hash);
      assert.match(a.hash, /^[0-9a-f]{64}$/);
      assert.match(a.at, ISO_UTC);
      assert.deepEqual(b.source, { address: null, userAgent: null });
      assert.equal(b.before, null);
      assert.equal(b.after, null);

      const listed = await trail.list({ actor });
      assert.deepEqual(listed, [b, a], 'newest first, exactly as recorded');
      assert.deepEqual(listed[1]!.after, { app: 'shop', env: 'production', version: '1.2.0', nested: { list: [1, 'ü', null, true] } });
      assert.equal(listed[1]!.outcome, 'ok');
      assert.equal(listed[0]!.outcome, 'denied');
      const v = await trail.verify();
      assert.equal(v.ok, true, JSON.stringify(v));
    });

    test('the store offers no update or delete, and the database refuses both', async () => {
      const names = Object.getOwnPropertyNames(Object.getPrototypeOf(store.audit) as object).filter((n) => n !== 'constructor');
      assert.deepEqual(names.sort(), ['append', 'list', 'state']);
      const e = await trail.record({ actor: uid('bob'), action: 'settings.change', target: 'settings' });
      await assert.rejects(exec(store, `update audit_log set actor = 'mallory' where seq = ${e.seq}`), /append-only/);
      await assert.rejects(exec(store, `delete from audit_log where seq = ${e.seq}`), /append-only/);
      if (store.dialect === 'postgres') await assert.rejects(exec(store, 'truncate audit_log'), /append-only/);
      const [again] = await trail.list({ actor: e.actor });
      assert.deepEqual(again, e);
    });

    test('list filters by actor, exact action, action prefix, outcome and since; pages both ways', async () => {
      const actor = uid('carol');
      const other = uid('dave');
      const made: AuditEntry[] = [];
      for (const [who, action, outcome] of [
        [actor, 'secret.set', 'ok'],
        [actor, 'secret.rotate', 'ok'],
        [actor, 'secret_x.set', 'ok'], // `_` would match any character in LIKE; the prefix filter must not
        [actor, 'deployment.create', 'failed'],
        [other, 'secret.set', 'ok'],
        [actor, 'token.revoke', 'denied'],
      ] as const) {
        made.push(await trail.record({ actor: who, action, target: `t/${action}`, outcome }));
      }
      const mine = made.filter((e) => e.actor === actor);
      assert.deepEqual(await trail.list({ actor }), [...mine].reverse());
      assert.deepEqual((await trail.list({ actor, action: 'secret.set' })).map((e) => e.seq), [made[0]!.seq]);
      assert.deepEqual((await trail.list({ actor, action: 'secret.*' })).map((e) => e.action), ['secret.rotate', 'secret.set']);
      assert.deepEqual((await trail.list({ action: 'secret.*' })).filter((e) => e.actor === other).length, 1);
      assert.deepEqual((await trail.list({ actor, outcome: 'denied' })).map((e) => e.action), ['token.revoke']);
      assert.deepEqual((await trail.list({ actor, limit: 2 })).map((e) => e.action), ['token.revoke', 'deployment.create']);
      // Paging back from the newest, and forward from the oldest.
      const back = await trail.list({ actor, beforeSeq: mine[mine.length - 1]!.seq, limit: 2 });
      assert.deepEqual(back.map((e) => e.action), ['deployment.create', 'secret_x.set']);
      const forward = await trail.list({ actor, afterSeq: mine[0]!.seq, limit: 2 });
      assert.deepEqual(forward.map((e) => e.action), ['secret.rotate', 'secret_x.set']);
      // since: everything of this test is recent; a time after all of it matches nothing.
      assert.equal((await trail.list({ actor, since: '2000-01-01T00:00:00.000Z' })).length, mine.length);
      assert.equal((await trail.list({ actor, since: new Date(Date.now() + 60_000).toISOString() })).length, 0);
      await assert.rejects(trail.list({ limit: 0 }), /limit/);
      await assert.rejects(trail.list({ limit: 1001 }), /limit/);
    });

    test('secrets are redacted before they are hashed or stored: the row text never holds them', async () => {
      const actor = uid('erin');
      const plain = `s3cr3t-${randomBytes(6).toString('hex')}`;
      const e = await trail.record({
        actor,
        action: 'secret.set',
        target: 'app/shop/env/production/secret/DB_URL',
        before: { version: 1, value: plain },
        after: { version: 2, value: plain, meta: { password: plain, apiToken: plain, Authorization: `Bearer ${plain}`, note: 'kept' } },
      });
      assert.deepEqual(e.after, { version: 2, value: '[redacted]', meta: { password: '[redacted]', apiToken: '[redacted]', Authorization: '[redacted]', note: 'kept' } });
      const { rows } = await sql<Record<string, unknown>>`select * from audit_log where seq = ${e.seq}`.execute(dbOf(store));
      assert.equal(rows.length, 1);
      assert.ok(!JSON.stringify(rows[0]).includes(plain), 'the stored row holds no secret');
    });

    test('20 concurrent appends make one linear chain that verifies', async () => {
      const actor = uid('frank');
      const entries = await Promise.all(Array.from({ length: 20 }, (_, i) => trail.record({ actor, action: 'flag.set', target: `flag/f${i}`, after: { i } })));
      assertLinear(entries.map((e) => e.seq), await trail.list({ actor, afterSeq: Math.min(...entries.map((e) => e.seq)) - 1, limit: 20 }));
      const v = await trail.verify();
      assert.equal(v.ok, true, JSON.stringify(v));
    });

    test('two processes appending at once make one linear chain that verifies', async () => {
      const actor = uid('frank');
      const child = startAppender(where, key, actor, 20);
      try {
        await child.ready;
        child.go();
        const mine = Promise.all(Array.from({ length: 20 }, (_, i) => trail.record({ actor, action: 'flag.set', target: `flag/parent${i}` })));
        await Promise.all([mine, child.done]);
        const all = await trail.list({ actor, afterSeq: Number.MIN_SAFE_INTEGER, limit: 1000 });
        assert.equal(all.length, 40, 'both processes appended 20');
        assertLinear(all.map((e) => e.seq), all);
        // Not asserted (scheduling decides), but shown: how often the writer changed along the chain.
        let switches = 0;
        for (let i = 1; i < all.length; i++) if (all[i]!.target.startsWith('flag/child') !== all[i - 1]!.target.startsWith('flag/child')) switches++;
        console.log(`${store.dialect}: the two writers alternated ${switches} times along the chain`);
        const v = await trail.verify();
        assert.equal(v.ok, true, JSON.stringify(v));
      } finally {
        child.kill();
      }
    });

    test('a trail checked with another key fails at its first entry', async () => {
      await trail.record({ actor: uid('gina'), action: 'settings.change', target: 'settings' });
      const r = broken(await new AuditTrail(store, randomBytes(32)).verify());
      const [first] = await trail.list({ afterSeq: Number.MIN_SAFE_INTEGER, limit: 1 });
      assert.equal(r.firstBroken, first!.seq);
    });

    describe('rows changed directly in the database: verify names the first broken entry', () => {
      let db: Kysely<Database>;
      let seqs: number[] = [];
      let snapshot: { rows: Awaited<ReturnType<typeof readRows>>; anchor: string | null };

      const readRows = () => db.selectFrom('audit_log').selectAll().orderBy('seq').execute();
      const readAnchor = async () => (await db.selectFrom('settings').select('value').where('key', '=', AUDIT_HEAD_SETTING).executeTakeFirst())?.value ?? null;

      /** Puts table and anchor back exactly as snapshotted, then checks the trail verifies again. */
      async function restore(): Promise<void> {
        await db.deleteFrom('audit_log').execute();
        for (let i = 0; i < snapshot.rows.length; i += 200) await db.insertInto('audit_log').values(snapshot.rows.slice(i, i + 200)).execute();
        if (snapshot.anchor === null) await db.deleteFrom('settings').where('key', '=', AUDIT_HEAD_SETTING).execute();
        else await store.setSetting(AUDIT_HEAD_SETTING, snapshot.anchor);
        const v = await trail.verify();
        assert.equal(v.ok, true, `restored trail verifies: ${JSON.stringify(v)}`);
      }

      async function expectBreak(tamper: string | (() => Promise<void>), firstBroken: () => number, reason: RegExp): Promise<void> {
        try {
          if (typeof tamper === 'string') for (const stmt of tamper.split(';').filter((s) => s.trim() !== '')) await exec(store, stmt);
          else await tamper();
          const r = broken(await trail.verify());
          assert.equal(r.firstBroken, firstBroken(), `first broken entry (${r.reason})`);
          assert.match(r.reason, reason);
          assert.match(r.reason, new RegExp(`\\b${firstBroken()}\\b`), 'the reason names the entry');
        } finally {
          await restore();
        }
      }

      before(async () => {
        db = dbOf(store);
        // Someone with database access can drop the triggers; the chain must still tell.
        if (store.dialect === 'postgres') {
          await exec(store, 'drop trigger audit_log_no_change on audit_log');
          await exec(store, 'drop trigger audit_log_no_truncate on audit_log');
        } else {
          await exec(store, 'drop trigger audit_log_no_update');
          await exec(store, 'drop trigger audit_log_no_delete');
        }
        const actor = uid('henry');
        seqs = [];
        for (let i = 0; i < 6; i++) seqs.push((await trail.record({ actor, action: 'deployment.promote', target: `deployment/d${i}`, before: { weight: i * 10 }, after: { weight: i * 10 + 10 } })).seq);
        snapshot = { rows: await readRows(), anchor: await readAnchor() };
        assert.equal((await trail.verify()).ok, true);
      });

      const s = (i: number) => seqs[i]!;

      test('a field edited', () => expectBreak(`update audit_log set actor = 'mallory' where seq = ${s(2)}`, () => s(2), /edited/));

      test('a before/after state edited (still valid JSON)', () => expectBreak(`update audit_log set "after" = '{"weight":100}' where seq = ${s(3)}`, () => s(3), /edited/));

      test('a state edited into invalid JSON', () => expectBreak(`update audit_log set "before" = '{' where seq = ${s(1)}`, () => s(1), /edited.*not valid JSON/));

      test('a middle row deleted', () => expectBreak(`delete from audit_log where seq = ${s(2)}`, () => s(2), /missing.*deleted/));

      test('two middle rows deleted', () => expectBreak(`delete from audit_log where seq in (${s(2)}, ${s(3)})`, () => s(2), /entries .* missing/));

      test('the last row deleted', () => expectBreak(`delete from audit_log where seq = ${s(5)}`, () => s(5), /tail was deleted/));

      test('the last rows deleted and the anchor moved back by hand', () =>
        expectBreak(
          async () => {
            await exec(store, `delete from audit_log where seq = ${s(5)}`);
            const row = snapshot.rows.find((r) => Number(r.seq) === s(4))!;
            await store.setSetting(AUDIT_HEAD_SETTING, JSON.stringify({ seq: s(4), hash: row.hash, mac: 'f'.repeat(64) }));
          },
          () => s(4) + 1,
          /anchor was altered/,
        ));

      test('the head anchor deleted', () => expectBreak(`delete from settings where key = '${AUDIT_HEAD_SETTING}'`, () => s(5) + 1, /anchor is missing/));

      test('the first row of the trail deleted', () =>
        expectBreak(`delete from audit_log where seq = ${Number(snapshot.rows[0]!.seq)}`, () => Number(snapshot.rows[0]!.seq), /missing.*deleted/));

      test('two rows reordered by swapping their seq', () =>
        expectBreak(
          `update audit_log set seq = -1 where seq = ${s(2)}; update audit_log set seq = ${s(2)} where seq = ${s(3)}; update audit_log set seq = ${s(3)} where seq = -1`,
          () => s(2),
          new RegExp(`holds the content of entry ${s(3)}.*reordered`),
        ));

      test('two rows reordered by swapping their contents', () =>
        expectBreak(
          async () => {
            const a = snapshot.rows.find((r) => Number(r.seq) === s(1))!;
            const b = snapshot.rows.find((r) => Number(r.seq) === s(2))!;
            const { seq: _a, ...contentA } = a;
            const { seq: _b, ...contentB } = b;
            await db.updateTable('audit_log').set(contentB).where('seq', '=', s(1)).execute();
            await db.updateTable('audit_log').set(contentA).where('seq', '=', s(2)).execute();
          },
          () => s(1),
          /reordered/,
        ));

      test('a prev_hash changed', () => expectBreak(`update audit_log set prev_hash = '${'a'.repeat(64)}' where seq = ${s(4)}`, () => s(4), /prev_hash was changed/));

      test('a row forged with a made-up hash after the head', () =>
        expectBreak(
          `insert into audit_log (seq, at, actor, action, target, outcome, prev_hash, hash) values (${s(5) + 1}, '2030-01-01T00:00:00.000Z', 'mallory', 'user.create', 'user/mallory', 'ok', '${'0'.repeat(64)}', '${'b'.repeat(64)}')`,
          () => s(5) + 1,
          /does not match its hash/,
        ));

      test('the tail deleted, then a new entry recorded: the gap stays visible', () =>
        expectBreak(
          async () => {
            await exec(store, `delete from audit_log where seq = ${s(5)}`);
            const next = await trail.record({ actor: uid('ivan'), action: 'settings.change', target: 'settings' });
            assert.equal(next.seq, s(5) + 1, 'the next entry follows the anchor, not the highest row left');
          },
          () => s(5),
          /missing.*deleted/,
        ));

      test('the head anchor deleted, then a new entry recorded: it is marked, not healed over', () =>
        expectBreak(
          async () => {
            await exec(store, `delete from audit_log where seq = ${s(5)}`);
            await exec(store, `delete from settings where key = '${AUDIT_HEAD_SETTING}'`);
            await trail.record({ actor: uid('judy'), action: 'settings.change', target: 'settings' });
          },
          () => s(5),
          /anchor was missing or forged/,
        ));
    });
  });
}
