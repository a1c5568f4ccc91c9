/**
 * Flag change requests and the kill switch (src/flags/change-requests.ts, Flags.kill).
 *
 *   POST /v1/apps/:app/envs/:env/flags/:flag/change-requests  { action, percent?, strategy?, state?, reason, expires? } -> ChangeRequestView (201)
 *   GET  /v1/flag-change-requests?app=&env=&flag=&status=     -> ChangeRequestView[] (newest first; open ones unless status says)
 *   GET  /v1/flag-change-requests/:id                          -> ChangeRequestView
 *   POST /v1/flag-change-requests/:id/approve  { reason? }     -> ChangeRequestView (approved; the change applied with it)
 *   POST /v1/flag-change-requests/:id/reject   { reason }      -> ChangeRequestView
 *   POST /v1/flag-change-requests/:id/cancel                   -> ChangeRequestView (its proposer only)
 *   POST /v1/apps/:app/envs/:env/flags/:flag/kill  { reason? }  -> FlagStateResult (off at once, no change request)
 *
 * Approving and rejecting need `approve` in the request's environment (every environment where
 * the flag is set, for an archive); proposing and cancelling `flags.propose`; the kill switch
 * `flags.kill`. The services record their entries in the change's transaction.
 */
import type { Context, Hono } from 'hono';
import type { Resource } from '../core/authz.js';
import { RollgateError } from '../core/errors.js';
import { requestSource, type AuditHookOptions } from '../engine/audit-hooks.js';
import { ApproveBody, ChangeRequestListQuery, ProposeBody, RejectBody } from '../flags/change-request-inputs.js';
import { CHANGE_REQUEST_ID_RE } from '../flags/change-requests.js';
import type { Who } from '../flags/changes.js';
import type { Flags } from '../flags/flags.js';
import { KillBody } from '../flags/inputs.js';
import { FlagName } from '../flags/rules-schema.js';
import { envResource, type RoutePermission, type ScopeResolver } from './authz.js';
import { AppName, EnvName } from './contract.js';
import { parse, readJson, type ApiEnv } from './http.js';

const base = '/v1/apps/:app/envs/:env/flags/:flag';

/** What a request acts on: its environment, and for an archive every environment where the flag is set. */
const changeRequest: ScopeResolver = async (_c, { store, params }) => {
  const id = params.id ?? '';
  if (!CHANGE_REQUEST_ID_RE.test(id)) throw new RollgateError('invalid_input', `"${id.slice(0, 40)}" is not a change request id (cr_ and 16 hex digits); list them with \`rollgate flags requests\``);
  const r = await store.flags.changeRequests.get(id);
  if (!r) throw new RollgateError('not_found', `no change request ${id}; list them with \`rollgate flags requests\``);
  const envs = new Set([r.env]);
  if (r.action === 'archive') for (const s of await store.flags.flagStates(r.app, r.flag)) envs.add(s.env);
  return Promise.all([...envs].map((e): Promise<Resource> => envResource(store, r.app, e)));
};

const envParams = { app: { param: 'app' }, env: { param: 'env' } } as const;

export const FLAG_CHANGE_REQUEST_ROUTE_PERMISSIONS: readonly RoutePermission[] = [
  { method: 'POST', path: `${base}/change-requests`, permission: 'flags.propose', scope: envParams, note: 'a proposal changes nothing until someone else holding approve there approves it' },
  { method: 'GET', path: '/v1/flag-change-requests', permission: 'read', scope: { app: { query: 'app' }, env: { query: 'env' } } },
  { method: 'GET', path: '/v1/flag-change-requests/:id', permission: 'read', scope: changeRequest },
  { method: 'POST', path: '/v1/flag-change-requests/:id/approve', permission: 'approve', scope: changeRequest, note: 'applies the proposed change; never by its proposer (separation of duties, checked by the service)' },
  { method: 'POST', path: '/v1/flag-change-requests/:id/reject', permission: 'approve', scope: changeRequest },
  { method: 'POST', path: '/v1/flag-change-requests/:id/cancel', permission: 'flags.propose', scope: changeRequest, note: 'its proposer only (checked by the service)' },
  { method: 'POST', path: `${base}/kill`, permission: 'flags.kill', scope: envParams, note: 'the kill switch: the flag off at once, without a change request' },
];

export function registerFlagChangeRequestRoutes(app: Hono<ApiEnv>, d: { flags: Flags; auditOptions?: AuditHookOptions | undefined }): void {
  const who = (c: Context<ApiEnv>): Who => ({ actor: c.get('actor'), source: requestSource(c, d.auditOptions) });
  const names = (c: Context<ApiEnv>) => ({ app: parse(AppName, c.req.param('app'), 'app'), env: parse(EnvName, c.req.param('env'), 'env'), flag: parse(FlagName, c.req.param('flag'), 'flag name') });

  app.post(`${base}/change-requests`, async (c) => {
    const n = names(c);
    return c.json(await d.flags.changeRequests.propose(n.app, n.env, n.flag, parse(ProposeBody, await readJson(c), 'body'), who(c)), 201);
  });
  app.post(`${base}/kill`, async (c) => {
    const n = names(c);
    return c.json(await d.flags.kill(n.app, n.env, n.flag, parse(KillBody, await readJson(c), 'body'), who(c)));
  });
  app.get('/v1/flag-change-requests', async (c) => {
    const q = parse(ChangeRequestListQuery, c.req.query(), 'query');
    return c.json(
      await d.flags.changeRequests.list({
        app: q.app === undefined ? undefined : parse(AppName, q.app, 'app'),
        env: q.env === undefined ? undefined : parse(EnvName, q.env, 'env'),
        flag: q.flag === undefined ? undefined : parse(FlagName, q.flag, 'flag name'),
        status: q.status,
      }),
    );
  });
  app.get('/v1/flag-change-requests/:id', async (c) => c.json(await d.flags.changeRequests.get(c.req.param('id'))));
  app.post('/v1/flag-change-requests/:id/approve', async (c) => c.json(await d.flags.changeRequests.approve(c.req.param('id'), parse(ApproveBody, await readJson(c), 'body'), who(c))));
  app.post('/v1/flag-change-requests/:id/reject', async (c) => c.json(await d.flags.changeRequests.reject(c.req.param('id'), parse(RejectBody, await readJson(c), 'body'), who(c))));
  app.post('/v1/flag-change-requests/:id/cancel', async (c) => c.json(await d.flags.changeRequests.cancel(c.req.param('id'), who(c))));
}
