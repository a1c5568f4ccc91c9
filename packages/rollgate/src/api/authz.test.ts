/**
 * The route table and its guard: every route that exists has an entry, a route without one (or
 * registered before the middleware) stops the start, and scopes found through the store
 * (pipelines, environments) decide as the table says. Handlers here are TEST handlers: the
 * decision is made before any handler runs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { createApi, type ApiDeps } from './app.js';
import { isRollgateError } from '../core/errors.js';
import { Accounts } from '../engine/auth/accounts.js';
import { Auth } from '../engine/auth/auth.js';
import { bootstrapAdmin } from '../engine/auth/bootstrap.js';
import type { Principal } from '../engine/auth/principal.js';
import { KeyedLock } from '../engine/keyed-lock.js';
import { silentLogger } from '../engine/logger.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { assertEveryRouteHasPermission, authorize, currentPrincipal, rolesOfRequest, environmentIsProduction, routeParams, unusedPermissionEntries } from './authz.js';
import type { ApiEnv } from './http.js';
import { ROUTE_PERMISSIONS, exampleRequests } from './route-permissions.js';
import { DELIVERY_ROUTE_PERMISSIONS } from './routes-delivery.js';
import { registerAuthRoutes } from './routes-auth.js';
import { registerChaosRoutes } from './routes-chaos.js';
import { registerDoraRoutes } from './routes-dora.js';
import { registerIncidentRoutes } from './routes-incidents.js';
import { registerGitHookRoutes, registerPipelineRoutes } from './routes-pipelines.js';

const CHEAP = { logN: 10, r: 8, p: 1 };
const key = (r: { method: string; path: string }) => `${r.method} ${r.path}`;

function unused<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get: (_t, prop) => {
      throw new Error(`test: ${name}.${String(prop)} is not available here`);
    },
  });
}

let dir: string;
let store: Store;
let auth: Auth;
let accounts: Accounts;
let admin: Principal;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rollgate-authz-'));
  store = await openStore({ dataDir: dir });
  auth = new Auth(store, { scrypt: CHEAP });
  accounts = new Accounts(store, auth);
  admin = await auth.authenticateToken((await bootstrapAdmin(store, dir, { scrypt: CHEAP })).token!);
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the route table', () => {
  test('has an entry for every route the API serves today (app.ts and every route file)', () => {
    // Optional settings read while building the app are absent; every real dependency is off limits.
    // The event hub subscribes when the app is built; nothing is published here.
    const deps = new Proxy({} as ApiDeps, { get: (_t, p) => (p === 'env' || p === 'eventStreams' ? undefined : p === 'events' ? { subscribe: () => () => {} } : unused(String(p))) });
    const today = createApi(deps);
    const modules = new Hono<ApiEnv>();
    registerAuthRoutes(modules, { auth, accounts });
    registerIncidentRoutes(modules, unused('incident deps'));
    registerChaosRoutes(modules, unused('chaos deps'));
    registerDoraRoutes(modules, unused('dora deps'));
    registerPipelineRoutes(modules, unused('pipeline deps'));
    registerGitHookRoutes(modules, unused('git hook deps'));
    const table = new Set(ROUTE_PERMISSIONS.map(key));
    const served = [...today.routes, ...modules.routes].filter((r) => r.method !== 'ALL');
    const missing = [...new Set(served.map(key))].filter((k) => !table.has(k));
    assert.deepEqual(missing, []);
    assert.ok(served.length > 40);
    // Entries are unique, and the only public routes are the three the table explains and the SDK
    // delivery routes (each authenticates its SDK key itself).
    assert.equal(table.size, ROUTE_PERMISSIONS.length);
    assert.deepEqual(ROUTE_PERMISSIONS.filter((e) => e.permission === 'public').map(key), ['GET /v1/health', 'POST /v1/auth/login', 'POST /hooks/git/:name', ...DELIVERY_ROUTE_PERMISSIONS.map(key)]);
    assert.ok(DELIVERY_ROUTE_PERMISSIONS.every((e) => /^\/(api|ofrep)\//.test(e.path) && e.note?.startsWith('SDK route:')));
    assert.ok(ROUTE_PERMISSIONS.filter((e) => e.permission === 'public').every((e) => e.note));
    assert.equal(ROUTE_PERMISSIONS.find((e) => e.path === '/v1/webhooks/alertmanager')?.permission, 'incidents');
  });

  test('every mutating route needs more than being logged in, except logout and one\'s own password', () => {
    const loose = ROUTE_PERMISSIONS.filter((e) => e.method !== 'GET' && (e.permission === 'read' || e.permission === 'authenticated')).map(key);
    assert.deepEqual(loose, ['POST /v1/auth/logout', 'POST /v1/auth/password']);
  });

  test('exampleRequests gives one concrete request per entry', () => {
    const ex = exampleRequests({
      app: 'shop',
      env: 'staging',
      pipeline: 'shop',
      deploymentId: '00000000-0000-0000-0000-000000000001',
      runId: '00000000-0000-0000-0000-000000000002',
      incidentId: 'inc-000000000001',
      deliveryId: 'd-1',
      tokenId: 'tok_0000000000000001',
      user: 'walker',
      role: 'walk-role',
      secret: 'API_KEY',
      version: 'v1',
      flag: 'new-checkout',
      flagKeyId: 'fk_0000000000000001',
    });
    assert.equal(ex.length, ROUTE_PERMISSIONS.length);
    for (const e of ex) assert.ok(!e.path.includes(':') && !e.path.includes('//'), e.path);
    assert.equal(ex.find((e) => e.entry.path === '/v1/deployments/:id/promote')?.path, '/v1/deployments/00000000-0000-0000-0000-000000000001/promote');
    assert.equal(ex.find((e) => e.entry.path === '/v1/apps/:app/envs/:env/secrets/:name' && e.method === 'PUT')?.path, '/v1/apps/shop/envs/staging/secrets/API_KEY');
    assert.deepEqual(ex.find((e) => key(e) === 'POST /v1/deployments')?.body, { app: 'shop', env: 'staging', version: 'v1' });
  });
});

describe('the guard', () => {
  const mw = () => authorize(ROUTE_PERMISSIONS, { auth, store });

  test('a route without an entry stops the start', () => {
    const app = new Hono<ApiEnv>();
    app.use('*', mw());
    app.get('/v1/health', (c) => c.text('ok'));
    app.post('/v1/secret-backdoor', (c) => c.text('x'));
    assert.throws(() => assertEveryRouteHasPermission(app, ROUTE_PERMISSIONS), /POST \/v1\/secret-backdoor has no entry/);
  });

  test('a route registered before the middleware, a missing middleware, or app.all stop the start', () => {
    const early = new Hono<ApiEnv>();
    early.get('/v1/apps', (c) => c.json([]));
    early.use('*', mw());
    assert.throws(() => assertEveryRouteHasPermission(early, ROUTE_PERMISSIONS), /GET \/v1\/apps is registered before the authorize middleware/);
    const none = new Hono<ApiEnv>();
    none.get('/v1/apps', (c) => c.json([]));
    assert.throws(() => assertEveryRouteHasPermission(none, ROUTE_PERMISSIONS), /not registered/);
    const all = new Hono<ApiEnv>();
    all.use('*', mw());
    all.all('/v1/apps', (c) => c.json([]));
    assert.throws(() => assertEveryRouteHasPermission(all, ROUTE_PERMISSIONS), /ALL \/v1\/apps/);
    const fine = new Hono<ApiEnv>();
    fine.use('*', mw());
    fine.get('/v1/apps', (c) => c.json([]));
    assertEveryRouteHasPermission(fine, ROUTE_PERMISSIONS);
    assert.ok(unusedPermissionEntries(fine, ROUTE_PERMISSIONS).length === ROUTE_PERMISSIONS.length - 1);
  });

  test('a route the table does not know is refused even when the guard was skipped', async () => {
    const app = new Hono<ApiEnv>();
    app.onError((err, c) => (isRollgateError(err) ? c.json(err.toJSON(), err.status as 400) : c.json({ error: String(err) }, 500)));
    app.use('*', mw());
    let ran = false;
    app.post('/v1/secret-backdoor', (c) => {
      ran = true;
      return c.text('x');
    });
    const r = await app.request('/v1/secret-backdoor', { method: 'POST' });
    assert.equal(r.status, 403);
    assert.equal(ran, false);
    assert.equal((await app.request('/v1/nothing-here')).status, 404);
  });
});

describe('scopes found through the store', () => {
  let app: Hono<ApiEnv>;
  const token = async (user: string, roles: string[]) => {
    await accounts.createUser({ name: user, roles }, admin.actor);
    return (await accounts.createToken(admin, { user })).token;
  };
  const start = (t: string, pipeline: string) => app.request(`/v1/pipelines/${pipeline}/runs`, { method: 'POST', headers: { authorization: `Bearer ${t}` } });

  before(async () => {
    await store.upsertEnvironment('staging', { listen: 1 });
    await store.upsertEnvironment('prod-eu', { listen: 2, production: true });
    await store.upsertEnvironment('production', { listen: 3, production: false });
    await store.setSetting(
      'pipelines',
      JSON.stringify({
        'to-staging': { app: 'shop', stages: [{ name: 'build', run: { command: 'true' } }, { name: 'staging', deploy: { env: 'staging' } }] },
        'to-prod': { app: 'shop', stages: [{ name: 'staging', deploy: { env: 'staging' } }, { name: 'ok', approval: { manual: {} } }, { name: 'prod', deploy: { env: 'prod-eu' } }] },
        'build-only': { app: 'shop', stages: [{ name: 'build', run: { command: 'true' } }] },
      }),
    );
    app = new Hono<ApiEnv>();
    app.onError((err, c) => (isRollgateError(err) ? c.json(err.toJSON(), err.status as 400) : c.json({ error: String(err) }, 500)));
    app.use('*', authorize(ROUTE_PERMISSIONS, { auth, store, log: silentLogger }));
    // TEST handler: reports who the request ran as, seen from below the API (through a KeyedLock,
    // as the pipeline engine asks for approval roles).
    app.post('/v1/pipelines/:name/runs', async (c) => {
      const roles = await new KeyedLock().run('run', async () => rolesOfRequest(c.get('actor')));
      return c.json({ actor: currentPrincipal()?.actor, roles }, 201);
    });
  });

  test('a pipeline run touches every environment it deploys to: developers start only those outside production', async () => {
    const dev = await token('pia', ['developer']);
    const rm = await token('ron', ['release-manager']);
    assert.equal((await start(dev, 'to-staging')).status, 201);
    assert.equal((await start(dev, 'build-only')).status, 201);
    const r = await start(dev, 'to-prod');
    assert.equal(r.status, 403);
    assert.match(((await r.json()) as { error: { message: string } }).error.message, /environment prod-eu \(production\)/);
    const ok = await start(rm, 'to-prod');
    assert.equal(ok.status, 201);
    assert.deepEqual(await ok.json(), { actor: 'user:ron', roles: ['release-manager'] });
    assert.deepEqual(rolesOfRequest('user:ron'), [], 'outside a request nobody holds a role');
    assert.equal((await start(rm, 'no-such')).status, 404);
  });

  test('production is the environment\'s flag, else its name; an unknown environment counts as production', async () => {
    assert.equal(await environmentIsProduction(store, 'staging'), false);
    assert.equal(await environmentIsProduction(store, 'prod-eu'), true);
    assert.equal(await environmentIsProduction(store, 'production'), false, 'the flag wins over the name');
    assert.equal(await environmentIsProduction(store, 'never-declared'), true);
  });

  test('routeParams reads Hono path parameters', () => {
    assert.deepEqual(routeParams('/v1/apps/:app/envs/:env/secrets/:name', '/v1/apps/shop/envs/staging/secrets/API_KEY'), { app: 'shop', env: 'staging', name: 'API_KEY' });
    assert.deepEqual(routeParams('/v1/runs/:id/logs', '/v1/runs/a%2Fb/logs'), { id: 'a/b' });
  });
});
