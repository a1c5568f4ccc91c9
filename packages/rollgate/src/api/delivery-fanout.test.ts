/**
 * The delivery fan-out against the real server (frames written straight to each Node response,
 * one encoding per change shared by the streams that carry it): every stream gets its own
 * environment's frames in its own format and nothing of another environment's; a client that
 * stops reading holds a bounded number of bytes on the server, is cut off, and the reading
 * streams of the same key keep getting every change meanwhile.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { DeltaEvent } from '@rollgate/sdk/engine';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';
import { until } from '../test/split-platform.js';
import { SseConnection, bigFlag, sdkKey, stalledStream, type SseEvent } from '../test/delivery-kit.js';

const updates = (s: SseConnection) => s.events.filter((e) => e.event === 'unleash-updated');
const deltaOf = (e: SseEvent) => (JSON.parse(e.data) as { events: DeltaEvent[] }).events;
const rolloutOf = (e: DeltaEvent) => (e as unknown as { feature: { strategies: { parameters: { rollout: string } }[] } }).feature.strategies[0]!.parameters.rollout;

interface FlagSdks {
  streams: { unleash: number; ofrep: number };
  waiting: { bytes: number; slowest: number };
}

describe('the delivery fan-out: frames shared between streams, each stream its own', () => {
  let p: FlagsPlatform;
  before(async () => {
    p = await startFlagsPlatform();
    for (const name of ['alpha', 'beta']) await p.admin.request('POST', '/v1/apps/shop/flags', { body: { name, kind: 'release' } });
    await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/alpha/enable');
    await p.admin.request('POST', '/v1/apps/shop/envs/production/flags/alpha/disable');
  });
  after(async () => p?.stop());

  test('two keys of staging get the same frames; production and OFREP streams get only their own', async () => {
    const [s1k, s2k, pk, ck] = [await sdkKey(p.admin, 'shop', 'staging', 'server'), await sdkKey(p.admin, 'shop', 'staging', 'server'), await sdkKey(p.admin, 'shop', 'production', 'server'), await sdkKey(p.admin, 'shop', 'staging', 'client')];
    const bulk = (await (await fetch(`${p.server.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: ck.key }, body: '{"context":{}}' })).json()) as { eventStreams: { endpoint: { requestUri: string } }[] };
    const open = (key: string) => SseConnection.open(`${p.server.url}/api/client/streaming`, { authorization: key });
    const s1 = await open(s1k.key);
    const s2 = await open(s2k.key);
    const prod = await open(pk.key);
    const of = await SseConnection.open(`${p.server.url}${bulk.eventStreams[0]!.endpoint.requestUri}`, { origin: 'https://shop.example' });
    try {
      assert.equal(of.res.headers.get('access-control-allow-origin'), '*', 'headers set by middleware (CORS) are on a stream written straight to the socket');
      assert.equal(of.res.headers.get('content-type'), 'text/event-stream');
      const staging0 = (await p.store.flags.readState('shop', 'staging')).revision;
      const production0 = (await p.store.flags.readState('shop', 'production')).revision;
      const [h1, h2, hp] = await Promise.all([s1, s2, prod].map((s) => s.next((e) => e.event === 'unleash-connected', 'a hydration')));
      assert.equal(h1!.id, String(staging0));
      assert.equal(h2!.data, h1!.data, 'one hydration for the streams of one environment');
      assert.equal(hp!.id, String(production0));
      const alphaIn = (h: SseEvent) => (deltaOf(h)[0] as { features: { name: string; enabled: boolean }[] }).features.find((f) => f.name === 'alpha')!.enabled;
      assert.equal(alphaIn(h1!), true);
      assert.equal(alphaIn(hp!), false, "production's hydration is production's state");

      await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/beta/rollout', { body: { percent: 30 } });
      const u1 = await s1.next((e) => e.event === 'unleash-updated', 'the staging delta');
      const u2 = await s2.next((e) => e.event === 'unleash-updated', 'the staging delta on the second key');
      const refetch = await of.next((e) => e.event === 'message', 'the OFREP refetch');
      assert.equal(u1.id, String(staging0 + 1));
      assert.equal(u2.data, u1.data);
      assert.deepEqual(deltaOf(u1).map((e) => [e.type, rolloutOf(e)]), [['feature-updated', '30']]);
      assert.deepEqual(JSON.parse(refetch.data).etag, `"${staging0 + 1}"`);

      await p.admin.request('POST', '/v1/apps/shop/envs/production/flags/alpha/rollout', { body: { percent: 70 } });
      const up = await prod.next((e) => e.event === 'unleash-updated', 'the production delta');
      assert.equal(up.id, String(production0 + 1));
      assert.deepEqual(deltaOf(up).map((e) => [e.type, (e as { feature: { name: string } }).feature.name, rolloutOf(e)]), [['feature-updated', 'alpha', '70']]);
      // One more staging change: frames on a connection come in order, so once it is there,
      // a production frame sent to a staging stream would have come before it.
      await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/beta/rollout', { body: { percent: 40 } });
      for (const s of [s1, s2]) await s.next((e) => e.event === 'unleash-updated' && e.id === String(staging0 + 2), 'the second staging delta');
      await of.next((e) => e.event === 'message' && e.id === String(staging0 + 2), 'the second refetch');
      for (const s of [s1, s2]) assert.deepEqual(updates(s).map((e) => e.id), [String(staging0 + 1), String(staging0 + 2)], 'staging streams: staging frames only');
      assert.deepEqual(updates(prod).map((e) => e.id), [String(production0 + 1)], 'the production stream: its own frame only');
      assert.deepEqual(of.events.filter((e) => e.event === 'message').map((e) => e.id), [String(staging0 + 1), String(staging0 + 2)]);
    } finally {
      for (const s of [s1, s2, prod, of]) s.close();
    }
  });
});

describe('a delivery client that stops reading, on a real socket', () => {
  const MAX = 256 * 1024;
  let p: FlagsPlatform;
  const warnings: string[] = [];
  before(async () => {
    // No stall cut-off within the test (long beat): the bound of waiting bytes is what cuts.
    p = await startFlagsPlatform(undefined, { deliveryStreams: { maxBufferedBytes: MAX, keepAliveMs: 600_000 }, log: { info() {}, warn: (msg) => warnings.push(msg), error() {} } });
    // Every change of this flag sends it whole: about 110 KB a delta.
    await bigFlag(p.admin, 'big', 2);
  });
  after(async () => p?.stop());

  test("what the server holds for it stays within its bound until it is cut off; the other streams get every change meanwhile", async () => {
    const key = await sdkKey(p.admin, 'shop', 'staging', 'server');
    const stalled = await stalledStream(p.server.url, key.key);
    const readers = [await SseConnection.open(`${p.server.url}/api/client/streaming`, { authorization: key.key }), await SseConnection.open(`${p.server.url}/api/client/streaming`, { authorization: key.key })];
    const sdks = () => p.admin.request<FlagSdks>('GET', '/v1/apps/shop/envs/staging/flag-sdks');
    await until('three streams open', async () => (await sdks()).streams.unleash === 3);
    let changes = 0;
    let frameBytes = 0;
    let mostHeld = 0;
    try {
      const cut = () => warnings.includes('flag delivery stream closed: its SDK does not read');
      for (; changes < 300 && !cut(); changes++) {
        await p.admin.request('POST', `/v1/apps/shop/envs/staging/flags/big/${changes % 2 ? 'enable' : 'disable'}`);
        const { revision } = await p.store.flags.readState('shop', 'staging');
        // A slow client does not delay the others: each change reaches both readers before the next is made.
        for (const r of readers) {
          const got = await r.next((e) => e.event === 'unleash-updated' && e.id === String(revision), `change ${changes} on a reading stream`);
          frameBytes = Math.max(frameBytes, got.data.length);
        }
        const { waiting } = await sdks();
        mostHeld = Math.max(mostHeld, waiting.slowest);
        // Held: up to the bound waiting here, plus what the Node response took before it said "full" (its mark, one frame over).
        assert.ok(waiting.slowest <= MAX + 2 * frameBytes + 64 * 1024, `change ${changes}: the server holds ${waiting.slowest} bytes for one client, bound ${MAX}`);
      }
      assert.ok(cut(), `the stalled stream was not cut off after ${changes} changes of about ${frameBytes} bytes`);
      assert.ok(mostHeld > frameBytes, `the stalled client was seen holding bytes (${mostHeld}) before it was cut`);
      await until('the stalled stream to be gone', async () => (await sdks()).streams.unleash === 2);
      assert.equal((await sdks()).waiting.slowest < frameBytes, true, 'the readers hold nothing much');
      for (const r of readers) {
        assert.equal(r.ended, false);
        assert.equal(updates(r).length, changes, 'every change on every reading stream');
      }
      await once(stalled.resume(), 'close');
    } finally {
      for (const r of readers) r.close();
      stalled.destroy();
    }
  });
});
