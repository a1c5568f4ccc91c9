/**
 * THE one place API authorization is decided. Every route has an entry in a table
 * (api/route-permissions.ts): the permission it needs and how to find what it touches. The
 * `authorize` middleware authenticates (bearer token, or session cookie + CSRF token on changes),
 * works out the app/environment of the request, asks core/authz `can`, and answers 401 (no or bad
 * credentials) or 403 (not allowed, naming the permission and scope needed). A route without an
 * entry cannot be served: `assertEveryRouteHasPermission` refuses to start, and the middleware
 * refuses such a request.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context, Hono, MiddlewareHandler, Next } from 'hono';
import { getCookie } from 'hono/cookie';
import { matchedRoutes } from 'hono/route';
import { canAnywhere, can, describeResource, type Permission, type Resource } from '../core/authz.js';
import { RollgateError, errorMessage } from '../core/errors.js';
import { EnvironmentSpec, NAME_RE, isProduction } from '../core/spec.js';
import { AUTH_MESSAGES, type Auth } from '../engine/auth/auth.js';
import type { Principal } from '../engine/auth/principal.js';
import { CSRF_HEADER, SESSION_COOKIE } from '../engine/auth/sessions.js';
import { parseBearer } from '../engine/auth/tokens.js';
import type { Logger } from '../engine/logger.js';
import type { RolesOf } from '../engine/pipeline/pipelines.js';
import type { Store } from '../store/types.js';
import { readJson, type ApiEnv } from './http.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** Who is calling; set by `authorize` on every route but the public ones. */
    principal: Principal;
  }
}

export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Access = Permission | 'public' | 'authenticated';

/** Where a name is found in a request. */
export type ValueSource = { param: string } | { query: string } | { body: string };

export interface ScopeContext {
  store: Store;
  principal: Principal;
  /** The route's path parameters (the middleware runs before the route, so c.req.param() cannot tell). */
  params: Record<string, string>;
  /** The JSON body, decoded once (api/http.ts readJson) and shared with the handler; undefined for raw routes. */
  body(): Promise<unknown>;
}

/** Works out what a request touches, e.g. by loading the deployment named in the path. All must be allowed. */
export type ScopeResolver = (c: Context<ApiEnv>, ctx: ScopeContext) => Promise<Resource | Resource[]>;

export interface ScopeFields {
  app?: ValueSource;
  env?: ValueSource;
  /** The action touches no environment (e.g. uploading a release). */
  envless?: boolean;
}

export interface RoutePermission {
  method: RouteMethod;
  /** Hono path syntax, exactly as registered. */
  path: string;
  permission: Access;
  /** Without it the request touches every app and environment (only unlimited grants apply). */
  scope?: ScopeFields | ScopeResolver;
  /** Why a route is public, or anything else a reader must know. */
  note?: string;
  /** The most a body read for the scope may hold (default 1 MiB); the route's own limit still applies. */
  maxBodyBytes?: number;
  /** `raw`: the route reads its body itself (an archive, a secret value, a signed webhook); nothing may take scope from it. */
  body?: 'raw';
}

export interface DeniedAttempt {
  status: 401 | 403;
  method: string;
  path: string;
  /** The route pattern, e.g. /v1/deployments/:id/promote. */
  route: string;
  message: string;
  actor: string | null;
  permission: Access | null;
  resources: Resource[];
  address: string | null;
}

