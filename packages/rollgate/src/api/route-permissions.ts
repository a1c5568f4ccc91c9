/**
 * Every API route and what it needs (see api/authz.ts for how it is enforced). Adding a route
 * means adding its line here, or the server refuses to start.
 *
 * Public routes, and why:
 *   GET  /v1/health        liveness, tells nothing but the version and database kind
 *   POST /v1/auth/login    how one gets credentials; throttled per account and address (growing waits)
 *   POST /hooks/git/:name  authenticated by its HMAC signature (or GitLab token), checked by the route
 *                          against the pipeline's webhook secret; a bearer token cannot be configured
 *                          in every git host, and the only thing it can do is start that pipeline
 *                          at a commit of its own repository
 *   /api/client/*, /api/frontend*, /ofrep/*  the flag delivery endpoints (api/routes-delivery.ts): SDKs
 *                          present an SDK key, never a user token; each route resolves and checks
 *                          the key itself (401 unknown or revoked, 403 a client key on server routes)
 * The Alertmanager webhook (POST /v1/webhooks/alertmanager) is NOT public: Alertmanager sends a
 * bearer token (http_config.authorization.credentials) of a user whose role grants "incidents".
 */
import type { Context } from 'hono';
import type { Resource } from '../core/authz.js';
import { RollgateError } from '../core/errors.js';
import type { PipelineSpec } from '../core/pipeline-spec.js';
import { PipelineCatalog } from '../engine/pipeline/catalog.js';
import { TOKEN_ID_RE } from '../engine/auth/tokens.js';
import { INCIDENT_ID_RE } from '../engine/incidents.js';
import type { Store } from '../store/types.js';
import { MAX_IMPORT_BYTES } from '../flags/inputs.js';
import { DELIVERY_ROUTE_PERMISSIONS } from './routes-delivery.js';
import { FLAG_CHANGE_REQUEST_ROUTE_PERMISSIONS } from './routes-flag-change-requests.js';
import { envResource, type RouteMethod, type RoutePermission, type ScopeContext, type ScopeResolver } from './authz.js';
import type { ApiEnv } from './http.js';

const ID_RE = /^[0-9a-f-]{36}$/;

/** The environments a pipeline deploys to or verifies (each checked), or none (envless). */
export async function pipelineResources(store: Store, app: string, spec: PipelineSpec): Promise<Resource[]> {
  const envs = new Set<string>();
  for (const s of spec.stages) {
    if (s.deploy) envs.add(s.deploy.env);
    if (s.verify) envs.add(s.verify.env);
  }
  if (envs.size === 0) return [{ app, envless: true }];
  return Promise.all([...envs].map((e) => envResource(store, app, e)));
}

const deployment: ScopeResolver = async (_c, { store, params }) => {
  const id = params.id ?? '';
  if (!ID_RE.test(id)) throw new RollgateError('invalid_input', `"${id.slice(0, 60)}" is not a deployment id`);
  const dep = await store.getDeployment(id);
  if (!dep) throw new RollgateError('not_found', `no deployment ${id}`);
  return envResource(store, dep.app, dep.env);
};

const incident: ScopeResolver = async (_c, { store, params }) => {
  const id = params.id ?? '';
  if (!INCIDENT_ID_RE.test(id)) throw new RollgateError('invalid_input', `"${id.slice(0, 64)}" is not an incident id (inc- and 12 hex digits); list them with \`rollgate incidents\``);
  const inc = await store.getIncident(id);
  if (!inc) throw new RollgateError('not_found', `no incident ${id.slice(0, 64)}; list them with \`rollgate incidents\``);
  return envResource(store, inc.app, inc.env);
};

const run: ScopeResolver = async (_c, { store, params }) => {
  const id = params.id ?? '';
  if (!ID_RE.test(id)) throw new RollgateError('invalid_input', `"${id.slice(0, 60)}" is not a run id; list runs with rollgate pipeline status`);
  const r = await store.getRun(id);
  if (!r) throw new RollgateError('not_found', `pipeline run ${id} does not exist; list the pipeline's runs to find its id`);
  return pipelineResources(store, r.app, r.spec);
};

