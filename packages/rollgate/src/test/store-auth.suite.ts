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

    test('login throttle: compare-and-set counts each attempt once, release takes one back, delete, list, prune', async () => {
      const name = uid('thr');
      const key = `acct:${name}|192.0.2.1`;
      const row = { key, name, address: '192.0.2.1', failures: 1, lastFailureAt: at(0), blockedUntil: null };
      assert.equal(await store.auth.getLoginThrottle(key), null);
      assert.equal(await store.auth.casLoginThrottle(null, row), true);
      assert.equal(await store.auth.casLoginThrottle(null, row), false, 'a second insert loses');
      assert.deepEqual(await store.auth.getLoginThrottle(key), row);
      const next = { ...row, failures: 2, lastFailureAt: at(1), blockedUntil: at(2) };
      assert.equal(await store.auth.casLoginThrottle({ failures: 1, lastFailureAt: at(0) }, next), true);
      assert.equal(await store.auth.casLoginThrottle({ failures: 1, lastFailureAt: at(0) }, { ...next, failures: 9 }), false, 'a stale writer loses');
      assert.deepEqual(await store.auth.getLoginThrottle(key), next);
      // Parallel writers from the same read: exactly one wins.
      const wins = await Promise.all(Array.from({ length: 8 }, (_, i) => store.auth.casLoginThrottle({ failures: 2, lastFailureAt: at(1) }, { ...next, failures: 3 + i })));
      assert.equal(wins.filter(Boolean).length, 1);

      const addrKey = `addr:${uid('198.51.100')}`;
      await store.auth.casLoginThrottle(null, { key: addrKey, name: null, address: addrKey.slice(5), failures: 4, lastFailureAt: at(1), blockedUntil: at(3) });
      await store.auth.releaseLoginAttempt(addrKey, 2);
      assert.equal((await store.auth.getLoginThrottle(addrKey))?.blockedUntil, at(3), 'still above the free count: the wait stays');
      await store.auth.releaseLoginAttempt(addrKey, 2);
      assert.deepEqual(await store.auth.getLoginThrottle(addrKey), { key: addrKey, name: null, address: addrKey.slice(5), failures: 2, lastFailureAt: at(1), blockedUntil: null });

      const other = `acct:${name}|192.0.2.9`;
      await store.auth.casLoginThrottle(null, { ...row, key: other, address: '192.0.2.9' });
      assert.deepEqual((await store.auth.listLoginThrottles({ name })).map((r) => r.key), [key, other]);
      assert.deepEqual((await store.auth.listLoginThrottles({ name, address: '192.0.2.9' })).map((r) => r.key), [other]);
      assert.deepEqual((await store.auth.deleteLoginThrottles([other, 'acct:nobody'])).map((r) => r.key), [other]);
      await store.auth.pruneLoginThrottles(at(3));
      assert.equal(await store.auth.getLoginThrottle(key), null, 'no failure since, and its wait ended: forgotten');
      assert.equal(await store.auth.getLoginThrottle(addrKey), null);
    });

    test('failed-login windows: counted in place (also in parallel), claimed once for a summary, listed, pruned', async () => {
      const name = uid('win');
      const w = { name, address: '192.0.2.4', windowStart: at(1000) };
      const first = await store.auth.countLoginFailure({ ...w, at: at(1000), kind: 'failed' });
      assert.deepEqual(first, { ...w, failures: 1, refused: 0, firstAt: at(1000), lastAt: at(1000), reported: 0 });
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.auth.countLoginFailure({ ...w, at: at(1001), kind: i % 2 ? 'failed' : 'refused' })));
      const later = await store.auth.countLoginFailure({ ...w, at: at(1002), kind: 'refused' });
      assert.equal(later.failures, 11);
      assert.equal(later.refused, 11);
      assert.equal(later.lastAt, at(1002));
      assert.equal(later.firstAt, at(1000));
      const lone = { name, address: '192.0.2.5', windowStart: at(1000) };
      await store.auth.countLoginFailure({ ...lone, at: at(1000), kind: 'failed' });

      const mine = async (before: string | null) => (await store.auth.unreportedLoginFailures(before, 1000)).filter((r) => r.name === name);
      assert.deepEqual(await mine(at(1000)), [], 'the window has not closed before its start');
      assert.deepEqual((await mine(at(1010))).map((r) => r.address), ['192.0.2.4'], 'a single failure needs no summary');
      assert.equal(await store.auth.markLoginFailuresReported(w, 0, 22), true);
      assert.equal(await store.auth.markLoginFailuresReported(w, 0, 22), false, 'claimed once');
      assert.deepEqual(await mine(null), []);
      await store.auth.countLoginFailure({ ...w, at: at(1003), kind: 'failed' });
      assert.equal((await mine(null))[0]?.reported, 22, 'new attempts after a summary are summarised again');

      const listed = (await store.auth.listLoginFailures(at(1000), 1000)).filter((r) => r.name === name);
      assert.deepEqual(listed.map((r) => [r.address, r.failures + r.refused]), [['192.0.2.4', 23], ['192.0.2.5', 1]]);
      await store.auth.pruneLoginFailures(at(2000));
      assert.deepEqual((await store.auth.listLoginFailures(at(0), 1000)).filter((r) => r.name === name).map((r) => r.address), ['192.0.2.4'], 'an unreported window is kept');
    });
  });
}