export interface AuthorizeDeps {
  auth: Auth;
  store: Store;
  /** Take the client address from X-Forwarded-For / the scheme from X-Forwarded-Proto (behind a trusted proxy only). */
  trustProxy?: boolean;
  /** A change by a known principal that failed while its scope was worked out (e.g. no such object): audit it. */
  onFailedBeforeHandler?: (c: Context<ApiEnv>, route: string, error: RollgateError) => Promise<void>;
  /** Called for every refused request (audit it); errors it throws are logged, not answered. */
  onDenied?: (c: Context<ApiEnv>, d: DeniedAttempt) => Promise<void> | void;
  log?: Logger;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const AUTHORIZE = Symbol('rollgate.authorize');

const requestPrincipal = new AsyncLocalStorage<Principal>();

/** The principal of the request being served (for code below the API that only gets an actor string). */
export function currentPrincipal(): Principal | undefined {
  return requestPrincipal.getStore();
}

/** RolesOf for the pipeline engine: the roles in force for `actor` in the current request. */
export const rolesOfRequest: RolesOf = (actor) => {
  const p = requestPrincipal.getStore();
  return p && p.actor === actor ? [...p.roleNames] : [];
};

const routeKey = (method: string, path: string) => `${method} ${path}`;

/** The client's address: the socket's, or with trustProxy the first X-Forwarded-For entry. */
export function clientAddress(c: Context, trustProxy = false): string | null {
  if (trustProxy) {
    const fwd = c.req.header('x-forwarded-for')?.split(',')[0]?.trim();
    if (fwd) return fwd.slice(0, 64);
  }
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? null;
}

/** Whether the request came over https (with trustProxy, as the proxy says). */
export function isHttps(c: Context, trustProxy = false): boolean {
  if (trustProxy && c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https') return true;
  return new URL(c.req.url).protocol === 'https:';
}

/** Whether an environment counts as production: its `production` flag, else its name. Unknown: yes (fail closed). */
export async function environmentIsProduction(store: Store, env: string): Promise<boolean> {
  const rec = await store.getEnvironment(env);
  if (!rec) return true;
  const spec = EnvironmentSpec.safeParse(rec.spec);
  return spec.success ? isProduction(env, spec.data) : true;
}

/** A resource for one environment, with its production flag looked up. */
export async function envResource(store: Store, app: string | undefined, env: string): Promise<Resource> {
  return { app, env, production: await environmentIsProduction(store, env) };
}

/** Path parameters of `pattern` (Hono syntax: `:name`, `:name{re}`, `:name?`) in `path`. */
export function routeParams(pattern: string, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const ps = pattern.split('/');
  const vs = path.split('/');
  ps.forEach((seg, i) => {
    const m = /^:([A-Za-z0-9_]+)/.exec(seg);
    const v = vs[i];
    if (m && v !== undefined && v !== '') {
      try {
        out[m[1]!] = decodeURIComponent(v);
      } catch {
        out[m[1]!] = v;
      }
    }
  });
  return out;
}

/** The route Hono will answer the request with (the first matched that is not a middleware). */
function handlerRoute(c: Context): { method: string; path: string } | null {
  for (const r of matchedRoutes(c)) if (r.method !== 'ALL') return { method: r.method, path: r.path };
  return null;
}

function nameFrom(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !NAME_RE.test(v)) throw new RollgateError('invalid_input', `invalid ${where}: names are lower-case letters, digits and dashes, starting with a letter`);
  return v;
}

async function valueOf(src: ValueSource, c: Context, ctx: ScopeContext): Promise<string | undefined> {
  if ('param' in src) return nameFrom(ctx.params[src.param], src.param);
  if ('query' in src) return nameFrom(c.req.query(src.query), `query ${src.query}`);
  const body = await ctx.body();
  const v = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>)[src.body] : undefined;
  return nameFrom(v, `body ${src.body}`);
}

async function resolveScope(entry: RoutePermission, c: Context<ApiEnv>, ctx: ScopeContext): Promise<Resource[]> {
  const s = entry.scope;
  if (s === undefined) return [{}];
  if (typeof s === 'function') {
    const r = await s(c, ctx);
    return Array.isArray(r) ? (r.length ? r : [{}]) : [r];
  }
  const app = s.app ? await valueOf(s.app, c, ctx) : undefined;
  const env = s.env ? await valueOf(s.env, c, ctx) : undefined;
  if (env !== undefined) return [await envResource(ctx.store, app, env)];
  return [{ app, ...(s.envless ? { envless: true } : {}) }];
}

