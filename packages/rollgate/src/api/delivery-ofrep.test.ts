/**
 * OFREP against the real server (agent process, SQLite): the real OpenFeature server SDK with
 * the OFREP provider (boolean, string, number and object flags, FLAG_NOT_FOUND, a bad key),
 * the web SDK with the OFREP web provider in Node seeing a change through the event stream, and
 * raw HTTP for the error codes, ETags and 304s, and the stream's refetch events.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { OpenFeature as ServerFeatures } from '@openfeature/server-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { OpenFeature as WebFeatures } from '@openfeature/web-sdk';
// The SSE client unleash-client uses: Node 20 has no global EventSource, which the web provider needs.
import { EventSource as NodeEventSource } from 'unleash-client/lib/event-source.js';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';
import { until } from '../test/split-platform.js';
import { SseConnection, sdkKey } from '../test/delivery-kit.js';

interface Evaluated {
  key?: string;
  value?: unknown;
  variant?: string;
  reason?: string;
  errorCode?: string;
  errorDetails?: string;
  metadata?: Record<string, unknown>;
}

const variantState = (name: string, payload: { type: string; value: string }) => ({ enabled: true, strategies: [{ name: 'default', constraints: [] }], variants: [{ name, weight: 1000, weightType: 'variable', stickiness: 'default', payload }] });

describe('OFREP on SQLite', () => {
  let p: FlagsPlatform;
  let server: { id: string; key: string };
  let client: { id: string; key: string };

  before(async () => {
    p = await startFlagsPlatform();
    const flag = async (name: string, state: unknown) => {
      await p.admin.request('POST', '/v1/apps/shop/flags', { body: { name, kind: 'release' } });
      await p.admin.request('PUT', `/v1/apps/shop/envs/staging/flags/${name}`, { body: state });
    };
    await flag('dark-mode', { enabled: true, strategies: [{ name: 'default', constraints: [] }] });
    await flag('theme', variantState('blue', { type: 'string', value: 'navy' }));
    await flag('limit', variantState('high', { type: 'number', value: '42.5' }));
    await flag('layout', variantState('grid', { type: 'json', value: '{"columns":3,"dense":true}' }));
    await flag('beta-users', { enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'u1,u2' }, constraints: [] }] });
    await flag('off', { enabled: false, strategies: [] });
    server = await sdkKey(p.admin, 'shop', 'staging', 'server');
    client = await sdkKey(p.admin, 'shop', 'staging', 'client');
  });
  after(async () => {
    await ServerFeatures.close();
    await WebFeatures.close();
    await p?.stop();
  });

  const ofrep = (path: string, key: string | null, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${p.server.url}/ofrep/v1/evaluate/flags${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  test('the OpenFeature server SDK with the OFREP provider: boolean, string, number and object flags; FLAG_NOT_FOUND; a bad key gives defaults', async () => {
    await ServerFeatures.setProviderAndWait('rollgate', new OFREPProvider({ baseUrl: p.server.url, headers: { Authorization: server.key } }));
    const c = ServerFeatures.getClient('rollgate');
    const ctx = { targetingKey: 'u1', plan: 'pro' };
    const b = await c.getBooleanDetails('dark-mode', false, ctx);
    assert.deepEqual([b.value, b.reason, b.errorCode], [true, 'STATIC', undefined]);
    const s = await c.getStringDetails('theme', 'default', ctx);
    assert.deepEqual([s.value, s.variant], ['navy', 'blue']);
    assert.equal(await c.getNumberValue('limit', 0, ctx), 42.5);
    assert.deepEqual(await c.getObjectValue('layout', {}, ctx), { columns: 3, dense: true });
    assert.equal(await c.getBooleanValue('beta-users', false, ctx), true);
    assert.equal(await c.getBooleanValue('beta-users', true, { targetingKey: 'u9' }), false);
    const off = await c.getBooleanDetails('off', true, ctx);
    assert.deepEqual([off.value, off.reason], [false, 'DISABLED']);
    const missing = await c.getBooleanDetails('no-such-flag', true, ctx);
    assert.deepEqual([missing.value, missing.errorCode], [true, 'FLAG_NOT_FOUND']);
    // A client key gets evaluated answers too.
    await ServerFeatures.setProviderAndWait('client-key', new OFREPProvider({ baseUrl: p.server.url, headers: { Authorization: `Bearer ${client.key}` } }));
    assert.equal(await ServerFeatures.getClient('client-key').getStringValue('theme', 'default', ctx), 'navy');

    await ServerFeatures.setProviderAndWait('bad-key', new OFREPProvider({ baseUrl: p.server.url, headers: { Authorization: `rgs_${'B'.repeat(43)}` } }));
    const bad = await ServerFeatures.getClient('bad-key').getBooleanDetails('dark-mode', false, ctx);
    assert.equal(bad.value, false, 'the default');
    assert.ok(bad.errorCode, `an error code: ${JSON.stringify(bad)}`);
  });

  test('the OpenFeature web SDK with the OFREP web provider in Node: bulk evaluation, then a change seen through the event stream (no polling)', async () => {
    const g = globalThis as { EventSource?: unknown };
    const had = g.EventSource;
    g.EventSource = NodeEventSource;
    try {
      await WebFeatures.setContext({ targetingKey: 'u1' });
      await WebFeatures.setProviderAndWait(new OFREPWebProvider({ baseUrl: p.server.url, headers: [['Authorization', client.key]], changeDetection: 'sse', pollInterval: 3_600_000, cacheMode: 'disabled', disableVisibilityRefresh: true }));
      const c = WebFeatures.getClient();
      assert.equal(c.getBooleanValue('dark-mode', false), true);
      assert.equal(c.getStringValue('theme', 'x'), 'navy');
      assert.equal(c.getBooleanValue('off', true), false);
      await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/off/enable');
      await until('the web provider to see the change', () => c.getBooleanValue('off', false));
      await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/off/disable');
      await until('the web provider to see it switched off again', () => c.getBooleanValue('off', true) === false);
    } finally {
      await WebFeatures.clearProviders();
      g.EventSource = had;
    }
  });

  test('raw OFREP: FLAG_NOT_FOUND 404, INVALID_CONTEXT and PARSE_ERROR 400, TARGETING_KEY_MISSING, typed values, reasons, metadata', async () => {
    const nf = await ofrep('/nope', server.key, { context: { targetingKey: 'u1' } });
    assert.equal(nf.status, 404);
    assert.deepEqual(await nf.json(), { key: 'nope', errorCode: 'FLAG_NOT_FOUND', errorDetails: 'flag nope was not found in this environment (or is archived)' });
    for (const [body, code] of [[{ context: 'me' }, 'INVALID_CONTEXT'], [{ context: { targetingKey: 7 } }, 'INVALID_CONTEXT'], [{ context: { targetingKey: 'u', nested: { a: 1 } } }, 'INVALID_CONTEXT'], ['{"context": ', 'PARSE_ERROR'], [[1], 'PARSE_ERROR']] as const) {
      const r = await ofrep('/dark-mode', server.key, body);
      const j = (await r.json()) as Evaluated;
      assert.equal(r.status, 400, JSON.stringify(j));
      assert.equal(j.errorCode, code, JSON.stringify(j));
      assert.equal(j.key, 'dark-mode');
      assert.ok(j.errorDetails);
    }
    const tk = await ofrep('/beta-users', server.key, { context: { plan: 'pro' } });
    assert.equal(tk.status, 400);
    assert.equal(((await tk.json()) as Evaluated).errorCode, 'TARGETING_KEY_MISSING');
    // A flag that does not select by user needs no targetingKey.
    assert.equal((await ofrep('/dark-mode', server.key, { context: {} })).status, 200);
    const layout = (await (await ofrep('/layout', server.key, { context: { targetingKey: 'u1' } })).json()) as Evaluated;
    assert.deepEqual(layout, { key: 'layout', reason: 'STATIC', variant: 'grid', value: { columns: 3, dense: true }, metadata: { kind: 'release' } });
    const userMatch = (await (await ofrep('/beta-users', server.key, { context: { targetingKey: 'u2' } })).json()) as Evaluated;
    assert.deepEqual([userMatch.value, userMatch.reason], [true, 'TARGETING_MATCH']);
    const noMatch = (await (await ofrep('/beta-users', server.key, { context: { targetingKey: 'u7' } })).json()) as Evaluated;
    assert.deepEqual([noMatch.value, noMatch.reason, noMatch.metadata?.reason], [false, 'UNKNOWN', 'DEFAULT']);
    // OFREP's X-API-Key works as the Authorization header does.
    assert.equal((await ofrep('/dark-mode', null, { context: {} }, { 'x-api-key': client.key })).status, 200);
  });

  test('raw OFREP bulk: every flag, ETag per revision and context, If-None-Match 304, a change gives 200 with a new ETag', async () => {
    const ctx = { context: { targetingKey: 'u1' } };
    const first = await ofrep('', client.key, ctx);
    assert.equal(first.status, 200);
    const body = (await first.json()) as { flags: Evaluated[]; metadata: { revision: number }; eventStreams: { type: string; endpoint: { requestUri: string }; inactivityDelaySec: number }[] };
    assert.deepEqual(body.flags.map((f) => f.key).sort(), ['beta-users', 'dark-mode', 'layout', 'limit', 'off', 'theme']);
    assert.equal(body.flags.find((f) => f.key === 'limit')?.value, 42.5);
    assert.equal(body.eventStreams[0]!.type, 'sse');
    assert.match(body.eventStreams[0]!.endpoint.requestUri, /^\/ofrep\/v1\/events\?channel=/);
    assert.doesNotMatch(body.eventStreams[0]!.endpoint.requestUri, new RegExp(client.key.slice(4, 20)), 'the URL holds no part of the key');
    const etag = first.headers.get('etag')!;
    assert.equal((await ofrep('', client.key, ctx, { 'if-none-match': etag })).status, 304);
    const other = await ofrep('', client.key, { context: { targetingKey: 'u2' } }, { 'if-none-match': etag });
    assert.equal(other.status, 200, 'another context is not the cached answer');
    const bulkBad = await ofrep('', client.key, { context: [] });
    assert.equal(bulkBad.status, 400);
    assert.equal(((await bulkBad.json()) as Evaluated).errorCode, 'INVALID_CONTEXT');

    const stream = await SseConnection.open(`${p.server.url}${body.eventStreams[0]!.endpoint.requestUri}`, {});
    try {
      assert.equal(stream.res.status, 200);
      await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/dark-mode/disable');
      const e = await stream.next((x) => x.event === 'message', 'a refetch event');
      const data = JSON.parse(e.data) as { type: string; etag: string; lastModified: number };
      assert.equal(data.type, 'refetchEvaluation');
      assert.equal(data.etag, `"${body.metadata.revision + 1}"`);
      assert.equal(e.id, String(body.metadata.revision + 1));
      assert.ok(Number.isInteger(data.lastModified) && data.lastModified > 1_700_000_000);
      const moved = await ofrep(`?flagConfigEtag=${encodeURIComponent(data.etag)}&flagConfigLastModified=${data.lastModified}`, client.key, ctx, { 'if-none-match': etag });
      assert.equal(moved.status, 200);
      assert.notEqual(moved.headers.get('etag'), etag);
      assert.equal(((await moved.json()) as { flags: Evaluated[] }).flags.find((f) => f.key === 'dark-mode')?.value, false);
    } finally {
      stream.close();
    }
    // A stream that connects after a change it has not fetched yet (the URL's since) is told at once.
    const late = await SseConnection.open(`${p.server.url}${body.eventStreams[0]!.endpoint.requestUri}`, {});
    try {
      const e = await late.next((x) => x.event === 'message', 'the refetch a late stream gets at once');
      assert.equal((JSON.parse(e.data) as { etag: string }).etag, `"${body.metadata.revision + 1}"`);
    } finally {
      late.close();
    }
  });

  test('raw OFREP keys: none, unknown, revoked answer 401 with errorDetails saying why; a tampered stream channel 401; a revoked key\'s stream closes', async () => {
    for (const [key, message] of [[null, /no SDK key/], [`rgc_${'C'.repeat(43)}`, /unknown SDK key/]] as const) {
      const r = await ofrep('/dark-mode', key, { context: {} });
      assert.equal(r.status, 401);
      const j = (await r.json()) as Evaluated & { error: { code: string } };
      assert.match(j.errorDetails!, message);
      assert.equal(j.error.code, 'unauthorized');
    }
    const doomed = await sdkKey(p.admin, 'shop', 'staging', 'client');
    const bulk = (await (await ofrep('', doomed.key, { context: {} })).json()) as { eventStreams: { endpoint: { requestUri: string } }[] };
    const uri = bulk.eventStreams[0]!.endpoint.requestUri;
    const tampered = await fetch(`${p.server.url}${uri.replace(/channel=([^&]+)/, (_m, v: string) => `channel=${v.slice(0, -3)}abc`)}`);
    assert.equal(tampered.status, 401);
    const stream = await SseConnection.open(`${p.server.url}${uri}`, {});
    assert.equal(stream.res.status, 200);
    await p.admin.request('DELETE', `/v1/apps/shop/envs/staging/flag-keys/${doomed.id}`);
    await stream.whenEnded();
    const revoked = await ofrep('/dark-mode', doomed.key, { context: {} });
    assert.equal(revoked.status, 401);
    assert.match(((await revoked.json()) as Evaluated).errorDetails!, /revoked/);
    assert.equal((await fetch(`${p.server.url}${uri}`)).status, 401, 'its channel is gone with it');
  });
});

describe('CORS of the browser-facing delivery routes', () => {
  let p: FlagsPlatform;
  before(async () => {
    p = await startFlagsPlatform();
  });
  after(async () => p?.stop());

  test('a preflight from any origin is answered for the frontend API and OFREP (key in a header); the client API has none', async () => {
    for (const path of ['/api/frontend', '/ofrep/v1/evaluate/flags', '/ofrep/v1/evaluate/flags/x']) {
      const r = await fetch(p.server.url + path, { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
      assert.equal(r.status, 204, path);
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      assert.match(r.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    }
    const refused = await fetch(`${p.server.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: { origin: 'https://shop.example', 'content-type': 'application/json' }, body: '{"context":{}}' });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), '*', 'a browser can read why');
    const client = await fetch(`${p.server.url}/api/client/features`, { headers: { origin: 'https://shop.example' } });
    assert.equal(client.headers.get('access-control-allow-origin'), null);
  });
});
