/**
 * Every change asked through the API goes on the audit trail here, once: who (the principal the
 * authorization set), what (the route), which object (the path), from where (client address and
 * user agent), the outcome, the object's state before (for routes that name one) and what the
 * change answered. Routes that record richer entries themselves (users, tokens, roles, login,
 * secrets, flags: their entry is written in the change's own transaction) are skipped when they succeed, and recorded here when they fail; refused requests are
 * recorded by the authorization's onDenied.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { RollgateError, errorMessage } from '../core/errors.js';
import { isAuditAction, type AuditTrail } from '../engine/audit.js';
import { auditRequest } from '../engine/audit-hooks.js';
import type { Logger } from '../engine/logger.js';
import type { Store } from '../store/types.js';
import type { ApiEnv } from './http.js';
import { matchedRoutes } from 'hono/route';
import { routeParams } from './authz.js';
import { isDeliveryPath } from './routes-delivery.js';

const SELF_AUDITED = [/^\/v1\/auth\//, /^\/v1\/users(\/|$)/, /^\/v1\/tokens(\/|$)/, /^\/v1\/roles(\/|$)/, /\/secrets(\/|$)/, /\/flags(\/|$)/, /\/flag-keys(\/|$)/, /^\/v1\/flag-change-requests(\/|$)/];
const SUMMARY_KEYS = ['id', 'app', 'env', 'version', 'status', 'kind', 'pipeline', 'releaseVersion', 'deliveryId', 'apps', 'environments', 'pipelines', 'stopped', 'opened', 'resolved'];
const MAX_SUMMARY_BYTES = 4096;

/** Routes that are a verb alone, and the noun they act on. */
const VERB_ROUTES: Record<string, string> = { rollback: 'deployments.rollback', retry: 'deployments.retry' };

/** `/v1/deployments/:id/promote` -> `deployments.promote`; `POST /v1/deployments` -> `deployments.create`. */
export function actionOf(method: string, route: string): string {
  const parts = route
    .replace(/^\/v1\//, '')
    .replace(/^\/hooks\//, 'hooks/')
    .split('/')
    .filter((p) => p && !p.startsWith(':'));
  const base = VERB_ROUTES[parts.join('.')] ?? parts.join('.');
  if (method === 'POST' && !/(promote|pause|resume|abort|fail|approve|reject|cancel|retry|resend|resolve|inject|kill|stop|rotate|rollback|unlock|prune)$/.test(base)) return `${base}.create`;
  if (method === 'PUT') return `${base}.set`;
  if (method === 'PATCH') return `${base}.update`;
  if (method === 'DELETE') return `${base}.delete`;
  return base;
}

function summary(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return { items: v.length };
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of SUMMARY_KEYS) if (k in o) out[k] = o[k];
  if ('error' in o && o.error && typeof o.error === 'object') out.error = { code: (o.error as { code?: unknown }).code };
  const text = JSON.stringify(out);
  return text.length > MAX_SUMMARY_BYTES ? { truncated: true, bytes: text.length } : out;
}

/** The state of the object a route names, before the change (only for routes naming a stored object). */
async function before(store: Store, route: string, id: string | undefined): Promise<unknown> {
  if (!id) return undefined;
  if (route.startsWith('/v1/deployments/:id')) {
    const d = await store.getDeployment(id).catch(() => null);
    return d ? { status: d.status, version: d.version, step: d.state.stepIndex, app: d.app, env: d.env } : undefined;
  }
  if (route.startsWith('/v1/runs/:id')) {
    const r = await store.getRun(id).catch(() => null);
    return r ? { status: r.status, pipeline: r.pipeline, releaseVersion: r.releaseVersion } : undefined;
  }
  if (route.startsWith('/v1/incidents/:id')) {
    const i = await store.getIncident(id).catch(() => null);
    return i ? { status: i.status, app: i.app, env: i.env } : undefined;
  }
  return undefined;
}

const isMutation = (method: string) => method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
const selfAudited = (path: string) => SELF_AUDITED.some((re) => re.test(path));

/** Throws at startup unless every mutating route this middleware records has an action the trail accepts. */
export function assertEveryMutationAuditable(routes: readonly { method: string; path: string }[]): void {
  const bad = routes.filter((r) => r.method !== 'ALL' && isMutation(r.method) && !isDeliveryPath(r.path) && !isAuditAction(actionOf(r.method, r.path)));
  if (bad.length) throw new Error(`API audit incomplete: no valid audit action for ${bad.map((r) => `${r.method} ${r.path} (${actionOf(r.method, r.path)})`).join(', ')}`);
}

export function auditMutations(deps: { audit: AuditTrail; store: Store; log: Logger; trustProxy?: boolean | undefined }): MiddlewareHandler<ApiEnv> {
  return async (c: Context<ApiEnv>, next) => {
    const method = c.req.method;
    // Logins are recorded (and aggregated) by their route, whatever the outcome.
    if (!isMutation(method) || c.req.path === '/v1/auth/login') return next();
    // SDKs reading flags (and reporting their use) are the flags' normal traffic, not changes by anyone.
    if (isDeliveryPath(c.req.path)) return next();
    // Routes that record their own richer entry on success still get a generic one when they fail.
    const self = selfAudited(c.req.path);
    const matched = matchedRoutes(c).find((r) => r.method !== 'ALL');
    if (!matched) return next();
    const route = matched.path;
    const act = actionOf(method, route);
    // A change that could not be recorded must not happen (startup checks this too).
    if (!isAuditAction(act)) throw new RollgateError('internal', `${method} ${route} has no valid audit action ("${act}"), so it is refused; this is a server bug: report it`);
    const prior = await before(deps.store, route, routeParams(route, c.req.path).id);
    let thrown: unknown = null;
    try {
      await next();
    } catch (e) {
      thrown = e;
    }
    const status = thrown ? 500 : c.res.status;
    // Refused requests are already on the trail (authorization's onDenied).
    if (status === 401 || status === 403 || (self && status < 400)) {
      if (thrown) throw thrown;
      return;
    }
    let answer: unknown;
    if (!thrown && (c.res.headers.get('content-type') ?? '').includes('application/json')) {
      answer = await c.res
        .clone()
        .json()
        .catch(() => undefined);
    }
    const outcome = status < 400 ? 'ok' : 'failed';
    try {
      await auditRequest(deps.audit, c, { action: act, target: c.req.path, outcome, before: prior, after: { status, ...(answer === undefined ? {} : { answer: summary(answer) }) } }, { trustProxy: deps.trustProxy });
    } catch (e) {
      // The change happened; its record did not: say so loudly, to the caller too, never silently.
      deps.log.error('audit entry not recorded', { route, method, error: errorMessage(e) });
      if (!thrown) throw new RollgateError('internal', `${method} ${c.req.path} was carried out but its audit entry could not be recorded (${errorMessage(e)}); check the server log and the database`);
    }
    if (thrown) throw thrown;
  };
}