const pipelineByName: ScopeResolver = async (_c, { store, params }) => {
  const spec = await new PipelineCatalog(store).get(params.name ?? '');
  return pipelineResources(store, spec.app, spec);
};

const pipelineOfApp: ScopeResolver = async (_c, { store, params }) => {
  const app = params.app ?? '';
  const { spec } = await new PipelineCatalog(store).forApp(app);
  return pipelineResources(store, app, spec);
};

const runList: ScopeResolver = async (c, { store }) => {
  const app = c.req.query('app');
  if (app) return { app };
  const pipeline = c.req.query('pipeline');
  if (pipeline) return { app: (await new PipelineCatalog(store).get(pipeline)).app };
  return {};
};

const truthy = (v: string | undefined) => v === 'true' || v === '1';

/** Listing tokens: one's own, unless ?all or another ?user. */
const tokenList: ScopeResolver = async (c, { principal }) => {
  const user = c.req.query('user');
  return { own: !truthy(c.req.query('all')) && (user === undefined || user === principal.user.name) };
};

/** Creating a token: one's own unless body.user names someone else. */
const tokenCreate: ScopeResolver = async (_c, { principal, body }) => {
  const b = await body();
  const user = b !== null && typeof b === 'object' ? (b as Record<string, unknown>).user : undefined;
  return { own: user === undefined || user === principal.user.name };
};

const tokenById: ScopeResolver = async (_c, { store, principal, params }) => {
  const id = params.id ?? '';
  const t = TOKEN_ID_RE.test(id) ? await store.auth.getToken(id) : null;
  if (!t) throw new RollgateError('not_found', `no token ${id.slice(0, 40)}; list tokens with \`rollgate tokens list\``);
  return { own: t.userId === principal.user.id };
};

/** A route that reads its own raw body (archive, secret value, signed webhook). */
const raw = (e: RoutePermission): RoutePermission => ({ ...e, body: 'raw' });

const P = (method: RouteMethod, path: string, permission: RoutePermission['permission'], scope?: RoutePermission['scope'], note?: string): RoutePermission => ({
  method,
  path,
  permission,
  ...(scope ? { scope } : {}),
  ...(note ? { note } : {}),
});
const appParam = { param: 'app' } as const;
const bodyAppEnv = { app: { body: 'app' }, env: { body: 'env' } } as const;
const queryAppEnv = { app: { query: 'app' }, env: { query: 'env' } } as const;
const envParams = { app: appParam, env: { param: 'env' } } as const;

