/**
 * Authentication, accounts and first start on a real SQLite store, with a clock the tests move.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RollgateError } from '../../core/errors.js';
import { can } from '../../core/authz.js';
import { openStore } from '../../store/index.js';
import type { Store } from '../../store/types.js';
import { Accounts } from './accounts.js';
import { AUTH_MESSAGES, Auth } from './auth.js';
import { bootstrapAdmin, LEGACY_TOKEN_SETTING } from './bootstrap.js';
import type { Principal } from './principal.js';
import { csrfTokenFor } from './sessions.js';
import { generateToken, tokenHashHex } from './tokens.js';

const CHEAP = { logN: 10, r: 8, p: 1 };
const MIN = 60_000;

let dir: string;
let store: Store;
let clock = Date.parse('2024-05-01T10:00:00.000Z');
let auth: Auth;
let accounts: Accounts;
let admin: Principal;

async function refused(p: Promise<unknown>, code: string, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RollgateError, String(e));
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollgate-auth-'));
  store = await openStore({ dataDir: dir });
  auth = new Auth(store, { now: () => new Date(clock), scrypt: CHEAP });
  accounts = new Accounts(store, auth);
  const boot = await bootstrapAdmin(store, dir, { scrypt: CHEAP, now: () => new Date(clock) });
  assert.ok(boot.token);
  admin = await auth.authenticateToken(boot.token);
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('API tokens', () => {
  test('a token authenticates as its user with its roles; revoked, expired, unknown and malformed ones are refused with their own message', async () => {
    await accounts.createUser({ name: 'dana', roles: ['developer'] }, admin.actor);
    const danaToken = (await accounts.createToken(admin, { user: 'dana', name: 'ci', expires: '1h' })).token;
    const self = await auth.authenticateToken(danaToken);
    assert.equal(self.actor, 'user:dana');
    assert.deepEqual(self.roleNames, ['developer']);
    assert.ok(can(self.roles, 'deploy', { app: 'shop', env: 'staging', production: false }));

    const { token, record } = await accounts.createToken(self, { name: 'laptop', expires: '30m' });
    assert.equal(record.status, 'active');
    assert.equal(record.user, 'dana');
    assert.ok(!JSON.stringify(record).includes(token), 'the view never holds the token');
    assert.equal((await auth.authenticateToken(token)).user.name, 'dana');

    await refused(auth.authenticateToken(generateToken()), 'unauthorized', AUTH_MESSAGES.unknown);
    await refused(auth.authenticateToken('rg_short'), 'unauthorized', AUTH_MESSAGES.malformed);
    clock += 31 * MIN;
    await refused(auth.authenticateToken(token), 'unauthorized', AUTH_MESSAGES.expired);
    const t2 = await accounts.createToken(self, { name: 'other' });
    await accounts.revokeToken(t2.record.id);
    await refused(auth.authenticateToken(t2.token), 'unauthorized', AUTH_MESSAGES.revoked);
    for (const m of Object.values(AUTH_MESSAGES)) assert.ok(!m.includes(t2.token) && !m.includes(tokenHashHex(t2.token)));

    const fresh = (await accounts.createToken(admin, { user: 'dana' })).token;
    await accounts.updateUser('dana', { disabled: true }, admin.actor);
    await refused(auth.authenticateToken(fresh), 'unauthorized', AUTH_MESSAGES.disabled);
    await refused(accounts.createToken(admin, { user: 'dana' }), 'conflict', /disabled/);
    await accounts.updateUser('dana', { disabled: false }, admin.actor);
    assert.equal((await auth.authenticateToken(fresh)).actor, 'user:dana');
    clock += 30 * MIN;
    await refused(auth.authenticateToken(danaToken), 'unauthorized', AUTH_MESSAGES.expired);
  });

  test('the last use is written at most once a minute per token', async () => {
    const { token, record } = await accounts.createToken(admin, { name: 'touch' });
    await auth.authenticateToken(token);
    const first = (await store.auth.getToken(record.id))?.lastUsedAt;
    assert.equal(first, new Date(clock).toISOString());
    clock += 20_000;
    await auth.authenticateToken(token);
    assert.equal((await store.auth.getToken(record.id))?.lastUsedAt, first);
    clock += 45_000;
    await auth.authenticateToken(token);
    assert.equal((await store.auth.getToken(record.id))?.lastUsedAt, new Date(clock).toISOString());
  });

  test('a token narrows its user: never more than the user, nor than the token that created it', async () => {
    await accounts.createUser({ name: 'rita', roles: ['release-manager', 'viewer'] }, admin.actor);
    const rita = await auth.authenticateToken((await accounts.createToken(admin, { user: 'rita' })).token);
    const narrow = await auth.authenticateToken((await accounts.createToken(rita, { roles: ['viewer'] })).token);
    assert.deepEqual(narrow.roleNames, ['viewer']);
    assert.ok(!can(narrow.roles, 'deploy', { app: 'a', env: 's', production: false }));
    await refused(accounts.createToken(rita, { roles: ['admin'] }), 'forbidden', /does not hold admin/);
    await refused(accounts.createToken(narrow, { roles: ['release-manager'] }), 'forbidden', /cannot hold release-manager/);
    // Without roles, a narrowed token mints a token as narrow as itself.
    const child = await auth.authenticateToken((await accounts.createToken(narrow, {})).token);
    assert.deepEqual(child.roleNames, ['viewer']);
    // Losing a role loses it on every token.
    await accounts.updateUser('rita', { roles: ['developer'] }, admin.actor);
    assert.deepEqual((await auth.authenticateToken((await accounts.createToken(admin, { user: 'rita', roles: ['developer'] })).token)).roleNames, ['developer']);
    const stale = await store.auth.listTokens({ userId: rita.user.id });
    assert.ok(stale.some((t) => t.roles?.includes('viewer')));
    await refused(accounts.createToken(admin, { user: 'rita', roles: ['nope'] }), 'invalid_input', /no role "nope"/);
  });
});

describe('sessions and login', () => {
  test('login gives a session and a CSRF token derived from it; idle and absolute expiry; logout ends it', async () => {
    await accounts.createUser({ name: 'sam', roles: ['viewer'], password: 'a long enough password' }, admin.actor);
    const r = await auth.login('Sam', 'a long enough password', { address: '10.0.0.1' });
    assert.ok(r.ok);
    assert.equal(r.csrfToken, csrfTokenFor(r.sessionId));
    const p = await auth.authenticateSession(r.sessionId);
    assert.equal(p.actor, 'user:sam');
    auth.checkCsrf(p, r.csrfToken);
    assert.throws(() => auth.checkCsrf(p, undefined), (e: unknown) => e instanceof RollgateError && e.code === 'forbidden');
    assert.throws(() => auth.checkCsrf(p, csrfTokenFor('x'.repeat(43))), /X-CSRF-Token/);
    const stored = await store.auth.getSession(p.session!.idHash);
    assert.ok(stored && !JSON.stringify(stored).includes(r.sessionId) && !JSON.stringify(stored).includes(r.csrfToken));

    // Sliding: a request every 90 minutes keeps it alive…
    for (let i = 0; i < 7; i++) {
      clock += 90 * MIN;
      await auth.authenticateSession(r.sessionId);
    }
    // …but not beyond 12 hours.
    clock += 90 * MIN;
    await refused(auth.authenticateSession(r.sessionId), 'unauthorized', AUTH_MESSAGES.sessionExpired);
    await refused(auth.authenticateSession(r.sessionId), 'unauthorized', AUTH_MESSAGES.sessionUnknown);

    const r2 = await auth.login('sam', 'a long enough password');
    assert.ok(r2.ok);
    clock += 2 * 60 * MIN + 1;
    await refused(auth.authenticateSession(r2.sessionId), 'unauthorized', AUTH_MESSAGES.sessionExpired);

    const r3 = await auth.login('sam', 'a long enough password');
    assert.ok(r3.ok);
    await auth.logout(await auth.authenticateSession(r3.sessionId));
    await refused(auth.authenticateSession(r3.sessionId), 'unauthorized', AUTH_MESSAGES.sessionUnknown);
    await refused(auth.authenticateSession('not a session'), 'unauthorized', AUTH_MESSAGES.sessionMalformed);
  });

  test('a wrong password, an unknown user, a disabled user and a token-only user get the same answer', async () => {
    await accounts.createUser({ name: 'off', roles: ['viewer'], password: 'a long enough password' }, admin.actor);
    await accounts.updateUser('off', { disabled: true }, admin.actor);
    await accounts.createUser({ name: 'bot', roles: ['viewer'] }, admin.actor);
    for (const [u, pw] of [['sam', 'wrong password!!'], ['nobody-here', 'a long enough password'], ['off', 'a long enough password'], ['bot', ''], ['x'.repeat(500), 'y']]) {
      assert.deepEqual(await auth.login(u!, pw!), { ok: false, reason: 'invalid' }, u);
    }
  });

  test('per name and address: 5 free failures, then each failure doubles the wait up to 15 minutes; another address is never refused; success starts over', async () => {
    await accounts.createUser({ name: 'lee', roles: ['viewer'], password: 'a long enough password' }, admin.actor);
    // The address-wide count is tested below: out of the way here.
    const auth = new Auth(store, { now: () => new Date(clock), scrypt: CHEAP, throttle: { freePerAddress: 1000 } });
    const attacker = { address: '192.0.2.66' };
    for (const name of ['lee', 'ghost']) {
      for (let i = 0; i < 5; i++) assert.deepEqual(await auth.login(name, 'wrong password!!', attacker), { ok: false, reason: 'invalid' });
      // The sixth failure is checked, and makes the next attempt wait 1 s; then 2 s, 4 s …
      const waits: number[] = [];
      for (let i = 0; i < 12; i++) {
        assert.deepEqual(await auth.login(name, 'wrong password!!', attacker), { ok: false, reason: 'invalid' }, `${name} #${6 + i}`);
        const r = await auth.login(name, 'a long enough password', attacker);
        assert.ok(!r.ok && r.reason === 'throttled' && r.scope === 'account', `${name}: the right password waits too`);
        waits.push(r.retryAfterMs);
        clock += r.retryAfterMs;
      }
      assert.deepEqual(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900].map((s) => s * 1000), name);
    }
    // The right password from another address: never refused because of failures elsewhere.
    assert.ok((await auth.login('lee', 'a long enough password', { address: '192.0.2.67' })).ok);
    assert.ok((await auth.login('lee', 'a long enough password', { address: '::ffff:192.0.2.68' })).ok);
    // After its wait, the right password from the attacker's own address works and starts over.
    assert.ok((await auth.login('lee', 'a long enough password', attacker)).ok);
    for (let i = 0; i < 5; i++) assert.deepEqual(await auth.login('lee', 'wrong password!!', attacker), { ok: false, reason: 'invalid' });
    // An admin clears the waits of a name.
    await auth.login('lee', 'wrong password!!', attacker);
    assert.equal((await auth.login('lee', 'a long enough password', attacker)).ok, false);
    const cleared = await auth.throttle.unlock('lee', attacker.address);
    assert.deepEqual(cleared.map((r) => r.key).sort(), ['acct:lee|192.0.2.66', 'addr:192.0.2.66']);
    assert.ok((await auth.login('lee', 'a long enough password', attacker)).ok);
  });

  test('parallel guesses each take a place in the count: at most the free ones and one more are checked', async () => {
    const address = '192.0.2.77';
    const results = await Promise.all(Array.from({ length: 30 }, () => auth.login('lee', 'wrong password!!', { address })));
    const checked = results.filter((r) => !r.ok && r.reason === 'invalid').length;
    assert.ok(checked >= 1 && checked <= 6, `checked ${checked}`);
    assert.equal(results.filter((r) => !r.ok && r.reason === 'throttled').length, 30 - checked);
    clock += 16 * MIN;
  });

  test('20 failures from one address, any names: that address waits for every name; other addresses do not; IPv6 counts by /64', async () => {
    const address = '192.0.2.7';
    for (let i = 0; i < 21; i++) await auth.login(`spray-${i}`, 'wrong password!!', { address });
    const r = await auth.login('lee', 'a long enough password', { address });
    assert.ok(!r.ok && r.reason === 'throttled' && r.scope === 'address');
    assert.ok((await auth.login('lee', 'a long enough password', { address: '192.0.2.8' })).ok);
    clock += r.retryAfterMs;
    assert.ok((await auth.login('lee', 'a long enough password', { address })).ok);

    // Another address in the same IPv6 /64 is the same attacker.
    for (let i = 0; i < 21; i++) await auth.login(`v6-${i}`, 'wrong password!!', { address: `2001:db8:1:2::${(i + 1).toString(16)}` });
    const v6 = await auth.login('lee', 'a long enough password', { address: '2001:db8:1:2:ffff::9' });
    assert.ok(!v6.ok && v6.reason === 'throttled' && v6.scope === 'address');
    assert.ok((await auth.login('lee', 'a long enough password', { address: '2001:db8:1:3::1' })).ok, 'another /64 is not');
    clock += 16 * MIN;
  });

  test('the waits are in the store: a new Auth (a restarted server) keeps them', async () => {
    const address = '192.0.2.88';
    for (let i = 0; i < 6; i++) await auth.login('lee', 'wrong password!!', { address });
    const again = new Auth(store, { now: () => new Date(clock), scrypt: CHEAP });
    const r = await again.login('lee', 'a long enough password', { address });
    assert.ok(!r.ok && r.reason === 'throttled');
    clock += 16 * MIN;
  });
});

describe('accounts', () => {
  test('the last enabled admin cannot be disabled, demoted or deleted', async () => {
    await refused(accounts.updateUser('admin', { disabled: true }, admin.actor), 'conflict', /last enabled admin/);
    await refused(accounts.updateUser('admin', { roles: ['viewer'] }, admin.actor), 'conflict', /last enabled admin/);
    await refused(accounts.deleteUser('admin'), 'conflict', /last enabled admin/);
    await accounts.createUser({ name: 'second', roles: ['admin'], generatePassword: true }, admin.actor);
    await accounts.updateUser('second', { roles: ['viewer'] }, admin.actor);
  });

  test('a password reset or disabling ends the user\'s sessions; a generated password is returned once', async () => {
    const created = await accounts.createUser({ name: 'pat', roles: ['viewer'], generatePassword: true }, admin.actor);
    assert.equal(created.password?.length, 24);
    assert.equal(created.user.hasPassword, true);
    const r = await auth.login('pat', created.password!);
    assert.ok(r.ok);
    const reset = await accounts.updateUser('pat', { generatePassword: true }, admin.actor);
    assert.ok(reset.password && reset.password !== created.password);
    await refused(auth.authenticateSession(r.sessionId), 'unauthorized', AUTH_MESSAGES.sessionUnknown);
    assert.deepEqual(await auth.login('pat', created.password!), { ok: false, reason: 'invalid' });
    await refused(accounts.createUser({ name: 'Bad Name', roles: ['viewer'] }, admin.actor), 'invalid_input', /user names/);
    await refused(accounts.createUser({ name: 'pat', roles: ['viewer'] }, admin.actor), 'conflict', /already exists/);
    await refused(accounts.createUser({ name: 'weak', roles: ['viewer'], password: 'short' }, admin.actor), 'invalid_input', /at least 12/);
  });

  test('custom roles: created, used, refused while held, deleted', async () => {
    await accounts.createRole({ name: 'shop-staging', description: '', grants: [{ permissions: ['deploy'], apps: ['shop'], envs: ['staging'] }] }, admin.actor);
    await accounts.createUser({ name: 'cara', roles: ['viewer', 'shop-staging'] }, admin.actor);
    const cara = await auth.authenticateToken((await accounts.createToken(admin, { user: 'cara' })).token);
    assert.ok(can(cara.roles, 'deploy', { app: 'shop', env: 'staging', production: false }));
    assert.ok(!can(cara.roles, 'deploy', { app: 'api', env: 'staging', production: false }));
    await refused(accounts.deleteRole('shop-staging'), 'conflict', /held by cara/);
    await refused(accounts.deleteRole('admin'), 'invalid_input', /built-in/);
    await accounts.updateUser('cara', { roles: ['viewer'] }, admin.actor);
    await accounts.deleteRole('shop-staging');
    assert.ok(!(await accounts.listRoles()).some((r) => r.name === 'shop-staging'));
  });
});

describe('first start', () => {
  test('creates admin with a one-time password and a 0600 api.token; later starts return the token while it is valid', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rollgate-boot-'));
    const s = await openStore({ dataDir: d });
    try {
      const first = await bootstrapAdmin(s, d, { scrypt: CHEAP });
      assert.equal(first.created, true);
      assert.equal(first.user, 'admin');
      assert.ok(first.password && first.password.length >= 20);
      assert.match(first.token ?? '', /^rg_/);
      assert.equal(statSync(first.tokenFile).mode & 0o777, 0o600);
      assert.equal(readFileSync(first.tokenFile, 'utf8').trim(), first.token);
      const a = new Auth(s, { scrypt: CHEAP });
      assert.ok((await a.login('admin', first.password!)).ok);
      const p = await a.authenticateToken(first.token!);
      assert.deepEqual(p.roleNames, ['admin']);

      const again = await bootstrapAdmin(s, d, { scrypt: CHEAP });
      assert.deepEqual({ created: again.created, password: again.password, token: again.token }, { created: false, password: null, token: first.token });
      await s.auth.revokeToken(p.token!.id, new Date().toISOString());
      assert.equal((await bootstrapAdmin(s, d)).token, null, 'a revoked api.token is not handed out again');
    } finally {
      await s.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('an older data directory keeps its api.token: the stored hash is imported as the admin token', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rollgate-boot-legacy-'));
    const s = await openStore({ dataDir: d });
    try {
      const old = generateToken();
      await s.setSetting(LEGACY_TOKEN_SETTING, tokenHashHex(old));
      writeFileSync(join(d, 'api.token'), old + '\n', { mode: 0o644 });
      const r = await bootstrapAdmin(s, d, { scrypt: CHEAP });
      assert.equal(r.created, true);
      assert.equal(r.imported, true);
      assert.equal(r.token, old);
      assert.equal(statSync(r.tokenFile).mode & 0o777, 0o600, 'tightened');
      const p = await new Auth(s).authenticateToken(old);
      assert.equal(p.actor, 'user:admin');
      assert.equal((await s.auth.listTokens()).length, 1, 'no second token made');
    } finally {
      await s.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('a given token is registered for the admin, a malformed one refused', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rollgate-boot-given-'));
    const s = await openStore({ dataDir: d });
    try {
      const given = generateToken();
      assert.equal((await bootstrapAdmin(s, d, { token: given, scrypt: CHEAP })).token, given);
      const later = generateToken();
      assert.equal((await bootstrapAdmin(s, d, { token: later })).token, later);
      assert.equal((await new Auth(s).authenticateToken(later)).actor, 'user:admin');
      await refused(bootstrapAdmin(s, d, { token: 'secret' }), 'invalid_input', /malformed/);
    } finally {
      await s.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
