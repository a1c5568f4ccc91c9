/**
 * The authorization middleware with the real route table, the real auth routes and the real
 * incident routes, on a real SQLite store, served on a loopback port. POST /v1/deployments is a
 * TEST handler here (the real one needs the whole engine): it records the request in the
 * settings table, so "no change of state" can be checked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { request as httpRequest } from 'node:http';
import { Hono } from 'hono';
import { serve, type ServerType } from '@hono/node-server';
import { isRollgateError } from '../core/errors.js';
import { Accounts } from '../engine/auth/accounts.js';
import { AUTH_MESSAGES, Auth } from '../engine/auth/auth.js';
import { bootstrapAdmin } from '../engine/auth/bootstrap.js';
import { generateToken } from '../engine/auth/tokens.js';
import { EventBus } from '../engine/events.js';
import { Incidents } from '../engine/incidents.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { assertEveryRouteHasPermission, authorize, rolesOfRequest, type DeniedAttempt } from './authz.js';
import { DeployRequest } from './contract.js';
import { jsonLimit, parse, readJson, type ApiEnv } from './http.js';
import { ROUTE_PERMISSIONS } from './route-permissions.js';
import { registerAuthRoutes, type AuthAuditEntry } from './routes-auth.js';
import { registerIncidentRoutes } from './routes-incidents.js';

const CHEAP = { logN: 10, r: 8, p: 1 };
const MIN = 60_000;

let dir: string;
let store: Store;
let server: ServerType;
let base: string;
let clock = Date.parse('2024-05-01T10:00:00.000Z');
let adminToken: string;
const denied: DeniedAttempt[] = [];
const audited: AuthAuditEntry[] = [];

interface Res {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

async function call(method: string, path: string, opts: { token?: string; cookie?: string; csrf?: string; body?: unknown; raw?: string } = {}): Promise<Res> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.csrf) headers['x-csrf-token'] = opts.csrf;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/**
 * A POST whose body the server may refuse before reading it all. The upload stops at the answer
 * (`end: false` leaves it open, as a client still sending would); a connection reset by the
 * server before any answer resolves to 'reset'.
 */
function rawPost(path: string, headers: Record<string, string>, chunks: string[], end = true): Promise<number | 'reset'> {
  return new Promise((ok, fail) => {
    let answered = false;
    const req = httpRequest(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      answered = true;
      res.resume();
      ok(res.statusCode ?? 0);
      if (!end) req.destroy();
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (answered) return;
      if (e.code === 'EPIPE' || e.code === 'ECONNRESET') ok('reset');
      else fail(e);
    });
    void (async () => {
      for (const ch of chunks) {
        if (answered || req.destroyed) return;
        if (!req.write(ch)) await new Promise((r) => req.once('drain', r));
      }
      if (end) req.end();
    })();
  });
}

async function tokenFor(user: string, roles: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const u = await call('POST', '/v1/users', { token: adminToken, body: { name: user, roles, ...extra } });
  assert.equal(u.status, 201, JSON.stringify(u.body));
  const t = await call('POST', '/v1/tokens', { token: adminToken, body: { user, name: 'test', expires: '1d' } });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  return t.body.token as string;
}

