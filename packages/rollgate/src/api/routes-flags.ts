/**
 * Feature-flag routes (src/flags/). A flag's metadata is the app's; its rules are per environment.
 *
 *   GET    /v1/apps/:app/flags?archived=true                   -> FlagView[] (by name; archived ones only when asked)
 *   POST   /v1/apps/:app/flags                { name, kind?, owner?, description?, lifetimeDays? } -> FlagRecord (201)
 *   GET    /v1/apps/:app/flags/:flag                           -> FlagDetail (metadata, per-environment summary and rules)
 *   PATCH  /v1/apps/:app/flags/:flag          { kind?, owner?, description?, lifetimeDays? } -> FlagRecord
 *   POST   /v1/apps/:app/flags/:flag/archive                   -> FlagRecord (gone from every environment's delivery state)
 *   GET    /v1/apps/:app/envs/:env/flags                       -> FlagEnvState { app, env, revision, state: ClientFeatures } (ETag: the revision)
 *   PUT    /v1/apps/:app/envs/:env/flags/:flag   an Unleash Feature -> FlagStateResult
 *   POST   /v1/apps/:app/envs/:env/flags/:flag/enable|disable  -> FlagStateResult
 *   POST   /v1/apps/:app/envs/:env/flags/:flag/rollout  { percent, strategy? } -> FlagStateResult
 *   POST   /v1/apps/:app/envs/:env/flags/import  { version, features, segments? } -> ImportResult
 *   GET    /v1/apps/:app/flag-keys?env=                        -> FlagKeyRecord[] (prefixes only)
 *   POST   /v1/apps/:app/envs/:env/flag-keys  { kind, name? }  -> CreatedFlagKey (201; the key shown this once)
 *   DELETE /v1/apps/:app/envs/:env/flag-keys/:id               -> FlagKeyRecord (revoked)
 *
 * Change requests and the kill switch: routes-flag-change-requests.ts (registered from here). In an
 * environment that requires change requests, the direct changes above answer 409 naming the
 * `rollgate flags propose` command to use instead.
 *
 * Changes are audited by the service in their own transaction (flag.create, flag.set, flag.enable,
 * flag.import, flag-key.create …); failed attempts by the audit middleware. Bad rules are a 400
 * naming the path into the body ("strategies[0].constraints[1].operator") and change nothing.
 */
import type { Context, Hono } from 'hono';
import { RollgateError } from '../core/errors.js';
import { requestSource, type AuditHookOptions } from '../engine/audit-hooks.js';
import type { Who } from '../flags/changes.js';
import type { Flags } from '../flags/flags.js';
import { CreateFlagBody, CreateKeyBody, FlagListQuery, StaleQuery, KeyListQuery, MAX_IMPORT_BYTES, RolloutBody, UpdateFlagBody } from '../flags/inputs.js';
import { FLAG_KEY_ID_RE } from '../flags/keys.js';
import { FlagName } from '../flags/rules-schema.js';
import { AppName, EnvName } from './contract.js';
import { parse, readJson, type ApiEnv } from './http.js';
import { registerFlagChangeRequestRoutes } from './routes-flag-change-requests.js';

export interface FlagRouteDeps {
  flags: Flags;
  auditOptions?: AuditHookOptions | undefined;
}

function names(c: Context<ApiEnv>): { app: string; env: string; flag: string } {
  const env = c.req.param('env');
  const flag = c.req.param('flag');
  return {
    app: parse(AppName, c.req.param('app'), 'app'),
    env: env === undefined ? '' : parse(EnvName, env, 'env'),
    flag: flag === undefined ? '' : parse(FlagName, flag, 'flag name'),
  };
}

export function registerFlagRoutes(app: Hono<ApiEnv>, d: FlagRouteDeps): void {
  const who = (c: Context<ApiEnv>): Who => ({ actor: c.get('actor'), source: requestSource(c, d.auditOptions) });
  const f = d.flags;

  app.get('/v1/apps/:app/stale-flags', async (c) => {
    const q = parse(StaleQuery, c.req.query(), 'query');
    return c.json(await f.stale(names(c).app, q.days));
  });
  app.get('/v1/apps/:app/flags', async (c) => {
    const q = parse(FlagListQuery, c.req.query(), 'query');
    return c.json(await f.list(names(c).app, { archived: q.archived === 'true' }));
  });
  app.post('/v1/apps/:app/flags', async (c) => {
    const body = parse(CreateFlagBody, await readJson(c), 'body');
    return c.json(await f.create(names(c).app, body, who(c)), 201);
  });
  app.get('/v1/apps/:app/flags/:flag', async (c) => {
    const n = names(c);
    return c.json(await f.get(n.app, n.flag));
  });
  app.patch('/v1/apps/:app/flags/:flag', async (c) => {
    const n = names(c);
    return c.json(await f.update(n.app, n.flag, parse(UpdateFlagBody, await readJson(c), 'body'), who(c)));
  });
  app.post('/v1/apps/:app/flags/:flag/archive', async (c) => {
    const n = names(c);
    return c.json(await f.archive(n.app, n.flag, who(c)));
  });

  app.get('/v1/apps/:app/envs/:env/flags', async (c) => {
    const n = names(c);
    const s = await f.state(n.app, n.env);
    // The revision names this state: what the delivery endpoints will answer If-None-Match with.
    c.header('etag', `"${s.revision}"`);
    return c.json(s);
  });
  app.put('/v1/apps/:app/envs/:env/flags/:flag', async (c) => {
    const n = names(c);
    return c.json(await f.setState(n.app, n.env, n.flag, await readJson(c), who(c)));
  });
  app.post('/v1/apps/:app/envs/:env/flags/:flag/enable', async (c) => {
    const n = names(c);
    return c.json(await f.enable(n.app, n.env, n.flag, who(c)));
  });
  app.post('/v1/apps/:app/envs/:env/flags/:flag/disable', async (c) => {
    const n = names(c);
    return c.json(await f.disable(n.app, n.env, n.flag, who(c)));
  });
  app.post('/v1/apps/:app/envs/:env/flags/:flag/rollout', async (c) => {
    const n = names(c);
    return c.json(await f.rollout(n.app, n.env, n.flag, parse(RolloutBody, await readJson(c), 'body'), who(c)));
  });
  app.post('/v1/apps/:app/envs/:env/flags/import', async (c) => {
    const n = names(c);
    return c.json(await f.import(n.app, n.env, await readJson(c, MAX_IMPORT_BYTES), who(c)));
  });

  app.get('/v1/apps/:app/flag-keys', async (c) => {
    const q = parse(KeyListQuery, c.req.query(), 'query');
    return c.json(await f.keys.list(names(c).app, q.env === undefined ? undefined : parse(EnvName, q.env, 'env')));
  });
  app.post('/v1/apps/:app/envs/:env/flag-keys', async (c) => {
    const n = names(c);
    return c.json(await f.keys.create(n.app, n.env, parse(CreateKeyBody, await readJson(c), 'body'), who(c)), 201);
  });
  app.delete('/v1/apps/:app/envs/:env/flag-keys/:id', async (c) => {
    const n = names(c);
    const id = c.req.param('id');
    if (!FLAG_KEY_ID_RE.test(id)) throw new RollgateError('invalid_input', `"${id.slice(0, 40)}" is not an SDK key id (fk_ and 16 hex digits); list them with \`rollgate flags key list\``);
    return c.json(await f.keys.revoke(n.app, n.env, id, who(c)));
  });

  registerFlagChangeRequestRoutes(app, d);
}
