/**
 * Flag changes reaching connected SDKs, against the real server: the real unleash-client in
 * streaming mode sees a change made through the flags API; many changes in a row while
 * clients come and go leave every client on the server's state; raw streams get the hydration,
 * delta events, keep-alives; a revoked key's streams are closed at once; the per-key cap
 * answers 429 (unleash-client then polls).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientFeatures, DeltaEvent } from '@rollgate/sdk/engine';
import type { Unleash } from 'unleash-client';
import { canonicalJson } from '../core/canonical-json.js';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';
import { until } from '../test/split-platform.js';
import { SseConnection, bigFlag, connectUnleash, sdkKey, stalledStream } from '../test/delivery-kit.js';

const STREAMING = { experimentalMode: { type: 'streaming' as const }, refreshInterval: 3_600_000 };

/** What an SDK holds, comparable with what the server serves. */
const held = (u: Unleash) => canonicalJson(u.getFeatureToggleDefinitions().map((f) => ({ name: f.name, enabled: f.enabled, strategies: f.strategies })).sort((a, b) => a.name.localeCompare(b.name)));
const served = (s: ClientFeatures) => canonicalJson(s.features.map((f) => ({ name: f.name, enabled: f.enabled, strategies: f.strategies })).sort((a, b) => a.name.localeCompare(b.name)));

describe('flag streaming on SQLite', () => {
  let p: FlagsPlatform;
  let key: { id: string; key: string };
  const clients: Unleash[] = [];

  before(async () => {
    p = await startFlagsPlatform(undefined, { deliveryStreams: { perKey: 8, keepAliveMs: 200 } });
    for (const name of ['alpha', 'beta']) {
      await p.admin.request('POST', '/v1/apps/shop/flags', { body: { name, kind: 'release' } });
      await p.admin.request('POST', `/v1/apps/shop/envs/staging/flags/${name}/disable`);
    }
    key = await sdkKey(p.admin, 'shop', 'staging', 'server');
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await p?.stop();
  });

  const serverState = async () => (await (await fetch(`${p.server.url}/api/client/features`, { headers: { authorization: key.key } })).json()) as ClientFeatures;

  test('unleash-client with streaming on sees a change made through the flags API (it does not poll)', async () => {
    const sdk = await connectUnleash(p.server.url, key.key, STREAMING);
    clients.push(sdk);
    assert.equal(sdk.isEnabled('alpha'), false);
    await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/alpha/enable');
    await until('the streaming client to see alpha enabled', () => sdk.isEnabled('alpha'));
    await p.admin.request('POST', '/v1/apps/shop/flags', { body: { name: 'gamma', kind: 'release' } });
    await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/gamma/rollout', { body: { percent: 100 } });
    await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/gamma/enable');
    await until('the streaming client to see the new flag gamma', () => sdk.isEnabled('gamma', { userId: 'u1' }));
    await p.admin.request('POST', '/v1/apps/shop/flags/gamma/archive');
    await until('the streaming client to drop the archived flag', () => sdk.getFeatureToggleDefinition('gamma') === undefined);
  });

  test('many changes in a row while clients reconnect: every client ends on the server\'s state', async () => {
    const start = () => connectUnleash(p.server.url, key.key, STREAMING).then((c) => (clients.push(c), c));
    const live: Unleash[] = [await start(), await start(), await start()];
    for (let i = 0; i < 40; i++) {
      const flag = i % 2 ? 'alpha' : 'beta';
      if (i % 5 === 0) await p.admin.request('POST', `/v1/apps/shop/envs/staging/flags/${flag}/${i % 10 ? 'enable' : 'disable'}`);
      else await p.admin.request('POST', `/v1/apps/shop/envs/staging/flags/${flag}/rollout`, { body: { percent: (i * 7) % 101 } });
      if (i % 8 === 3) {
        // One leaves, a new one connects in the middle of the changes.
        live.shift()!.destroy();
        live.push(await start());
      }
    }
    const want = served(await serverState());
    for (const [n, c] of live.entries()) await until(`client ${n} to hold the server's state`, () => held(c) === want);
    assert.equal(held(live[0]!), want);
  });

  test('a raw stream: the hydration first, then one delta per change with the revision as id, keep-alives between', async () => {
    const s = await SseConnection.open(`${p.server.url}/api/client/streaming`, { authorization: `Bearer ${key.key}` });
    try {
      assert.equal(s.res.status, 200);
      assert.match(s.res.headers.get('content-type') ?? '', /text\/event-stream/);
      const hello = await s.next((e) => e.event === 'unleash-connected', 'the hydration');
      const h = JSON.parse(hello.data) as { events: DeltaEvent[] };
      assert.equal(h.events[0]!.type, 'hydration');
      const { revision, state } = await p.store.flags.readState('shop', 'staging');
      assert.equal(hello.id, String(revision));
      assert.equal(served({ version: 2, features: (h.events[0] as { features: ClientFeatures['features'] }).features }), served(state));
      await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/beta/rollout', { body: { percent: 42 } });
      const upd = await s.next((e) => e.event === 'unleash-updated', 'the delta');
      assert.equal(upd.id, String(revision + 1));
      const events = (JSON.parse(upd.data) as { events: DeltaEvent[] }).events;
      assert.deepEqual(events.map((e) => e.type), ['feature-updated']);
      assert.equal((events[0] as unknown as { feature: { name: string; strategies: { parameters: { rollout: string } }[] } }).feature.strategies[0]!.parameters.rollout, '42');
      await until('a keep-alive', () => s.comments.includes('keep-alive'));
    } finally {
      s.close();
    }
  });

  test("a revoked key's streams are closed at once; past the per-key cap a stream answers 429 and unleash-client falls back to polling", async () => {
    const doomed = await sdkKey(p.admin, 'shop', 'staging', 'server');
    const a = await SseConnection.open(`${p.server.url}/api/client/streaming`, { authorization: doomed.key });
    const b = await SseConnection.open(`${p.server.url}/api/client/streaming`, { authorization: doomed.key });
    await a.next((e) => e.event === 'unleash-connected', 'a hydration');
    await b.next((e) => e.event === 'unleash-connected', 'b hydration');
    await p.admin.request('DELETE', `/v1/apps/shop/envs/staging/flag-keys/${doomed.id}`);
    await a.whenEnded();
    await b.whenEnded();
    const again = await fetch(`${p.server.url}/api/client/streaming`, { headers: { authorization: doomed.key } });
    assert.equal(again.status, 401);
    assert.match(((await again.json()) as { error: { message: string } }).error.message, /revoked/);

    const capped = await sdkKey(p.admin, 'shop', 'staging', 'server');
    const open = [];
    for (let i = 0; i < 8; i++) open.push(await SseConnection.open(`${p.server.url}/api/client/streaming`, { authorization: capped.key }));
    try {
      assert.ok(open.every((s) => s.res.status === 200));
      const refused = await fetch(`${p.server.url}/api/client/streaming`, { headers: { authorization: capped.key } });
      assert.equal(refused.status, 429);
      assert.match(((await refused.json()) as { error: { message: string } }).error.message, /limit per key is 8/);
      // The SDK takes a 429 as "stream elsewhere": it polls and still follows changes.
      const sdk = await connectUnleash(p.server.url, capped.key, { experimentalMode: { type: 'streaming' }, refreshInterval: 200 });
      clients.push(sdk);
      const before = sdk.isEnabled('beta');
      await p.admin.request('POST', `/v1/apps/shop/envs/staging/flags/beta/${before ? 'disable' : 'enable'}`);
      await until('the capped client to follow the change by polling', () => sdk.isEnabled('beta', { userId: 'x' }) !== before || sdk.getFeatureToggleDefinition('beta')?.enabled !== before);
    } finally {
      for (const s of open) s.close();
    }
  });
});

