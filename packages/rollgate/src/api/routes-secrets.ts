/**
 * Secret routes. A value travels in the request body only (raw bytes, never JSON, never a URL
 * or header), is size-limited before it is read, and is never in an answer or an error.
 *
 *   PUT    /v1/apps/:app/envs/:env/secrets/:name          body: the value    -> SecretSetResult (201 created, 200 new version or unchanged)
 *   POST   /v1/apps/:app/envs/:env/secrets/:name/rotate   body: new value    -> SecretRotateResult
 *   DELETE /v1/apps/:app/envs/:env/secrets/:name                             -> SecretRemoveResult
 *   GET    /v1/apps/:app/secrets?env=                                        -> SecretVersionMeta[] (names, versions, times)
 *
 * Bodies are `application/octet-stream` or `text/plain` (UTF-8, at most 64 KiB). With an audit
 * trail, every change (and every refused or failed attempt) is recorded: target, versions, who,
 * from where; never a value.
 */
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { RollgateError } from '../core/errors.js';
import type { AuditTrail } from '../engine/audit.js';
import { audited, type AuditHookOptions } from '../engine/audit-hooks.js';
import { MAX_SECRET_BYTES, type Secrets } from '../engine/secrets/secrets.js';
import { AppName, EnvName } from './contract.js';
import { parse, type ApiEnv } from './http.js';

export interface SecretRouteDeps {
  secrets: Secrets;
  /** Records set, rotate and remove (outcome ok, failed or denied). */
  audit?: AuditTrail | undefined;
  auditOptions?: AuditHookOptions | undefined;
}

/** Every route of this file with the action it performs (for the authorization table). */
export const SECRET_ROUTES = [
  { method: 'PUT', path: '/v1/apps/:app/envs/:env/secrets/:name', action: 'secret.set' },
  { method: 'POST', path: '/v1/apps/:app/envs/:env/secrets/:name/rotate', action: 'secret.rotate' },
  { method: 'DELETE', path: '/v1/apps/:app/envs/:env/secrets/:name', action: 'secret.remove' },
  { method: 'GET', path: '/v1/apps/:app/secrets', action: 'secret.list' },
] as const;

export const SecretsListQuery = z.object({ env: EnvName.optional() }).strict();

const VALUE_TYPES = new Set(['application/octet-stream', 'text/plain']);

function target(c: Context<ApiEnv>): { app: string; env: string; name: string } {
  return { app: parse(AppName, c.req.param('app'), 'app'), env: parse(EnvName, c.req.param('env'), 'env'), name: c.req.param('name') ?? '' };
}

/** The raw body; JSON and forms are refused so a value is never sent (or logged) as a structure. */
async function readValue(c: Context<ApiEnv>): Promise<Uint8Array> {
  const type = (c.req.header('content-type') ?? 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
  if (!VALUE_TYPES.has(type)) {
    throw new RollgateError('invalid_input', `send the secret value as the raw request body with Content-Type application/octet-stream or text/plain (got ${type.slice(0, 100)})`);
  }
  return new Uint8Array(await c.req.arrayBuffer());
}

export function registerSecretRoutes(app: Hono<ApiEnv>, d: SecretRouteDeps): void {
  const record = <T>(c: Context<ApiEnv>, action: string, t: { app: string; env: string; name: string }, after: (r: T) => unknown, run: () => Promise<T>): Promise<T> =>
    d.audit ? audited(d.audit, c, { action, target: `secret/${t.app}/${t.env}/${t.name}`, after }, run, d.auditOptions) : run();

  const valueLimit = bodyLimit({
    maxSize: MAX_SECRET_BYTES,
    onError: () => {
      throw new RollgateError('payload_too_large', `a secret value is at most ${MAX_SECRET_BYTES} bytes (64 KiB)`);
    },
  });

  app.put('/v1/apps/:app/envs/:env/secrets/:name', valueLimit, async (c) => {
    const t = target(c);
    const r = await record(c, 'secret.set', t, (x) => ({ version: x.version, created: x.created, changed: x.changed }), async () => d.secrets.set(t.app, t.env, t.name, await readValue(c), c.get('actor')));
    return c.json(r, r.created ? 201 : 200);
  });

  app.post('/v1/apps/:app/envs/:env/secrets/:name/rotate', valueLimit, async (c) => {
    const t = target(c);
    return c.json(await record(c, 'secret.rotate', t, (x) => ({ version: x.version, previousVersion: x.previousVersion }), async () => d.secrets.rotate(t.app, t.env, t.name, await readValue(c), c.get('actor'))));
  });

  app.delete('/v1/apps/:app/envs/:env/secrets/:name', async (c) => {
    const t = target(c);
    return c.json(await record(c, 'secret.remove', t, (x) => ({ versions: x.versions }), () => d.secrets.rm(t.app, t.env, t.name, c.get('actor'))));
  });

  app.get('/v1/apps/:app/secrets', async (c) => {
    const appName = parse(AppName, c.req.param('app'), 'app');
    const q = parse(SecretsListQuery, c.req.query(), 'query');
    return c.json(await d.secrets.list(appName, q.env));
  });
}