/** The middleware. Register it first: `app.use('*', authorize(ROUTE_PERMISSIONS, deps))`. */
export function authorize(table: readonly RoutePermission[], deps: AuthorizeDeps): MiddlewareHandler<ApiEnv> {
  const index = new Map(table.map((e) => [routeKey(e.method, e.path), e]));
  const mw = async (c: Context<ApiEnv>, next: Next) => {
    const route = handlerRoute(c);
    if (!route) return next(); // no such route: the 404 handler answers
    const entry = index.get(routeKey(route.method, route.path));
    let principal: Principal | null = null;
    const deny = async (status: 401 | 403, message: string, resources: Resource[] = []): Promise<never> => {
      const d: DeniedAttempt = {
        status,
        method: c.req.method,
        path: c.req.path.slice(0, 300),
        route: route.path,
        message,
        actor: principal?.actor ?? null,
        permission: entry?.permission ?? null,
        resources,
        address: clientAddress(c, deps.trustProxy),
      };
      try {
        await deps.onDenied?.(c, d);
      } catch (e) {
        deps.log?.error('could not record a refused request', { error: errorMessage(e), route: route.path });
      }
      throw new RollgateError(status === 401 ? 'unauthorized' : 'forbidden', message);
    };
    if (!entry) {
      deps.log?.error('route without a permission entry refused', { method: route.method, route: route.path });
      return deny(403, `${route.method} ${route.path} has no declared permission, so nobody may call it; this is a server bug: report it`);
    }
    if (entry.permission === 'public') return next();

    try {
      principal = await authenticate(c, deps.auth);
    } catch (e) {
      if (e instanceof RollgateError && (e.code === 'unauthorized' || e.code === 'forbidden')) return deny(e.code === 'unauthorized' ? 401 : 403, e.message);
      throw e;
    }
    const p = principal;
    c.set('actor', p.actor);
    c.set('principal', p);

    if (entry.permission !== 'authenticated') {
      const perm = entry.permission;
      const refuse = (rs: Resource[]) => deny(403, `${p.actor} may not ${perm} on ${rs.map(describeResource).join('; ')}; ask an admin for a role that grants "${perm}" there`, rs);
      const ctx: ScopeContext = {
        store: deps.store,
        principal: p,
        params: routeParams(route.path, c.req.path),
        // The same decoded value the handler gets (readJson decodes once per request).
        body: () => (entry.body === 'raw' ? Promise.resolve(undefined) : readJson(c, entry.maxBodyBytes)),
      };
      // No grant has the permission at all: refuse before any lookup by id (no existence to reveal).
      if (!canAnywhere(p.roles, perm)) {
        const named = typeof entry.scope === 'function' ? [{}] : await resolveScope(entry, c, ctx).catch(() => [{}]);
        await refuse(named);
      }
      let resources: Resource[];
      try {
        resources = await resolveScope(entry, c, ctx);
      } catch (e) {
        // A change that fails before its handler (no such object, bad id) is still an attempt on the record.
        if (!SAFE_METHODS.has(c.req.method) && e instanceof RollgateError) await deps.onFailedBeforeHandler?.(c, route.path, e);
        throw e;
      }
      const refused = resources.filter((r) => !can(p.roles, perm, r));
      if (refused.length) await refuse(refused);
    }
    return requestPrincipal.run(p, () => next());
  };
  return Object.assign(mw, { [AUTHORIZE]: true });
}

/** Bearer token first (explicit); else the session cookie, with its CSRF token on anything but a read. */
async function authenticate(c: Context, auth: Auth): Promise<Principal> {
  const bearer = parseBearer(c.req.header('authorization'));
  if (bearer.kind === 'malformed') throw new RollgateError('unauthorized', AUTH_MESSAGES.malformed);
  if (bearer.kind === 'token') return auth.authenticateToken(bearer.token);
  const cookie = getCookie(c, SESSION_COOKIE);
  if (cookie === undefined) throw new RollgateError('unauthorized', AUTH_MESSAGES.missing);
  const p = await auth.authenticateSession(cookie);
  if (!SAFE_METHODS.has(c.req.method)) auth.checkCsrf(p, c.req.header(CSRF_HEADER));
  return p;
}

/**
 * Throws at startup unless every registered route has an entry in `table` and comes after the
 * authorize middleware; handlers registered for every method (app.all) are refused outright.
 */
export function assertEveryRouteHasPermission(app: Hono<ApiEnv>, table: readonly RoutePermission[]): void {
  const index = new Set(table.map((e) => routeKey(e.method, e.path)));
  const problems: string[] = [];
  for (const e of table) {
    const s = e.scope;
    if (e.body === 'raw' && s && typeof s !== 'function' && [s.app, s.env].some((v) => v !== undefined && 'body' in v)) {
      problems.push(`${e.method} ${e.path} takes a raw body, so its scope cannot come from the body`);
    }
  }
  const mw = app.routes.findIndex((r) => (r.handler as unknown as Record<symbol, unknown>)[AUTHORIZE] === true);
  if (mw === -1) problems.push('the authorize middleware is not registered (app.use("*", authorize(...)))');
  app.routes.forEach((r, i) => {
    if (r.method === 'ALL') {
      if (!r.path.endsWith('*')) problems.push(`ALL ${r.path}: a handler for every method cannot be given one permission; register each method`);
      return;
    }
    if (!index.has(routeKey(r.method, r.path))) problems.push(`${r.method} ${r.path} has no entry in the route permission table`);
    if (mw !== -1 && i < mw) problems.push(`${r.method} ${r.path} is registered before the authorize middleware`);
  });
  if (problems.length) throw new Error(`API authorization incomplete:\n  ${[...new Set(problems)].join('\n  ')}`);
}

/** Table entries no registered route uses (stale entries, or parts not wired in this app). */
export function unusedPermissionEntries(app: Hono<ApiEnv>, table: readonly RoutePermission[]): RoutePermission[] {
  const registered = new Set(app.routes.map((r) => routeKey(r.method, r.path)));
  return table.filter((e) => !registered.has(routeKey(e.method, e.path)));
}