describe('a delivery stream whose SDK stops reading', () => {
  let p: FlagsPlatform;
  const warnings: { msg: string; fields: unknown }[] = [];

  before(async () => {
    p = await startFlagsPlatform(undefined, { deliveryStreams: { maxBufferedBytes: 256 * 1024, keepAliveMs: 100 }, log: { info() {}, warn: (msg, fields) => warnings.push({ msg, fields }), error() {} } });
    // Every change of this flag sends it whole: about 220 KB a delta.
    await bigFlag(p.admin, 'big', 4);
  });
  after(async () => p?.stop());

  test('is cut off (and logged) while a reading stream of the same key keeps every change', async () => {
    const key = await sdkKey(p.admin, 'shop', 'staging', 'server');
    const stalled = await stalledStream(p.server.url, key.key);
    const reader = await SseConnection.open(`${p.server.url}/api/client/streaming`, { authorization: key.key });
    let changes = 0;
    try {
      const cut = () => warnings.some((w) => w.msg === 'flag delivery stream closed: its SDK does not read');
      for (; changes < 150 && !cut(); changes++) await p.admin.request('POST', `/v1/apps/shop/envs/staging/flags/big/${changes % 2 ? 'enable' : 'disable'}`);
      assert.ok(cut(), `the stalled stream was not cut off after ${changes} changes of about 220 KB`);
      assert.equal((warnings.find((w) => w.msg.startsWith('flag delivery stream closed'))!.fields as { key: string }).key, key.id);
      const { revision } = await p.store.flags.readState('shop', 'staging');
      await reader.next((e) => e.event === 'unleash-updated' && e.id === String(revision), 'the reading stream to get the last change');
      assert.equal(reader.ended, false, 'the reading stream is still open');
      assert.equal(reader.events.filter((e) => e.event === 'unleash-updated').length, changes);
    } finally {
      reader.close();
      stalled.destroy();
    }
  });
});