export const ROUTE_PERMISSIONS: readonly RoutePermission[] = [
  // public
  P('GET', '/v1/health', 'public', undefined, 'liveness; tells only the version and the database kind'),
  P('POST', '/v1/auth/login', 'public', undefined, 'gives credentials; throttled per user name and address with growing waits, never locked for everyone'),
  raw(P('POST', '/hooks/git/:name', 'public', undefined, "authenticated by the HMAC signature against the pipeline's webhook secret, checked in the route")),

  // auth, users, tokens, roles (routes-auth.ts)
  P('POST', '/v1/auth/logout', 'authenticated'),
  P('GET', '/v1/auth/me', 'authenticated'),
  P('POST', '/v1/auth/password', 'authenticated', undefined, 'changes only the caller\'s own password, proving the current one'),
  P('GET', '/v1/users', 'users.manage'),
  P('POST', '/v1/users', 'users.manage'),
  P('PATCH', '/v1/users/:name', 'users.manage'),
  P('DELETE', '/v1/users/:name', 'users.manage'),
  P('POST', '/v1/users/:name/unlock', 'users.manage', undefined, 'clears login waits of a user name (admins)'),
  P('GET', '/v1/tokens', 'tokens.manage', tokenList),
  P('POST', '/v1/tokens', 'tokens.manage', tokenCreate),
  P('DELETE', '/v1/tokens/:id', 'tokens.manage', tokenById),
  P('GET', '/v1/roles', 'authenticated', undefined, 'role definitions help a user understand a 403'),
  P('POST', '/v1/roles', 'users.manage'),
  P('PUT', '/v1/roles/:name', 'users.manage'),
  P('DELETE', '/v1/roles/:name', 'users.manage'),

  // spec, apps, environments, releases, deployments (app.ts)
  P('POST', '/v1/spec', 'spec.apply'),
  P('GET', '/v1/spec', 'read', undefined, 'the spec as applied (notification channels as a digest), so deploying needs no spec.apply when nothing changed'),
  P('GET', '/v1/apps', 'read'),
  P('GET', '/v1/environments', 'read'),
  raw(P('POST', '/v1/apps/:app/releases', 'deploy', { app: appParam, envless: true }, 'an upload touches no environment until it is deployed')),
  P('GET', '/v1/apps/:app/releases', 'read', { app: appParam, envless: true }),
  P('POST', '/v1/apps/:app/releases/prune', 'deploy', { app: appParam }, "spans every environment of the app, so only grants without environment limits allow it; what runs, is stable or is a rollback target is never removed"),
  P('POST', '/v1/deployments', 'deploy', bodyAppEnv),
  P('GET', '/v1/deployments', 'read', queryAppEnv),
  P('GET', '/v1/deployments/:id', 'read', deployment),
  P('POST', '/v1/deployments/:id/promote', 'promote', deployment),
  P('POST', '/v1/deployments/:id/pause', 'deploy', deployment),
  P('POST', '/v1/deployments/:id/resume', 'deploy', deployment),
  P('POST', '/v1/deployments/:id/abort', 'rollback', deployment, 'aborting a rollout returns the environment to the stable release'),
  P('POST', '/v1/deployments/:id/fail', 'rollback', deployment, 'forces a rollback'),
  P('POST', '/v1/retry', 'deploy', bodyAppEnv),
  P('POST', '/v1/rollback', 'rollback', bodyAppEnv),
  P('GET', '/v1/status', 'read', queryAppEnv),
  P('GET', '/v1/logs', 'read', queryAppEnv),
  P('GET', '/v1/logs/stream', 'read', queryAppEnv),
  P('GET', '/v1/events', 'read'),
  P('GET', '/v1/notifications/deliveries', 'read'),
  P('POST', '/v1/notifications/deliveries/:id/resend', 'settings'),

  // incidents (routes-incidents.ts)
  P('GET', '/v1/incidents', 'read', queryAppEnv),
  P('GET', '/v1/incidents/:id', 'read', incident),
  P('POST', '/v1/incidents/:id/resolve', 'incidents', incident),
  P('POST', '/v1/incidents', 'incidents', bodyAppEnv),
  P('POST', '/v1/webhooks/alertmanager', 'incidents', undefined, 'Alertmanager sends a bearer token of a user whose role grants "incidents"'),

  // chaos (routes-chaos.ts)
  P('POST', '/v1/chaos/inject', 'chaos', bodyAppEnv),
  P('POST', '/v1/chaos/kill', 'chaos', bodyAppEnv),
  P('POST', '/v1/chaos/stop', 'chaos', bodyAppEnv),
  P('GET', '/v1/chaos', 'read', queryAppEnv),

  // delivery metrics (routes-dora.ts)
  P('GET', '/v1/dora', 'read', queryAppEnv),

  // pipelines (routes-pipelines.ts): a run touches every environment it deploys to or verifies
  P('GET', '/v1/pipelines', 'read'),
  raw(P('POST', '/v1/pipelines/:name/runs', 'pipelines.run', pipelineByName)),
  raw(P('POST', '/v1/apps/:app/runs', 'pipelines.run', pipelineOfApp)),
  P('GET', '/v1/runs', 'read', runList),
  P('GET', '/v1/runs/:id', 'read', run),
  P('GET', '/v1/runs/:id/logs', 'read', run),
  P('GET', '/v1/runs/:id/logs/stream', 'read', run),
  P('POST', '/v1/runs/:id/approve', 'approve', run),
  P('POST', '/v1/runs/:id/reject', 'approve', run),
  P('POST', '/v1/runs/:id/cancel', 'pipelines.run', run),
  P('POST', '/v1/runs/:id/retry', 'pipelines.run', run),

  // audit trail (routes-audit.ts)
  P('GET', '/v1/audit', 'audit.read'),
  P('GET', '/v1/audit/verify', 'audit.read'),
  P('GET', '/v1/audit/export', 'audit.read'),
  P('GET', '/v1/audit/logins', 'audit.read'),

  // secrets (routes-secrets.ts): values go in, never out
  raw(P('PUT', '/v1/apps/:app/envs/:env/secrets/:name', 'secrets.write', { app: appParam, env: { param: 'env' } })),
  P('GET', '/v1/apps/:app/secrets', 'secrets.read', { app: appParam, env: { query: 'env' } }),
  P('DELETE', '/v1/apps/:app/envs/:env/secrets/:name', 'secrets.write', { app: appParam, env: { param: 'env' } }),
  raw(P('POST', '/v1/apps/:app/envs/:env/secrets/:name/rotate', 'secrets.write', { app: appParam, env: { param: 'env' } })),

  // feature flags (routes-flags.ts): rules in an environment need "flags" there, as deploying does
  // (developers outside production, release managers everywhere); a flag's metadata is the app's
  P('GET', '/v1/apps/:app/flags', 'read', { app: appParam }),
  P('GET', '/v1/apps/:app/stale-flags', 'read', { app: appParam }),
  P('POST', '/v1/apps/:app/flags', 'flags', { app: appParam, envless: true }, 'a new flag is in no environment until its rules are set there'),
  P('GET', '/v1/apps/:app/flags/:flag', 'read', { app: appParam }),
  P('PATCH', '/v1/apps/:app/flags/:flag', 'flags', { app: appParam, envless: true }, 'kind, owner, description and lifetime: never what a flag evaluates to'),
  P('GET', '/v1/apps/:app/envs/:env/flags', 'read', envParams),
  P('PUT', '/v1/apps/:app/envs/:env/flags/:flag', 'flags', envParams),
  P('POST', '/v1/apps/:app/envs/:env/flags/:flag/enable', 'flags', envParams),
  P('POST', '/v1/apps/:app/envs/:env/flags/:flag/disable', 'flags', envParams),
  P('POST', '/v1/apps/:app/envs/:env/flags/:flag/rollout', 'flags', envParams),
  { ...P('POST', '/v1/apps/:app/envs/:env/flags/import', 'flags', envParams), maxBodyBytes: MAX_IMPORT_BYTES },
  P('GET', '/v1/apps/:app/flag-keys', 'read', { app: appParam, env: { query: 'env' } }, 'key ids, names and prefixes only; a key is shown once, when it is created'),
  P('POST', '/v1/apps/:app/envs/:env/flag-keys', 'flags', envParams),
  P('DELETE', '/v1/apps/:app/envs/:env/flag-keys/:id', 'flags', envParams),
  // flag rollouts and scheduled changes (routes-flag-rollouts.ts): they change the flag in the
  // environment, so they need "flags" there like the change itself
  P('POST', '/v1/apps/:app/envs/:env/flags/:flag/rollouts', 'flags', envParams),
  P('GET', '/v1/apps/:app/envs/:env/flags/:flag/rollouts', 'read', envParams),
  P('POST', '/v1/apps/:app/envs/:env/flags/:flag/rollouts/pause', 'flags', envParams),
  P('POST', '/v1/apps/:app/envs/:env/flags/:flag/rollouts/resume', 'flags', envParams),
  P('POST', '/v1/apps/:app/envs/:env/flags/:flag/rollouts/abort', 'flags', envParams),
  P('GET', '/v1/flag-rollouts', 'read', queryAppEnv),
  P('POST', '/v1/apps/:app/envs/:env/flags/:flag/schedules', 'flags', envParams),
  P('GET', '/v1/apps/:app/envs/:env/flag-schedules', 'read', envParams),
  P('DELETE', '/v1/apps/:app/envs/:env/flags/:flag/schedules/:id', 'flags', envParams),
  P('GET', '/v1/apps/:app/envs/:env/flag-sdks', 'read', envParams, 'the SDK instances that registered (names, versions, addresses) and the open delivery streams (routes-delivery.ts)'),
  // change requests and the kill switch (routes-flag-change-requests.ts)
  ...FLAG_CHANGE_REQUEST_ROUTE_PERMISSIONS,
  // Last of the flag routes, so a walk in table order changes the flag before archiving it.
  P('POST', '/v1/apps/:app/flags/:flag/archive', 'flags', { app: appParam }, 'takes the flag out of every environment, so only grants without environment limits allow it'),

  // flag delivery to SDKs (routes-delivery.ts): public here, the SDK key is checked by the route
  ...DELIVERY_ROUTE_PERMISSIONS,
];

