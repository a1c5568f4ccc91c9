/**
 * Walks the authorization table against the real server (real agent process, real store: SQLite
 * and PostgreSQL): every route, without credentials and with a token of every built-in role. A
 * route a role may use is served (never 401/403), one it may not answers 403 and changes
 * nothing (the state seen by an admin is the same before and after all of that role's refused
 * calls); without credentials every non-public route answers 401. No route answers 500.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_ROLES, BUILTIN_ROLE_NAMES, can, type BuiltinRoleName, type Resource } from '../core/authz.js';
import { errorMessage } from '../core/errors.js';
import { ApiClient } from '../cli/client.js';
import { createRole, createToken, createUser } from '../cli/client-auth.js';
import { setSecret } from '../cli/client-secrets.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { freePort, makeDemoRelease } from '../demo/fixtures.js';
import { waitForDeployment } from '../demo/platform.js';
import { silentLogger } from '../engine/logger.js';
import { runServer, type RunningServer } from '../server/main.js';
import { withPostgres } from '../test/pg.js';
import { SplitPlatform, until } from '../test/split-platform.js';
import { exampleRequests, type ExampleFixture, type ExampleRequest } from './route-permissions.js';
import fc from 'fast-check';
import { dressings } from '../test/body-dressing.js';

/** What a request touches, as the table's scopes say for this fixture (production, except uploads and own tokens). */
function resourceOf(r: ExampleRequest, f: ExampleFixture): Resource {
  if (r.entry.path.startsWith('/v1/tokens')) return { own: r.method !== 'DELETE' };
  const scope = r.entry.scope;
  if (scope && typeof scope === 'object' && 'envless' in scope && scope.envless) return { app: f.app, envless: true };
  return { app: f.app, env: f.env, production: true };
}

function expectedAllowed(role: BuiltinRoleName, r: ExampleRequest, f: ExampleFixture): boolean {
  const p = r.entry.permission;
  if (p === 'public' || p === 'authenticated') return true;
  return can([BUILTIN_ROLES[role]], p, resourceOf(r, f));
}

async function call(base: string, token: string | null, r: ExampleRequest): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (r.text !== undefined) {
    headers['content-type'] = 'text/plain';
    body = r.text;
  } else if (r.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(r.body);
  } else if (r.method !== 'GET') {
    headers['content-type'] = 'application/json';
    body = '{}';
  }
  const ac = new AbortController();
  const res = await fetch(base + r.path, { method: r.method, headers, body, signal: ac.signal });
  // Event streams never end by themselves: the status is what matters here.
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    ac.abort();
    return { status: res.status, text: '' };
  }
  return { status: res.status, text: await res.text() };
}

/** Everything a refused call could have changed, as an admin sees it (minus clocks of use). */
async function snapshot(admin: ApiClient, f: ExampleFixture): Promise<string> {
  const get = (path: string) => admin.request<unknown>('GET', path).catch((e: unknown) => `error: ${errorMessage(e)}`);
  const parts = await Promise.all([
    get('/v1/apps'),
    get('/v1/environments'),
    get('/v1/pipelines'),
    get('/v1/deployments?limit=100'),
    get('/v1/runs?limit=100'),
    get(`/v1/runs/${f.runId}`),
    get('/v1/incidents?status=all'),
    get('/v1/chaos'),
    get('/v1/users'),
    get('/v1/tokens?all=true'),
    get('/v1/roles'),
    get(`/v1/apps/${f.app}/secrets?env=${f.env}`),
    get(`/v1/apps/${f.app}/releases`),
    get(`/v1/apps/${f.app}/flags?archived=true`),
    get(`/v1/apps/${f.app}/envs/${f.env}/flags`),
    get(`/v1/apps/${f.app}/flag-keys`),
  ]);
  return JSON.stringify(parts, (k, v: unknown) => (/^(lastUsedAt|lastSeenAt|updatedAt|at|observedAt|durationMs)$/.test(k) ? undefined : v));
}