async function deployCount(): Promise<number> {
  return Number((await store.getSetting('test-deploys')) ?? '0');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollgate-auth-api-'));
  store = await openStore({ dataDir: dir });
  await store.upsertApp('shop', {});
  await store.upsertApp('api', {});
  await store.upsertEnvironment('staging', { listen: 1 });
  await store.upsertEnvironment('production', { listen: 2 });
  await store.upsertEnvironment('live', { listen: 3, production: true });
  const auth = new Auth(store, { now: () => new Date(clock), scrypt: CHEAP });
  const accounts = new Accounts(store, auth);
  adminToken = (await bootstrapAdmin(store, dir, { scrypt: CHEAP })).token!;
  const incidents = new Incidents(store, new EventBus(store));

  const app = new Hono<ApiEnv>();
  app.onError((err, c) => {
    if (isRollgateError(err)) return c.json(err.toJSON(), err.status as 400);
    return c.json({ error: { code: 'internal', message: err.message } }, 500);
  });
  app.use('*', authorize(ROUTE_PERMISSIONS, { auth, store, onDenied: (_c, d) => void denied.push(d) }));
  app.get('/v1/health', (c) => c.json({ ok: true }));
  registerAuthRoutes(app, { auth, accounts, audit: async (_c, e) => void audited.push(e) });
  registerIncidentRoutes(app, { incidents });
  // TEST handler (see the file comment).
  app.post('/v1/deployments', jsonLimit(64 * 1024), async (c) => {
    const req = parse(DeployRequest, await readJson(c), 'body');
    await store.setSetting('test-deploys', String((await deployCount()) + 1));
    return c.json({ ...req, actor: c.get('actor'), roles: rolesOfRequest(c.get('actor')) }, 201);
  });
  assertEveryRouteHasPermission(app, ROUTE_PERMISSIONS);
  server = await new Promise<ServerType>((ok) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => ok(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('credentials', () => {
  test('missing, malformed, unknown, expired and revoked tokens: 401, each with its own message, none echoing the token', async () => {
    const messages = new Set<string>();
    const expect401 = async (token: string | undefined, message: string) => {
      const r = await call('GET', '/v1/incidents', token ? { token } : {});
      assert.equal(r.status, 401, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'unauthorized');
      assert.equal(r.body.error.message, message);
      if (token) assert.ok(!JSON.stringify(r.body).includes(token));
      messages.add(message);
    };
    await expect401(undefined, AUTH_MESSAGES.missing);
    await expect401('rg_short', AUTH_MESSAGES.malformed);
    await expect401(generateToken(), AUTH_MESSAGES.unknown);
    const r = await call('GET', '/v1/incidents', { token: 'x y' });
    assert.equal(r.status, 401);

    const viewer = await tokenFor('vera', ['viewer']);
    assert.equal((await call('GET', '/v1/incidents', { token: viewer })).status, 200);
    const short = await call('POST', '/v1/tokens', { token: viewer, body: { name: 'short', expires: '5m' } });
    assert.equal(short.status, 201);
    assert.equal((await call('GET', '/v1/incidents', { token: short.body.token })).status, 200);
    clock += 6 * MIN;
    await expect401(short.body.token, AUTH_MESSAGES.expired);

    // Revocation takes effect on the very next request.
    const mine = await call('GET', '/v1/tokens', { token: viewer });
    const id = mine.body.find((t: { name: string; status: string }) => t.name === 'test' && t.status === 'active').id;
    assert.equal((await call('DELETE', `/v1/tokens/${id}`, { token: adminToken })).status, 200);
    await expect401(viewer, AUTH_MESSAGES.revoked);
    assert.equal(messages.size, 5);
    assert.ok(denied.some((d) => d.status === 401 && d.route === '/v1/incidents' && d.actor === null));
  });
});

describe('authorization', () => {
  test('forbidden: 403 naming the permission and scope, and nothing changes', async () => {
    const dev = await tokenFor('devon', ['developer']);
    const before = (await call('GET', '/v1/incidents', { token: adminToken })).body.length;
    const r = await call('POST', '/v1/incidents', { token: dev, body: { app: 'shop', env: 'staging', title: 'nope' } });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'forbidden');
    assert.match(r.body.error.message, /user:devon may not incidents on app shop, environment staging/);
    assert.equal((await call('GET', '/v1/incidents', { token: adminToken })).body.length, before);

    const deploysBefore = await deployCount();
    for (const env of ['production', 'live', 'nowhere']) {
      const p = await call('POST', '/v1/deployments', { token: dev, body: { app: 'shop', env, version: '1' } });
      assert.equal(p.status, 403, env);
      assert.match(p.body.error.message, new RegExp(`may not deploy on app shop, environment ${env} \\(production\\)`));
    }
    assert.equal(await deployCount(), deploysBefore, 'no change of state');
    const ok = await call('POST', '/v1/deployments', { token: dev, body: { app: 'shop', env: 'staging', version: '1' } });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.actor, 'user:devon');
    assert.deepEqual(ok.body.roles, ['developer'], 'the pipeline engine can ask for the roles of the request');
    assert.equal(await deployCount(), deploysBefore + 1);
    assert.ok(denied.some((d) => d.status === 403 && d.actor === 'user:devon' && d.permission === 'deploy' && d.resources[0]?.env === 'production'));

    const rm = await tokenFor('rhea', ['release-manager']);
    assert.equal((await call('POST', '/v1/deployments', { token: rm, body: { app: 'shop', env: 'production', version: '1' } })).status, 201);
  });

  test('a scoped custom role: allowed for its app and environment, refused for the others', async () => {
    const role = await call('POST', '/v1/roles', { token: adminToken, body: { name: 'shop-staging-oncall', grants: [{ permissions: ['incidents'], apps: ['shop'], envs: ['staging'] }] } });
    assert.equal(role.status, 201, JSON.stringify(role.body));
    const t = await tokenFor('oscar', ['viewer', 'shop-staging-oncall']);
    const opened = await call('POST', '/v1/incidents', { token: t, body: { app: 'shop', env: 'staging', title: 'checkout slow' } });
    assert.equal(opened.status, 201);
    assert.equal((await call('POST', '/v1/incidents', { token: t, body: { app: 'shop', env: 'production', title: 'x' } })).status, 403);
    assert.equal((await call('POST', '/v1/incidents', { token: t, body: { app: 'api', env: 'staging', title: 'x' } })).status, 403);
    // Scope from the stored incident: resolving it is allowed, another app's is not.
    const other = await call('POST', '/v1/incidents', { token: adminToken, body: { app: 'api', env: 'staging', title: 'api down' } });
    assert.equal((await call('POST', `/v1/incidents/${other.body.id}/resolve`, { token: t, body: {} })).status, 403);
    assert.equal((await call('POST', `/v1/incidents/${opened.body.id}/resolve`, { token: t, body: {} })).status, 200);
    assert.equal((await call('POST', '/v1/incidents/inc-000000000000/resolve', { token: t, body: {} })).status, 404);
    // A badly typed scope value is a 400, never a way around the check.
    assert.equal((await call('POST', '/v1/incidents', { token: t, body: { app: 'shop', env: ['staging'], title: 'x' } })).status, 400);
  });

  test('tokens: everyone manages their own, only admins those of others', async () => {
    const v = await tokenFor('tina', ['viewer']);
    const own = await call('POST', '/v1/tokens', { token: v, body: { name: 'laptop' } });
    assert.equal(own.status, 201);
    assert.match(own.body.token, /^rg_/);
    assert.equal(own.headers.get('cache-control'), 'no-store');
    assert.equal((await call('POST', '/v1/tokens', { token: v, body: { user: 'admin' } })).status, 403);
    assert.equal((await call('GET', '/v1/tokens?all=true', { token: v })).status, 403);
    assert.equal((await call('GET', '/v1/tokens?user=admin', { token: v })).status, 403);
    const list = await call('GET', '/v1/tokens', { token: v });
    assert.ok(list.body.every((t: { user: string }) => t.user === 'tina'));
    assert.ok(!JSON.stringify(list.body).includes(own.body.token), 'listings never show a token');
    const adminTokens = await call('GET', '/v1/tokens', { token: adminToken });
    assert.equal((await call('DELETE', `/v1/tokens/${adminTokens.body[0].id}`, { token: v })).status, 403);
    assert.equal((await call('DELETE', `/v1/tokens/${own.body.id}`, { token: v })).status, 200);
    assert.equal((await call('DELETE', '/v1/tokens/tok_0000000000000000', { token: v })).status, 404);
    assert.equal((await call('GET', '/v1/users', { token: v })).status, 403);
    assert.ok(audited.some((e) => e.action === 'token.revoke' && e.target === `token/${own.body.id}`));
    assert.ok(!JSON.stringify(audited).includes(own.body.token), 'the audit entries never hold a token');
  });

  test('users: the last admin stays; a user can change their own password', async () => {
    assert.equal((await call('PATCH', '/v1/users/admin', { token: adminToken, body: { disabled: true } })).status, 409);
    assert.equal((await call('DELETE', '/v1/users/admin', { token: adminToken })).status, 409);
    const created = await call('POST', '/v1/users', { token: adminToken, body: { name: 'gail', roles: ['viewer'], generatePassword: true } });
    assert.equal(created.status, 201);
    assert.equal(created.body.password.length, 24);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const login = await call('POST', '/v1/auth/login', { body: { user: 'gail', password: created.body.password } });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const change = await call('POST', '/v1/auth/password', { cookie, csrf: login.body.csrfToken, body: { current: created.body.password, new: 'a brand new passphrase' } });
    assert.equal(change.status, 200);
    assert.equal((await call('POST', '/v1/auth/login', { body: { user: 'gail', password: 'a brand new passphrase' } })).status, 200);
    assert.equal((await call('GET', '/v1/auth/me', { cookie })).status, 401, 'a password change ends the sessions');
  });
});

describe('browser sessions', () => {
  test('login sets a HttpOnly SameSite=Strict cookie; reads need only it; changes need the CSRF token; logout ends it', async () => {
    const created = await call('POST', '/v1/users', { token: adminToken, body: { name: 'sara', roles: ['developer'], password: 'sara has a long password' } });
    assert.equal(created.status, 201);
    assert.equal(created.body.password, undefined, 'a chosen password is never echoed');
    const login = await call('POST', '/v1/auth/login', { body: { user: 'sara', password: 'sara has a long password' } });
    assert.equal(login.status, 200);
    assert.deepEqual(login.body.roles, ['developer']);
    const setCookie = login.headers.get('set-cookie')!;
    assert.match(setCookie, /^rollgate_session=[A-Za-z0-9_-]{43};/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, /Path=\//);
    assert.match(setCookie, /Max-Age=43200/);
    assert.doesNotMatch(setCookie, /Secure/, 'plain http on loopback');
    const cookie = setCookie.split(';')[0]!;
    const csrf = login.body.csrfToken as string;

    const me = await call('GET', '/v1/auth/me', { cookie });
    assert.equal(me.status, 200);
    assert.equal(me.body.user, 'sara');
    assert.equal(me.body.csrfToken, csrf, 'a reloaded page gets the CSRF token again');

    const before = await deployCount();
    const noCsrf = await call('POST', '/v1/deployments', { cookie, body: { app: 'shop', env: 'staging', version: '1' } });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.body.error.message, AUTH_MESSAGES.csrf);
    assert.equal((await call('POST', '/v1/deployments', { cookie, csrf: csrf.slice(0, -2) + 'xx', body: { app: 'shop', env: 'staging', version: '1' } })).status, 403);
    assert.equal(await deployCount(), before, 'no change without the CSRF token');
    assert.equal((await call('POST', '/v1/deployments', { cookie, csrf, body: { app: 'shop', env: 'staging', version: '1' } })).status, 201);
    assert.equal(await deployCount(), before + 1);

    const out = await call('POST', '/v1/auth/logout', { cookie, csrf });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie') ?? '', /rollgate_session=;.*Max-Age=0/);
    const after = await call('GET', '/v1/auth/me', { cookie });
    assert.equal(after.status, 401);
    assert.equal(after.body.error.message, AUTH_MESSAGES.sessionUnknown);
  });

  test('bearer tokens need no CSRF token; logout with a token revokes it', async () => {
    const t = await tokenFor('bert', ['developer']);
    assert.equal((await call('POST', '/v1/deployments', { token: t, body: { app: 'shop', env: 'staging', version: '1' } })).status, 201);
    assert.equal((await call('POST', '/v1/auth/logout', { token: t })).status, 200);
    assert.equal((await call('GET', '/v1/auth/me', { token: t })).body.error.message, AUTH_MESSAGES.revoked);
  });

  test('repeated failed logins make this name wait (429 too_many_requests, Retry-After, when to retry); then it works again', async () => {
    await call('POST', '/v1/users', { token: adminToken, body: { name: 'luke', roles: ['viewer'], password: 'luke has a long password' } });
    const wrong = await call('POST', '/v1/auth/login', { body: { user: 'luke', password: 'guess' } });
    const ghost = await call('POST', '/v1/auth/login', { body: { user: 'no-such-user', password: 'guess' } });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, ghost.body, 'the same answer whether or not the user exists');
    assert.equal(wrong.body.error.message, AUTH_MESSAGES.login);
    for (let i = 0; i < 5; i++) assert.equal((await call('POST', '/v1/auth/login', { body: { user: 'luke', password: 'guess' } })).status, 401);
    const waiting = await call('POST', '/v1/auth/login', { body: { user: 'luke', password: 'luke has a long password' } });
    assert.equal(waiting.status, 429);
    assert.equal(waiting.body.error.code, 'too_many_requests');
    assert.equal(waiting.headers.get('retry-after'), '1');
    assert.match(waiting.body.error.message, /wait 1 second \(until 2024-05-01T\d\d:\d\d:\d\d\.\d+Z\) and try again/);
    assert.match(waiting.body.error.message, /rollgate users unlock/);
    assert.ok(audited.some((e) => e.action === 'auth.login_throttled' && e.target === 'user/luke'));
    clock += 1000;
    assert.equal((await call('POST', '/v1/auth/login', { body: { user: 'luke', password: 'luke has a long password' } })).status, 200);
  });
});

describe('oversized bodies', () => {
  test('413 before anything is read into memory or changed', async () => {
    const big = JSON.stringify({ user: 'x', password: 'y'.repeat(20_000) });
    assert.equal(await rawPost('/v1/auth/login', {}, [big]), 413);
    const before = await deployCount();
    const dev = await tokenFor('olga', ['developer']);
    // Content-Length over the limit: refused on the header, before the body is sent.
    assert.equal(await rawPost('/v1/deployments', { authorization: `Bearer ${dev}`, 'content-length': String(2 * 1024 * 1024) }, ['{'], false), 413);
    // Chunked, without a Content-Length: counted while read, refused past 1 MiB (or the connection is cut).
    const chunks = Array.from({ length: 24 }, () => 'x'.repeat(64 * 1024));
    const status = await rawPost('/v1/deployments', { authorization: `Bearer ${dev}`, 'transfer-encoding': 'chunked' }, chunks, false);
    assert.ok(status === 413 || status === 'reset', String(status));
    assert.equal(await deployCount(), before);
    // Within the limit, a body read for the scope still reaches the route intact.
    const ok = await call('POST', '/v1/deployments', { token: dev, body: { app: 'shop', env: 'staging', version: '2' } });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.version, '2');
  });
});
