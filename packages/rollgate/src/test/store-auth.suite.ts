/**
 * The Store contract for users, custom roles, API tokens, sessions and failed logins, run
 * against every backend. Each test uses its own random names, so tests share one database.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NewApiToken, NewUser } from '../store/auth-types.js';
import type { Store } from '../store/types.js';
import { rejectsWith, storeLifecycle } from './store.suite.js';

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const hex = () => createHash('sha256').update(randomBytes(16)).digest('hex');
const T0 = '2024-05-01T10:00:00.000Z';
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

function newUser(extra: Partial<NewUser> = {}): NewUser {
  return { id: randomUUID(), name: uid('user'), passwordHash: 'scrypt$15$8$1$c2FsdA$aGFzaA', roles: ['developer'], createdBy: 'test', at: T0, ...extra };
}

function newToken(userId: string, extra: Partial<NewApiToken> = {}): NewApiToken {
  return { id: `tok_${randomBytes(8).toString('hex')}`, userId, name: 'cli', hash: hex(), roles: null, expiresAt: null, createdBy: 'test', at: T0, ...extra };
}

export function authStoreSuite(name: string, open: () => Promise<Store>, cleanup: () => Promise<void>): void {
  describe(name, () => {
    const current = storeLifecycle(open, cleanup);
    let store: Store;
    before(() => {
      store = current();
    });

    test('users: create, read by id and name, list, update, count; names are unique', async () => {
      const before = await store.auth.countUsers();
      const u = await store.auth.createUser(newUser({ roles: ['viewer', 'shop-deployer'] }));
      assert.equal(u.disabled, false);
      assert.deepEqual(u.roles, ['viewer', 'shop-deployer']);
      assert.equal(u.createdAt, T0);
      assert.deepEqual(await store.auth.getUser(u.id), u);
      assert.deepEqual(await store.auth.getUserByName(u.name), u);
      assert.equal(await store.auth.getUserByName(u.name.toUpperCase()), null);
      assert.equal(await store.auth.countUsers(), before + 1);
      await rejectsWith(store.auth.createUser(newUser({ name: u.name })), 'conflict', new RegExp(`user "${u.name}" already exists`));

      const changed = await store.auth.updateUser(u.id, { roles: ['admin'], disabled: true, passwordHash: null }, at(5));
      assert.ok(changed);
      assert.deepEqual(changed.roles, ['admin']);
      assert.equal(changed.disabled, true);
      assert.equal(changed.passwordHash, null);
      assert.equal(changed.updatedAt, at(5));
      assert.equal(changed.createdAt, T0);
      const partial = await store.auth.updateUser(u.id, { disabled: false }, at(6));
      assert.deepEqual(partial?.roles, ['admin'], 'fields not given stay');
      assert.equal(await store.auth.updateUser(randomUUID(), { disabled: true }, at(7)), null);

      const names = (await store.auth.listUsers()).map((x) => x.name);
      assert.deepEqual(names, [...names].sort());
      assert.ok(names.includes(u.name));
    });

    test('deleting a user ends its tokens and sessions', async () => {
      const u = await store.auth.createUser(newUser());
      const t = await store.auth.createToken(newToken(u.id));
      await store.auth.createSession({ idHash: hex(), userId: u.id, csrfHash: hex(), expiresAt: at(60), createdAt: T0, address: '127.0.0.1', userAgent: 'test' });
      assert.equal(await store.auth.deleteUser(u.id), true);
      assert.equal(await store.auth.getUser(u.id), null);
      assert.equal(await store.auth.getToken(t.id), null);
      assert.equal(await store.auth.getTokenByHash(t.hash), null);
      assert.equal(await store.auth.deleteUserSessions(u.id), 0);
      assert.equal(await store.auth.deleteUser(u.id), false);
    });

    test('custom roles: create, replace, list, delete; names are unique', async () => {
      const n = uid('role');
      const r = await store.auth.createRole({ name: n, description: 'déploie ✓', grants: [{ permissions: ['deploy'], apps: ['shop'], envs: ['staging'] }], createdBy: 'test', at: T0 });
      assert.deepEqual(r.grants, [{ permissions: ['deploy'], apps: ['shop'], envs: ['staging'] }]);
      assert.equal(r.description, 'déploie ✓');
      await rejectsWith(store.auth.createRole({ name: n, description: '', grants: [], createdBy: 'test', at: T0 }), 'conflict', /already exists/);
      const rep = await store.auth.replaceRole(n, { description: 'x', grants: [{ permissions: '*', nonProduction: true }] }, at(1));
      assert.deepEqual(rep?.grants, [{ permissions: '*', nonProduction: true }]);
      assert.equal(rep?.updatedAt, at(1));
      assert.equal(rep?.createdAt, T0);
      assert.deepEqual(await store.auth.getRole(n), rep);
      assert.ok((await store.auth.listRoles()).some((x) => x.name === n));
      assert.equal(await store.auth.replaceRole(uid('none'), { description: '', grants: [] }, T0), null);
      assert.equal(await store.auth.deleteRole(n), true);
      assert.equal(await store.auth.deleteRole(n), false);
      assert.equal(await store.auth.getRole(n), null);
    });

    test('tokens: found by hash, listed newest first per user, hashes unique, user must exist', async () => {
      const u = await store.auth.createUser(newUser());
      const other = await store.auth.createUser(newUser());
      const a = await store.auth.createToken(newToken(u.id, { at: at(1), roles: ['viewer'], expiresAt: at(60 * 24 * 30) }));
      const b = await store.auth.createToken(newToken(u.id, { at: at(2), name: 'ci deploy' }));
      await store.auth.createToken(newToken(other.id, { at: at(3) }));
      assert.deepEqual(a.roles, ['viewer']);
      assert.equal(a.expiresAt, at(60 * 24 * 30));
      assert.equal(a.lastUsedAt, null);
      assert.equal(a.revokedAt, null);
      assert.deepEqual(await store.auth.getTokenByHash(a.hash), a);
      assert.deepEqual(await store.auth.getToken(b.id), b);
      assert.deepEqual((await store.auth.listTokens({ userId: u.id })).map((t) => t.id), [b.id, a.id]);
      const all = (await store.auth.listTokens()).map((t) => t.id);
      assert.ok(all.includes(a.id) && all.includes(b.id) && all.length >= 3);
      await rejectsWith(store.auth.createToken(newToken(u.id, { hash: a.hash })), 'conflict');
      await rejectsWith(store.auth.createToken(newToken(randomUUID())), 'not_found', /does not exist/);
    });

    test('tokens: revoking keeps the first time; a use is recorded at most once per interval', async () => {
      const u = await store.auth.createUser(newUser());
      const t = await store.auth.createToken(newToken(u.id));
      assert.equal((await store.auth.revokeToken(t.id, at(10)))?.revokedAt, at(10));
      assert.equal((await store.auth.revokeToken(t.id, at(20)))?.revokedAt, at(10));
      assert.equal(await store.auth.revokeToken('tok_0000000000000000', at(20)), null);

      const t2 = await store.auth.createToken(newToken(u.id));
      await store.auth.touchToken(t2.id, at(1), at(0));
      assert.equal((await store.auth.getToken(t2.id))?.lastUsedAt, at(1));
      // Used again 30 s later: within the minute, nothing is written.
      await store.auth.touchToken(t2.id, at(1.5), at(0.5));
      assert.equal((await store.auth.getToken(t2.id))?.lastUsedAt, at(1));
      await store.auth.touchToken(t2.id, at(2.5), at(1.5));
      assert.equal((await store.auth.getToken(t2.id))?.lastUsedAt, at(2.5));
    });

    test('sessions: create, read, touch at most once per interval, end one, end all of a user, expire', async () => {
      const u = await store.auth.createUser(newUser());
      const s1 = await store.auth.createSession({ idHash: hex(), userId: u.id, csrfHash: hex(), expiresAt: at(60), createdAt: T0, address: '::1', userAgent: null });
      const s2 = await store.auth.createSession({ idHash: hex(), userId: u.id, csrfHash: hex(), expiresAt: at(-1), createdAt: at(-120), address: null, userAgent: 'ü' });
      assert.equal(s1.lastSeenAt, T0);
      assert.deepEqual(await store.auth.getSession(s1.idHash), s1);
      await store.auth.touchSession(s1.idHash, at(0.5), at(-0.5));
      assert.equal((await store.auth.getSession(s1.idHash))?.lastSeenAt, T0);
      await store.auth.touchSession(s1.idHash, at(2), at(1));
      assert.equal((await store.auth.getSession(s1.idHash))?.lastSeenAt, at(2));

      assert.ok((await store.auth.deleteExpiredSessions(T0)) >= 1);
      assert.equal(await store.auth.getSession(s2.idHash), null);
      assert.ok(await store.auth.getSession(s1.idHash));
      assert.equal(await store.auth.deleteSession(s1.idHash), true);
      assert.equal(await store.auth.deleteSession(s1.idHash), false);

      await store.auth.createSession({ idHash: hex(), userId: u.id, csrfHash: hex(), expiresAt: at(60), createdAt: T0, address: null, userAgent: null });
      await store.auth.createSession({ idHash: hex(), userId: u.id, csrfHash: hex(), expiresAt: at(60), createdAt: T0, address: null, userAgent: null });
      assert.equal(await store.auth.deleteUserSessions(u.id), 2);
    });

    test('failed logins: counted in a window, cleared, locked until a time, pruned', async () => {
      const key = `user:${uid('x')}`;
      const other = `addr:${uid('10.0.0')}`;
      for (const m of [0, 1, 2, 20]) await store.auth.recordLoginFailure(key, at(m));
      await store.auth.recordLoginFailure(other, at(1));
      assert.equal(await store.auth.countLoginFailures(key, at(0)), 4);
      assert.equal(await store.auth.countLoginFailures(key, at(1)), 3);
      assert.equal(await store.auth.countLoginFailures(key, at(21)), 0);

      assert.equal(await store.auth.loginLockedUntil(key, at(20)), null);
      await store.auth.lockLogin(key, at(35), at(20));
      assert.equal(await store.auth.loginLockedUntil(key, at(20)), at(35));
      assert.equal(await store.auth.loginLockedUntil(key, at(35)), null, 'the lock ends at its time');
      await store.auth.lockLogin(key, at(50), at(36));
      assert.equal(await store.auth.loginLockedUntil(key, at(40)), at(50), 'a new lock replaces the old');

      await store.auth.clearLoginFailures(key);
      assert.equal(await store.auth.countLoginFailures(key, at(0)), 0);
      assert.equal(await store.auth.countLoginFailures(other, at(0)), 1, 'other keys keep theirs');

      await store.auth.pruneLogins(at(60));
      assert.equal(await store.auth.countLoginFailures(other, at(0)), 0);
      assert.equal(await store.auth.loginLockedUntil(key, at(40)), null, 'ended locks are pruned');
    });
  });
}
