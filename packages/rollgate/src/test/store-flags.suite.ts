/**
 * The Store contract for feature flags, run against every backend: flags and their states, the
 * delivery state with its revision, segments, SDK keys, and the one-transaction promise (a change
 * and its audit entry commit together, or neither does).
 */
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuditTrail } from '../engine/audit.js';
import type { NewFlag } from '../store/flags-types.js';
import type { Store } from '../store/types.js';
import { storeLifecycle } from './store.suite.js';

function uid(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

function flag(app: string, name: string, over: Partial<NewFlag> = {}): NewFlag {
  return { app, name, kind: 'release', owner: 'team-a', description: `about ${name}`, lifetimeDays: 40, createdBy: 'user:ana', ...over };
}

export function flagsStoreSuite(name: string, open: () => Promise<Store>, cleanup: () => Promise<void>): void {
  describe(name, () => {
    const current = storeLifecycle(open, cleanup);
    let store: Store;
    let trail: AuditTrail;
    before(() => {
      store = current();
      trail = new AuditTrail(store, randomBytes(32));
    });

    test('flags: created once, read, listed by name, updated; archived ones listed only when asked', async () => {
      const app = uid('app');
      assert.equal(await store.flags.change((tx) => tx.insertFlag(flag(app, 'b-flag'))), true);
      assert.equal(await store.flags.change((tx) => tx.insertFlag(flag(app, 'a-flag', { kind: 'kill-switch', lifetimeDays: null, owner: null }))), true);
      assert.equal(await store.flags.change((tx) => tx.insertFlag(flag(app, 'b-flag', { description: 'again' }))), false, 'a second create of a name is refused');
      const a = await store.flags.getFlag(app, 'a-flag');
      assert.deepEqual(
        { kind: a?.kind, owner: a?.owner, lifetimeDays: a?.lifetimeDays, archived: a?.archived, createdBy: a?.createdBy },
        { kind: 'kill-switch', owner: null, lifetimeDays: null, archived: false, createdBy: 'user:ana' },
      );
      assert.equal((await store.flags.getFlag(app, 'b-flag'))?.description, 'about b-flag', 'the first create stands');
      assert.deepEqual((await store.flags.listFlags(app)).map((f) => f.name), ['a-flag', 'b-flag']);
      await store.flags.change((tx) => tx.updateFlag(app, 'b-flag', { kind: 'experiment', owner: null, lifetimeDays: 10 }));
      const b = await store.flags.getFlag(app, 'b-flag');
      assert.deepEqual([b?.kind, b?.owner, b?.lifetimeDays, b?.description], ['experiment', null, 10, 'about b-flag']);
      await store.flags.change((tx) => tx.archiveFlag(app, 'a-flag', 'user:bo'));
      assert.deepEqual((await store.flags.listFlags(app)).map((f) => f.name), ['b-flag']);
      const all = await store.flags.listFlags(app, { archived: true });
      assert.deepEqual(all.map((f) => [f.name, f.archived, f.archivedBy]), [['a-flag', true, 'user:bo'], ['b-flag', false, null]]);
      assert.equal(await store.flags.getFlag(app, 'nope'), null);
      assert.equal(await store.flags.getFlag(uid('other'), 'b-flag'), null, 'flags belong to their app');
    });

    test('the delivery state: flags with a state in the environment, with kind and description, segments, and the revision; archived flags leave it', async () => {
      const app = uid('app');
      assert.deepEqual(await store.flags.readState(app, 'production'), { app, env: 'production', revision: 0, state: { version: 1, features: [], segments: [] } });
      const r = await store.flags.change(async (tx) => {
        await tx.insertFlag(flag(app, 'checkout'));
        await tx.insertFlag(flag(app, 'search', { kind: 'operational' }));
        await tx.insertFlag(flag(app, 'unset'));
        await tx.putState(app, 'production', 'search', { enabled: false }, 'user:ana');
        await tx.putState(app, 'production', 'checkout', { enabled: true, strategies: [{ name: 'default', segments: [7] }], impressionData: true }, 'user:ana');
        await tx.putState(app, 'staging', 'checkout', { enabled: false }, 'user:ana');
        await tx.putSegment(app, 'production', { id: 7, name: 'nordics', constraints: [{ contextName: 'country', operator: 'IN', values: ['no', 'se'] }] }, 'user:ana');
        return tx.bumpRevision(app, 'production');
      });
      assert.equal(r, 1);
      const s = await store.flags.readState(app, 'production');
      assert.equal(s.revision, 1);
      assert.deepEqual(s.state, {
        version: 1,
        features: [
          { name: 'checkout', type: 'release', description: 'about checkout', enabled: true, strategies: [{ name: 'default', segments: [7] }], impressionData: true },
          { name: 'search', type: 'operational', description: 'about search', enabled: false },
        ],
        segments: [{ id: 7, name: 'nordics', constraints: [{ contextName: 'country', operator: 'IN', values: ['no', 'se'] }] }],
      });
      assert.equal((await store.flags.readState(app, 'staging')).revision, 0, 'revisions are per environment');
      assert.deepEqual((await store.flags.flagStates(app, 'checkout')).map((x) => [x.env, x.state.enabled, x.updatedBy]), [['production', true, 'user:ana'], ['staging', false, 'user:ana']]);
      assert.deepEqual((await store.flags.appStates(app)).map((x) => `${x.name}/${x.env}`), ['checkout/production', 'checkout/staging', 'search/production']);
      // A state replaced whole; a segment of the same id replaced.
      await store.flags.change(async (tx) => {
        await tx.putState(app, 'production', 'search', { enabled: true, variants: [{ name: 'blue', weight: 1000 }] }, 'user:bo');
        await tx.putSegment(app, 'production', { id: 7, constraints: [] }, 'user:bo');
        await tx.archiveFlag(app, 'checkout', 'user:bo');
        return tx.bumpRevision(app, 'production');
      });
      const t = await store.flags.readState(app, 'production');
      assert.equal(t.revision, 2);
      assert.deepEqual(t.state.features, [{ name: 'search', type: 'operational', description: 'about search', enabled: true, variants: [{ name: 'blue', weight: 1000 }] }]);
      assert.deepEqual(t.state.segments, [{ id: 7, constraints: [] }]);
      assert.equal(await store.flags.revision(app, 'production'), 2);
    });

    test('a change and its audit entry commit together; a change that fails leaves no state, no revision and no entry', async () => {
      const app = uid('app');
      const head = async () => (await trail.list({ limit: 1 }))[0]?.seq ?? 0;
      await store.flags.change(async (tx) => {
        await tx.insertFlag(flag(app, 'f'));
        await tx.putState(app, 'production', 'f', { enabled: true }, 'user:ana');
        await tx.bumpRevision(app, 'production');
        await trail.record({ actor: 'user:ana', action: 'flag.enable', target: `flag/${app}/production/f`, before: null, after: { enabled: true } }, tx.audit);
      });
      const entry = (await trail.list({ limit: 1 }))[0]!;
      assert.deepEqual([entry.action, entry.target, entry.after], ['flag.enable', `flag/${app}/production/f`, { enabled: true }]);
      const mark = await head();
      await assert.rejects(
        store.flags.change(async (tx) => {
          await tx.bumpRevision(app, 'production');
          await tx.putState(app, 'production', 'f', { enabled: false }, 'user:bo');
          await trail.record({ actor: 'user:bo', action: 'flag.disable', target: `flag/${app}/production/f` }, tx.audit);
          throw new Error('the change fails after its entry was written');
        }),
        /the change fails/,
      );
      assert.equal(await head(), mark, 'no entry');
      assert.equal(await store.flags.revision(app, 'production'), 1, 'no revision');
      assert.equal((await store.flags.readState(app, 'production')).state.features[0]?.enabled, true, 'no state');
      // An entry that cannot be written (an action the trail refuses) fails the change.
      await assert.rejects(
        store.flags.change(async (tx) => {
          await tx.putState(app, 'production', 'f', { enabled: false }, 'user:bo');
          await trail.record({ actor: 'user:bo', action: 'Not An Action', target: 'x' }, tx.audit);
        }),
      );
      assert.equal((await store.flags.readState(app, 'production')).state.features[0]?.enabled, true);
      assert.deepEqual(await trail.verify().then((v) => v.ok), true, 'the chain is whole');
    });

    test('parallel changes of one environment each get their own revision', async () => {
      const app = uid('app');
      const got = await Promise.all(Array.from({ length: 12 }, () => store.flags.change((tx) => tx.bumpRevision(app, 'production'))));
      assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1));
      assert.equal(await store.flags.revision(app, 'production'), 12);
    });

    test('SDK keys: stored by hash, listed without it, found by hash, revoked once', async () => {
      const app = uid('app');
      const hash = randomBytes(32).toString('hex');
      const k = await store.flags.change((tx) => tx.insertKey({ id: 'fk_00000000000000a1', app, env: 'production', kind: 'server', name: 'backend', prefix: 'rgs_AbCdEfGh', hash, createdBy: 'user:ana' }));
      assert.equal(k.revokedAt, null);
      await store.flags.change((tx) => tx.insertKey({ id: 'fk_00000000000000a2', app, env: 'staging', kind: 'client', name: 'web', prefix: 'rgc_AbCdEfGh', hash: randomBytes(32).toString('hex'), createdBy: 'user:ana' }));
      const list = await store.flags.listKeys(app);
      assert.deepEqual(list.map((x) => [x.env, x.kind, x.name]), [['production', 'server', 'backend'], ['staging', 'client', 'web']]);
      assert.ok(list.every((x) => !('hash' in x)), 'a listing carries no hash');
      assert.deepEqual((await store.flags.listKeys(app, 'staging')).map((x) => x.id), ['fk_00000000000000a2']);
      assert.equal((await store.flags.keyByHash(hash))?.id, 'fk_00000000000000a1');
      assert.equal(await store.flags.keyByHash(randomBytes(32).toString('hex')), null);
      await assert.rejects(store.flags.change((tx) => tx.insertKey({ id: 'fk_00000000000000a3', app, env: 'production', kind: 'server', name: 'dup', prefix: 'x', hash, createdBy: 'user:ana' })), 'a hash is unique');
      const r1 = await store.flags.change((tx) => tx.revokeKey('fk_00000000000000a1', 'user:bo'));
      assert.equal(r1?.revokedBy, 'user:bo');
      const r2 = await store.flags.change((tx) => tx.revokeKey('fk_00000000000000a1', 'user:cy'));
      assert.deepEqual([r2?.revokedAt, r2?.revokedBy], [r1?.revokedAt, 'user:bo'], 'revoked once');
      assert.equal((await store.flags.keyByHash(hash))?.revokedAt, r1?.revokedAt);
      assert.equal(await store.flags.change((tx) => tx.revokeKey('fk_0000000000000404', 'user:bo')), null);
      assert.equal((await store.flags.getKey('fk_00000000000000a2'))?.kind, 'client');
    });

    test('a state refers to a flag of its app (foreign key)', async () => {
      const app = uid('app');
      await assert.rejects(store.flags.change((tx) => tx.putState(app, 'production', 'ghost', { enabled: true }, 'user:ana')));
      assert.equal((await store.flags.readState(app, 'production')).state.features.length, 0);
    });
  });
}
