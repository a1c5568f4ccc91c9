/**
 * Every change asked through the API goes on the audit trail here, once: who (the principal the
 * authorization set), what (the route), which object (the path), from where (client address and
 * user agent), the outcome, the object's state before (for routes that name one) and what the
 * change answered. Routes that record richer entries themselves (users, tokens, roles, login,
 * secrets) are skipped; refused requests are recorded by the authorization's onDenied.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { errorMessage } from '../core/errors.js';
import type { AuditTrail } from '../engine/audit.js';
import { auditRequest } from '../engine/audit-hooks.js';
import type { Logger } from '../engine/logger.js';
import type { Store } from '../store/types.js';
import type { ApiEnv } from './http.js';
import { matchedRoutes } from 'hono/route';
import { routeParams } from './authz.js';

const SELF_AUDITED = [/^\/v1\/auth\//, /^\/v1\/users(\/|$)/, /^\/v1\/tokens(\/|$)/, /^\/v1\/roles(\/|$)/, /\/secrets(\/|$)/];
const SUMMARY_KEYS = ['id', 'app', 'env', 'version', 'status', 'kind', 'pipeline', 'releaseVersion', 'deliveryId', 'apps', 'environments', 'pipelines', 'stopped', 'opened', 'resolved'];
const MAX_SUMMARY_BYTES = 4096;

/** `/v1/deployments/:id/promote` -> `deployments.promote`; `POST /v1/deployments` -> `deployments.create`. */
export function actionOf(method: string, route: string): string {
  const parts = route
    .replace(/^\/v1\//, '')
    .replace(/^\/hooks\//, 'hooks/')
    .split('/')
    .filter((p) => p && !p.startsWith(':'));
  const base = parts.join('.');
  if (method === 'POST' && !/(promote|pause|resume|abort|fail|approve|reject|cancel|retry|resend|resolve|inject|kill|stop|rotate|rollback)$/.test(base)) return `${base}.create`;
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

export function auditMutations(deps: { audit: AuditTrail; store: Store; log: Logger; trustProxy?: boolean | undefined }): MiddlewareHandler<ApiEnv> {
  return async (c: Context<ApiEnv>, next) => {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || SELF_AUDITED.some((re) => re.test(c.req.path))) return next();
    const matched = matchedRoutes(c).find((r) => r.method !== 'ALL');
    if (!matched) return next();
    const route = matched.path;
    const prior = await before(deps.store, route, routeParams(route, c.req.path).id);
    let thrown: unknown = null;
    try {
      await next();
    } catch (e) {
      thrown = e;
    }
    const status = thrown ? 500 : c.res.status;
    // Refused requests are already on the trail (authorization's onDenied).
    if (status === 401 || status === 403) {
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
      await auditRequest(deps.audit, c, { action: actionOf(method, route), target: c.req.path, outcome, before: prior, after: { status, ...(answer === undefined ? {} : { answer: summary(answer) }) } }, { trustProxy: deps.trustProxy });
    } catch (e) {
      // The change happened; its record did not: say so loudly where operators look.
      deps.log.error('audit entry not recorded', { route, method, error: errorMessage(e) });
    }
    if (thrown) throw thrown;
  };
}