/** Names to fill an example request with: whatever exists in the test's fixture. */
export interface ExampleFixture {
  app: string;
  env: string;
  pipeline: string;
  deploymentId: string;
  runId: string;
  incidentId: string;
  deliveryId: string;
  tokenId: string;
  user: string;
  role: string;
  secret: string;
  version: string;
  flag: string;
  flagKeyId: string;
  /** A scheduled flag change (a well-formed id of none when left out). */
  scheduleId?: string;
  /** A flag change request (a well-formed id of none when left out). */
  changeRequestId?: string;
}

export interface ExampleRequest {
  entry: RoutePermission;
  method: RouteMethod;
  /** With parameters filled in and the query string. */
  path: string;
  /** JSON body, when the route takes one. */
  body?: unknown;
  /** Raw body (text/plain) instead, e.g. a secret value. */
  text?: string;
}

const EXAMPLE_BODIES: Record<string, (f: ExampleFixture) => unknown> = {
  'POST /v1/auth/login': (f) => ({ user: f.user, password: 'not the password' }),
  'POST /v1/auth/password': () => ({ current: 'not the password', new: 'a new long password' }),
  'POST /v1/users': () => ({ name: 'walk-user', roles: ['viewer'] }),
  'PATCH /v1/users/:name': () => ({ disabled: false }),
  'POST /v1/users/:name/unlock': () => ({}),
  'POST /v1/tokens': () => ({ name: 'walk', expires: '1h' }),
  'POST /v1/roles': () => ({ name: 'walk-role', grants: [{ permissions: ['read'] }] }),
  'PUT /v1/roles/:name': (f) => ({ name: f.role, grants: [{ permissions: ['read'] }] }),
  'POST /v1/spec': () => ({ spec: {} }),
  'POST /v1/apps/:app/releases/prune': () => ({ keep: 1000 }),
  'POST /v1/deployments': (f) => ({ app: f.app, env: f.env, version: f.version }),
  'POST /v1/deployments/:id/promote': () => ({}),
  'POST /v1/deployments/:id/fail': () => ({ reason: 'walk' }),
  'POST /v1/retry': (f) => ({ app: f.app, env: f.env }),
  'POST /v1/rollback': (f) => ({ app: f.app, env: f.env }),
  'POST /v1/incidents/:id/resolve': () => ({ resolution: 'walk' }),
  'POST /v1/incidents': (f) => ({ app: f.app, env: f.env, title: 'walk' }),
  'POST /v1/webhooks/alertmanager': () => ({ version: '4', status: 'firing', alerts: [] }),
  'POST /v1/chaos/inject': (f) => ({ app: f.app, env: f.env, version: f.version, errorRate: 0.1, durationMs: 1000 }),
  'POST /v1/chaos/kill': (f) => ({ app: f.app, env: f.env, version: f.version }),
  'POST /v1/chaos/stop': (f) => ({ app: f.app, env: f.env }),
  'POST /v1/runs/:id/approve': () => ({ reason: 'walk' }),
  'POST /v1/runs/:id/reject': () => ({ reason: 'walk' }),
  'POST /v1/runs/:id/retry': () => ({}),
  'POST /v1/apps/:app/flags': () => ({ name: 'walk-flag', kind: 'release', description: 'made by the route walk' }),
  'PATCH /v1/apps/:app/flags/:flag': () => ({ description: 'changed by the route walk' }),
  'PUT /v1/apps/:app/envs/:env/flags/:flag': () => ({ enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '10', stickiness: 'default', groupId: 'walk' }, constraints: [{ contextName: 'userId', operator: 'IN', values: ['1'] }] }] }),
  'POST /v1/apps/:app/envs/:env/flags/:flag/rollout': () => ({ percent: 20 }),
  'POST /v1/apps/:app/envs/:env/flags/import': (f) => ({ version: 1, features: [{ name: `${f.flag}-imported`, enabled: false, strategies: [{ name: 'default', segments: [1] }] }], segments: [{ id: 1, name: 'walk', constraints: [{ contextName: 'country', operator: 'IN', values: ['no'] }] }] }),
  'POST /v1/apps/:app/envs/:env/flag-keys': () => ({ kind: 'server', name: 'walk' }),
  // Steps an hour apart: after the first step nothing moves by itself while the walk compares states.
  'POST /v1/apps/:app/envs/:env/flags/:flag/rollouts': () => ({ steps: [10, 50, 100], every: '1h' }),
  'POST /v1/apps/:app/envs/:env/flags/:flag/rollouts/abort': () => ({ keep: true }),
  'POST /v1/apps/:app/envs/:env/flags/:flag/schedules': () => ({ at: '2099-01-01T00:00:00Z', action: 'enable' }),
  'POST /v1/apps/:app/envs/:env/flags/:flag/change-requests': () => ({ action: 'disable', reason: 'proposed by the route walk' }),
  'POST /v1/flag-change-requests/:id/approve': () => ({ reason: 'walk' }),
  'POST /v1/flag-change-requests/:id/reject': () => ({ reason: 'walk' }),
  'POST /v1/apps/:app/envs/:env/flags/:flag/kill': () => ({ reason: 'the route walk' }),
};

