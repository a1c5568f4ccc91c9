/**
 * The secret routes over real HTTP, on a Hono app with the same error handling and actor as the
 * API app, over a real SQLite store. Every answer is kept and searched for the values at the end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { isRollgateError } from '../core/errors.js';
import { AuditTrail } from '../engine/audit.js';
import { Secrets } from '../engine/secrets/secrets.js';
import { openStore, type Store } from '../store/index.js';
import type { ApiEnv } from './http.js';
import { registerSecretRoutes } from './routes-secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'rollgate-secret-routes-'));
let store: Store;
let trail: AuditTrail;
let server: ServerType;
let base: string;
const answers: string[] = [];
const values: string[] = [];

function value(prefix: string): string {
  const v = `${prefix}-${randomBytes(8).toString('hex')}`;
  values.push(v);
  return v;
}

async function call(method: string, path: string, body?: string | Uint8Array, type = 'application/octet-stream'): Promise<{ status: number; json: Record<string, unknown> & { error?: { code: string; message: string } } }> {
  const res = await fetch(`${base}${path}`, { method, ...(body === undefined ? {} : { body, headers: { 'content-type': type } }) });
  const text = await res.text();
  answers.push(text);
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
}

before(async () => {
  store = await openStore({ dataDir: dir });
  await store.upsertApp('shop', { run: 'node server.js' });
  await store.upsertEnvironment('staging', { listen: 18_091 });
  await store.upsertEnvironment('production', { listen: 18_092 });
  const app = new Hono<ApiEnv>();
  app.onError((err, c) => (isRollgateError(err) ? c.json(err.toJSON(), err.status as 400) : c.json({ error: { code: 'internal', message: 'internal error' } }, 500)));
  app.use('/v1/*', async (c, next) => {
    c.set('actor', 'user:ana');
    await next();
  });
  trail = new AuditTrail(store, randomBytes(32));
  registerSecretRoutes(app, { secrets: new Secrets({ store, masterKey: randomBytes(32) }), audit: trail });
  server = await new Promise<ServerType>((ok) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => ok(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  // Whatever happened above: no answer carried a value.
  for (const v of values) for (const a of answers) assert.ok(!a.includes(v), `an answer carries a secret value: ${a}`);
});

describe('secret routes', () => {
  test('set: 201 when created, 200 for a new version or the same value; answers carry names and versions only', async () => {
    const path = '/v1/apps/shop/envs/production/secrets/DB_PASSWORD';
    const v1 = value('one');
    const a = await call('PUT', path, v1);
    assert.equal(a.status, 201);
    assert.deepEqual(Object.keys(a.json).sort(), ['app', 'changed', 'created', 'createdAt', 'createdBy', 'env', 'name', 'version']);
    assert.deepEqual([a.json.version, a.json.createdBy, a.json.created], [1, 'user:ana', true]);
    const same = await call('PUT', path, Buffer.from(v1), 'text/plain; charset=utf-8');
    assert.deepEqual([same.status, same.json.version, same.json.changed], [200, 1, false]);
    const b = await call('PUT', path, value('two'));
    assert.deepEqual([b.status, b.json.version, b.json.created], [200, 2, false]);
  });

  test('list: names, versions and times, filtered by environment', async () => {
    await call('PUT', '/v1/apps/shop/envs/staging/secrets/API_KEY', value('staging-key'));
    const all = await call('GET', '/v1/apps/shop/secrets');
    const rows = all.json as unknown as { env: string; name: string; version: number }[];
    assert.ok(rows.some((r) => r.env === 'staging' && r.name === 'API_KEY' && r.version === 1));
    assert.ok(rows.some((r) => r.env === 'production' && r.name === 'DB_PASSWORD'));
    const staging = (await call('GET', '/v1/apps/shop/secrets?env=staging')).json as unknown as { env: string }[];
    assert.ok(staging.length > 0 && staging.every((r) => r.env === 'staging'));
    assert.equal((await call('GET', '/v1/apps/shop/secrets?env=Nope!')).status, 400);
    assert.equal((await call('GET', '/v1/apps/nope/secrets')).status, 404);
  });

  test('rotate and remove', async () => {
    const path = '/v1/apps/shop/envs/staging/secrets/ROTATED';
    const v = value('rot');
    await call('PUT', path, v);
    const r = await call('POST', `${path}/rotate`, value('rot2'));
    assert.equal(r.status, 200);
    assert.deepEqual([r.json.version, r.json.previousVersion], [2, 1]);
    const again = await call('POST', `${path}/rotate`, values[values.length - 1]);
    assert.equal(again.status, 409);
    assert.equal((await call('POST', '/v1/apps/shop/envs/staging/secrets/MISSING/rotate', value('x'))).status, 404);
    const rm = await call('DELETE', path);
    assert.deepEqual([rm.status, rm.json.versions], [200, [1, 2]]);
    const rm2 = await call('DELETE', path);
    assert.equal(rm2.status, 404);
    assert.match(rm2.json.error!.message, /no secret ROTATED in staging/);
  });

  test('bad input: the status says what, the message never quotes the value', async () => {
    const path = '/v1/apps/shop/envs/staging/secrets/BAD';
    const json = await call('PUT', path, JSON.stringify({ value: value('json') }), 'application/json');
    assert.equal(json.status, 400);
    assert.match(json.json.error!.message, /raw request body with Content-Type application\/octet-stream or text\/plain/);
    assert.equal((await call('PUT', path, `v=${value('form')}`, 'application/x-www-form-urlencoded')).status, 400);
    const short = await call('PUT', path, 'k3y-7zq');
    assert.equal(short.status, 400);
    assert.ok(!short.json.error!.message.includes('k3y-7zq'));
    const big = await call('PUT', path, Buffer.alloc(64 * 1024 + 1, 0x61));
    assert.deepEqual([big.status, big.json.error?.code], [413, 'payload_too_large']);
    const max = await call('PUT', path, Buffer.alloc(64 * 1024, 0x62));
    assert.equal(max.status, 201, 'exactly 64 KiB is accepted');
    assert.equal((await call('PUT', '/v1/apps/shop/envs/staging/secrets/lower-case', value('n'))).status, 400);
    assert.equal((await call('PUT', '/v1/apps/shop/envs/staging/secrets/ROLLGATE_X', value('n'))).status, 400);
    assert.equal((await call('PUT', '/v1/apps/Bad_App/envs/staging/secrets/X_KEY', value('n'))).status, 400);
    const unknown = await call('PUT', '/v1/apps/nope/envs/staging/secrets/X_KEY', value('n'));
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.error!.message, /unknown app "nope"/);
    assert.equal((await call('PUT', '/v1/apps/shop/envs/nope/secrets/X_KEY', value('n'))).status, 404);
    const bin = await call('PUT', path, Buffer.from([0xff, 0xfe, 0xfd, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46]));
    assert.equal(bin.status, 400);
    assert.match(bin.json.error!.message, /not valid UTF-8/);
  });
});

test('the audit trail records every change and every refused attempt, never a value', async () => {
  const entries = await trail.list({ limit: 1000 });
  const text = JSON.stringify(entries);
  for (const v of values) assert.ok(!text.includes(v), 'the audit trail holds a secret value');
  const seen = (action: string, target: string, outcome: string) => entries.some((e) => e.action === action && e.target === target && e.outcome === outcome);
  assert.ok(seen('secret.set', 'secret/shop/production/DB_PASSWORD', 'ok'));
  assert.ok(seen('secret.rotate', 'secret/shop/staging/ROTATED', 'ok'));
  assert.ok(seen('secret.rotate', 'secret/shop/staging/ROTATED', 'failed'), 'the refused same-value rotation');
  assert.ok(seen('secret.remove', 'secret/shop/staging/ROTATED', 'ok'));
  assert.ok(seen('secret.set', 'secret/shop/staging/BAD', 'failed'), 'the refused bad values');
  const rot = entries.find((e) => e.action === 'secret.rotate' && e.outcome === 'ok');
  assert.equal(rot?.actor, 'user:ana');
  assert.ok((await trail.verify()).ok);
});