/** Waits until nothing moves by itself (deployments, runs, expiring faults), so snapshots compare. */
async function settle(admin: ApiClient): Promise<void> {
  await until('the platform to settle', async () => {
    const [deps, runs, chaos, status] = await Promise.all([
      admin.request<{ finishedAt: string | null }[]>('GET', '/v1/deployments?limit=100'),
      admin.request<{ status: string; finishedAt: string | null }[]>('GET', '/v1/runs?limit=100'),
      admin.request<{ status: string }[]>('GET', '/v1/chaos'),
      admin.request<{ versions: { instances: { state: string }[] }[] }[]>('GET', '/v1/status'),
    ]);
    // Replaced instances drain and go after a deployment ends; the release list shows them meanwhile.
    const quiet = status.every((s) => s.versions.every((v) => v.instances.every((i) => i.state === 'ready')));
    return quiet && deps.every((d) => d.finishedAt !== null) && runs.every((r) => r.finishedAt !== null || r.status === 'waiting') && chaos.every((c) => c.status !== 'active');
  }, 30_000);
}

function walkSuite(name: string, databaseUrl: () => string | undefined): void {
  describe(name, () => {
    let work: string;
    let platform: SplitPlatform;
    let server: RunningServer;
    let admin: ApiClient;
    const tokens = {} as Record<BuiltinRoleName, string>;
    let f: ExampleFixture;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'rollgate-walk-'));
      const dataDir = join(work, '.rollgate');
      platform = new SplitPlatform(dataDir);
      await platform.startAgent();
      const agent = await platform.agentConnection();
      const url = databaseUrl();
      server = await runServer({ dataDir, port: await freePort(), agent, log: silentLogger, ...(url ? { databaseUrl: url } : {}) });
      admin = new ApiClient(server.url, server.token!);
      const prodPort = await freePort();
      await admin.applySpec({
        apps: { shop: { run: 'node server.js', replicas: 1, drainTimeout: '1s', healthCheck: { path: '/healthz', interval: '100ms' } } },
        environments: { production: { listen: prodPort, analysis: false, flagChangeRequests: false } },
        pipelines: { shop: { app: 'shop', stages: [{ name: 'sign-off', approval: { manual: {} } }, { name: 'ship', deploy: { env: 'production' } }] } },
      });
      const dir = await makeDemoRelease(join(work, 'rel'), { version: 'v1' });
      await admin.uploadRelease('shop', packDir(await checkReleaseDir(dir)), { version: 'v1' });
      const dep = await admin.deploy({ app: 'shop', env: 'production', version: 'v1' });
      assert.equal((await waitForDeployment(admin, dep.id)).status, 'succeeded');
      const run = await admin.startRun({ pipeline: 'shop' }, { archive: packDir(await checkReleaseDir(dir)) });
      await until('the run to wait for its approval', async () => (await admin.run(run.id)).status === 'waiting');
      const incident = await admin.openIncident({ app: 'shop', env: 'production', title: 'walk' });
      await createUser(admin, { name: 'victim', roles: ['viewer'], generatePassword: true });
      const victimToken = await createToken(admin, { user: 'victim', name: 'victim', expires: '1d' });
      await createRole(admin, { name: 'walk-custom', grants: [{ permissions: ['read'] }] });
      await setSecret(admin, 'shop', 'production', 'WALK_SECRET', Buffer.from('walk-secret-initial-value'));
      await admin.request('POST', '/v1/apps/shop/flags', { body: { name: 'walk', kind: 'release' } });
      await admin.request('POST', '/v1/apps/shop/envs/production/flags/walk/enable');
      const flagKey = await admin.request<{ id: string }>('POST', '/v1/apps/shop/envs/production/flag-keys', { body: { kind: 'client' } });
      for (const role of BUILTIN_ROLE_NAMES) {
        await createUser(admin, { name: `walk-${role}`, roles: [role], generatePassword: true });
        tokens[role] = (await createToken(admin, { user: `walk-${role}`, name: 'walk', expires: '1d' })).token;
      }
      f = { app: 'shop', env: 'production', pipeline: 'shop', deploymentId: dep.id, runId: run.id, incidentId: incident.id, deliveryId: 'dlv-walk', tokenId: victimToken.id, user: 'victim', role: 'walk-custom', secret: 'WALK_SECRET', version: 'v1', flag: 'walk', flagKeyId: flagKey.id };
    });

    after(async () => {
      await server?.stop();
      await platform?.stopAll();
      await rm(work, { recursive: true, force: true });
    });

    test('without credentials: every route but the public ones answers 401', async () => {
      for (const r of exampleRequests(f)) {
        const { status, text } = await call(server.url, null, r);
        const what = `${r.method} ${r.entry.path}: ${status} ${text.slice(0, 200)}`;
        // Public routes answer as they do for anyone (a login with a wrong password is a 401 of its own).
        if (r.entry.permission !== 'public') assert.equal(status, 401, what);
        assert.ok(status < 500, what);
      }
    });

    // Least to most privileged, so the admin's changes (deleting the fixture user, role, secret) come last.
    for (const role of BUILTIN_ROLE_NAMES) {
      test(`${role}: allowed routes are served, forbidden ones answer 403 and change nothing`, async () => {
        // Logging out ends the caller's own credentials: keep it for the very end.
        const all = exampleRequests(f).sort((a, b) => Number(a.entry.path === '/v1/auth/logout') - Number(b.entry.path === '/v1/auth/logout'));
        const forbidden = all.filter((r) => !expectedAllowed(role, r, f));
        const allowed = all.filter((r) => expectedAllowed(role, r, f));
        const before = await snapshot(admin, f);
        for (const r of forbidden) {
          const { status, text } = await call(server.url, tokens[role], r);
          assert.equal(status, 403, `${role} ${r.method} ${r.entry.path} should be refused: ${status} ${text.slice(0, 200)}`);
          assert.doesNotMatch(text, /walk-secret|rg_[A-Za-z0-9_-]{20}/, 'a refusal leaks nothing');
        }
        const afterwards = forbidden.length ? await snapshot(admin, f) : before;
        if (afterwards !== before) {
          let i = 0;
          while (afterwards[i] === before[i]) i++;
          assert.fail(`${role}: refused calls changed something, near: …${before.slice(Math.max(0, i - 120), i + 80)}… became …${afterwards.slice(Math.max(0, i - 120), i + 80)}…`);
        }
        const lastSeq = async () => (await admin.request<{ seq: number }[]>('GET', '/v1/audit', { query: { limit: 1 } }))[0]?.seq ?? 0;
        for (const r of allowed) {
          const mark = r.method === 'GET' || r.entry.permission === 'public' ? null : await lastSeq();
          const { status, text } = await call(server.url, tokens[role], r);
          const what = `${role} ${r.method} ${r.entry.path}: ${status} ${text.slice(0, 200)}`;
          if (mark !== null) {
            // Every change a principal may ask for is on the trail, whatever its outcome.
            const entries = await admin.request<{ actor: string; action: string }[]>('GET', '/v1/audit', { query: { after: mark, actor: `user:walk-${role}`, limit: 10 } });
            assert.ok(entries.length > 0, `no audit entry for ${what}`);
          }
          // Public routes answer on their own terms (a wrong password is a 401 of the login itself).
          if (r.entry.permission !== 'public') assert.ok(status !== 401 && status !== 403, `should be served: ${what}`);
          assert.ok(status < 500, what);
        }
        if (role === 'viewer') assert.ok(forbidden.length > 20, 'a viewer is refused every change');
        if (role === 'admin') assert.equal(forbidden.length, 0);
      });
    }

    test('a body dressed any way (marks, charsets, content types, duplicate keys, escapes, compression) never turns a refusal into an allowed call', async () => {
      // The role walk's own tokens ended with its logout: fresh principals for this test.
      const fresh = {} as Record<BuiltinRoleName, string>;
      for (const role of ['viewer', 'developer'] as const) {
        await createUser(admin, { name: `dressed-${role}`, roles: [role], generatePassword: true });
        fresh[role] = (await createToken(admin, { user: `dressed-${role}`, name: 'dressed', expires: '1d' })).token;
      }
      const rawCall = async (token: string, path: string, headers: Record<string, string>, bytes: Buffer) => {
        const res = await fetch(server.url + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...headers }, body: bytes });
        return { status: res.status, text: await res.text() };
      };
      const cases: { role: BuiltinRoleName; path: string; body: Record<string, unknown>; decoy: Record<string, unknown> }[] = [
        // The attack run's case: a viewer minting a token for someone else.
        { role: 'viewer', path: '/v1/tokens', body: { user: 'victim', name: 'dressed', expires: '1h' }, decoy: { user: 'walk-viewer' } },
      ];
      // Every route whose scope comes from its body, as a developer (refused in production).
      for (const r of exampleRequests(f)) {
        const s = r.entry.scope;
        if (r.method !== 'POST' || !s || typeof s === 'function' || !(s.env && 'body' in s.env)) continue;
        cases.push({ role: 'developer', path: r.path, body: r.body as Record<string, unknown>, decoy: { env: 'staging', app: 'nothing' } });
      }
      assert.ok(cases.length >= 8, `body-scoped routes found: ${cases.map((c) => c.path).join(', ')}`);
      await settle(admin);
      const before = await snapshot(admin, f);
      for (const k of cases) {
        for (const d of dressings(k.body, k.decoy)) {
          const { status, text } = await rawCall(fresh[k.role], k.path, d.headers, d.bytes);
          const what = `${k.role} POST ${k.path} (${d.name}): ${status} ${text.slice(0, 200)}`;
          if (d.name === 'plain') assert.equal(status, 403, what);
          else assert.ok([400, 403, 413, 415].includes(status), what);
        }
      }
      // Parsed, so a failure shows what changed rather than two long strings.
      assert.deepEqual(JSON.parse(await snapshot(admin, f)), JSON.parse(before), 'dressed refusals changed nothing');
    });

    test('fuzzed request bodies (fast-check) never answer 500, and a 4xx changes nothing', async () => {
      const routes = exampleRequests(f).filter((r) => r.method !== 'GET' && r.entry.body !== 'raw' && r.text === undefined && !/\/auth\/(logout|password)$/.test(r.entry.path));
      assert.ok(routes.length > 25, `fuzzed routes: ${routes.length}`);
      const mutated = (base: object | undefined) =>
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          fc.dictionary(fc.constantFrom('app', 'env', 'user', 'version', 'name', 'roles', 'reason', 'spec', '__proto__', 'constructor', 'expires', 'grants'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
          fc.record({ drop: fc.constantFrom(...Object.keys(base ?? {}), 'extra'), value: fc.jsonValue({ maxDepth: 2 }) }).map(({ drop, value }) => ({ ...(base ?? {}), [drop]: value })),
        );
      for (const r of routes) {
        const statuses: number[] = [];
        await settle(admin);
        const before = await snapshot(admin, f);
        await fc.assert(
          fc.asyncProperty(mutated(r.body as object | undefined), async (body) => {
            const res = await fetch(server.url + r.path, { method: r.method, headers: { authorization: `Bearer ${server.token!}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
            const text = await res.text();
            statuses.push(res.status);
            assert.ok(res.status < 500, `${r.method} ${r.entry.path} with ${JSON.stringify(body).slice(0, 200)}: ${res.status} ${text.slice(0, 200)}`);
          }),
          { numRuns: 12, seed: 9 },
        );
        // Only when every fuzzed call was refused can the state be compared whole.
        if (statuses.every((s) => s >= 400)) assert.equal((await settle(admin), await snapshot(admin, f)), before, `${r.method} ${r.entry.path}: a refused fuzzed body changed something`);
      }
    });

    test('every refused call of a principal is on the audit trail, and the trail verifies', async () => {
      const denied = await admin.request<{ actor: string; action: string; outcome: string }[]>('GET', '/v1/audit', { query: { action: 'auth.denied', limit: 1000 } });
      assert.ok(denied.some((e) => e.actor === 'user:walk-viewer' && e.outcome === 'denied'), 'viewer refusals recorded');
      assert.ok(denied.some((e) => e.actor === 'user:walk-developer'), 'developer refusals recorded');
      const v = await admin.request<{ ok: boolean }>('GET', '/v1/audit/verify');
      assert.equal(v.ok, true, JSON.stringify(v));
    });
  });
}

walkSuite('route walk on SQLite', () => undefined);

await withPostgres('route walk on PostgreSQL', (db) => {
  walkSuite('route walk on PostgreSQL', () => db.url);
  after(() => db.drop());
});