const EXAMPLE_QUERIES: Record<string, (f: ExampleFixture) => Record<string, string>> = {
  'GET /v1/logs': (f) => ({ app: f.app, env: f.env }),
  'GET /v1/logs/stream': (f) => ({ app: f.app, env: f.env }),
  'GET /v1/apps/:app/secrets': (f) => ({ env: f.env }),
  'POST /v1/pipelines/:name/runs': () => ({ ref: 'HEAD' }),
  'POST /v1/apps/:app/runs': () => ({ ref: 'HEAD' }),
};

/**
 * One concrete request per table entry, for the test that walks every route with every role.
 * Bodies are valid in shape where the route takes JSON; whether the call succeeds depends on the
 * fixture (it must only be allowed or refused as the table says).
 */
export function exampleRequests(f: ExampleFixture, table: readonly RoutePermission[] = ROUTE_PERMISSIONS): ExampleRequest[] {
  const params: Record<string, string> = { app: f.app, env: f.env, id: '', name: '', flag: f.flag };
  return table.map((entry) => {
    const key = `${entry.method} ${entry.path}`;
    const id = entry.path.startsWith('/v1/deployments/')
      ? f.deploymentId
      : entry.path.startsWith('/v1/runs/')
        ? f.runId
        : entry.path.startsWith('/v1/incidents/')
          ? f.incidentId
          : entry.path.startsWith('/v1/notifications/')
            ? f.deliveryId
            : entry.path.startsWith('/v1/tokens/')
              ? f.tokenId
              : entry.path.includes('/flag-keys/')
                ? f.flagKeyId
                : entry.path.includes('/schedules/')
                  ? (f.scheduleId ?? 'fs_0000000000000000')
                  : entry.path.startsWith('/v1/flag-change-requests/')
                    ? (f.changeRequestId ?? 'cr_0000000000000000')
                    : '';
    const name = entry.path.startsWith('/v1/users/')
      ? f.user
      : entry.path.startsWith('/v1/roles/')
        ? f.role
        : entry.path.includes('/secrets/')
          ? f.secret
          : f.pipeline;
    const values: Record<string, string> = { ...params, id, name };
    let path = entry.path.replace(/:([A-Za-z0-9_]+)/g, (_m, p: string) => encodeURIComponent(values[p] ?? ''));
    const q = EXAMPLE_QUERIES[key]?.(f);
    if (q) path += `?${new URLSearchParams(q).toString()}`;
    const out: ExampleRequest = { entry, method: entry.method, path };
    if (entry.path.includes('/secrets/') && (entry.method === 'PUT' || entry.path.endsWith('/rotate'))) out.text = 'walk-secret-value-0123456789';
    else {
      const body = EXAMPLE_BODIES[key]?.(f);
      if (body !== undefined) out.body = body;
    }
    return out;
  });
}

/** For resolvers outside this file (e.g. a route the main app adds) that need the same lookups. */
export const scopeResolvers = { deployment, incident, run, pipelineByName, pipelineOfApp } satisfies Record<string, (c: Context<ApiEnv>, ctx: ScopeContext) => Promise<Resource | Resource[]>>;
