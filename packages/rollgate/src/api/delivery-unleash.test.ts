/**
 * Unleash's client and frontend APIs against the real server (agent process, SQLite and
 * PostgreSQL): the real unleash-client connected with a server key answers every case of every
 * client-specification file as the engine does; ETags and 304s; registration and metrics into
 * the store; the frontend API; wrong, revoked and client keys refused, saying why.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, type ClientFeatures } from '@rollgate/sdk/engine';
import type { Context as UnleashContext } from 'unleash-client';
import { freePort } from '../demo/fixtures.js';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';
import { withPostgres } from '../test/pg.js';
import { until } from '../test/split-platform.js';
import { connectUnleash, importDropping, plainVariant, sdkKey, specFiles } from '../test/delivery-kit.js';

const get = (url: string, key: string | null, headers: Record<string, string> = {}) => fetch(url, { headers: { ...(key ? { authorization: key } : {}), ...headers } });
const post = (url: string, key: string | null, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: key } : {}), ...headers }, body: JSON.stringify(body) });

function suite(name: string, databaseUrl: () => string | undefined, opts: { spec: boolean }): void {
  describe(name, () => {
    let p: FlagsPlatform;
    let server: { id: string; key: string };
    let client: { id: string; key: string };

    before(async () => {
      p = await startFlagsPlatform(databaseUrl());
      await p.admin.request('POST', '/v1/apps/shop/flags', { body: { name: 'checkout', kind: 'release' } });
      await p.admin.request('PUT', '/v1/apps/shop/envs/staging/flags/checkout', {
        body: { enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'default', groupId: 'checkout' }, constraints: [{ contextName: 'plan', operator: 'IN', values: ['pro'] }] }], variants: [{ name: 'blue', weight: 1000, weightType: 'variable', stickiness: 'default', payload: { type: 'string', value: 'b' } }] },
      });
      await p.admin.request('POST', '/v1/apps/shop/flags', { body: { name: 'banner', kind: 'release' } });
      await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/banner/disable');
      server = await sdkKey(p.admin, 'shop', 'staging', 'server');
      client = await sdkKey(p.admin, 'shop', 'staging', 'client');
    });
    after(async () => p?.stop());

    if (opts.spec) {
      test('the real unleash-client with a server key answers every case of every specification file as the engine and the specification do', async (t) => {
        const files = specFiles();
        const apps = Object.fromEntries(files.map((_f, i) => [`conf-${String(i + 1).padStart(2, '0')}`, { run: 'node server.js', replicas: 1 }]));
        await p.admin.applySpec({ apps, environments: { conformance: { listen: await freePort(), production: false } } });
        let cases = 0;
        let specChecked = 0;
        for (const [i, f] of files.entries()) {
          const app = `conf-${String(i + 1).padStart(2, '0')}`;
          const dropped = await importDropping(p.admin, app, 'conformance', f.state);
          for (const [flag, why] of dropped) t.diagnostic(`${f.file}: flag ${flag} refused by the flags API (${why}); its cases are checked against the engine only`);
          const k = await sdkKey(p.admin, app, 'conformance', 'server');
          const served = (await (await get(`${p.server.url}/api/client/features`, k.key)).json()) as ClientFeatures;
          const engine = compile(served);
          const sdk = await connectUnleash(p.server.url, k.key);
          try {
            for (const c of f.cases) {
              const what = `${f.file}: ${c.description}`;
              const spec = !dropped.has(c.toggleName);
              const ctx = c.context as UnleashContext;
              if (c.kind === 'isEnabled') {
                const got = sdk.isEnabled(c.toggleName, ctx);
                assert.equal(got, engine.isEnabled(c.toggleName, c.context), `${what} (engine)`);
                if (spec) assert.equal(got, c.expected, `${what} (specification)`);
              } else {
                const got = plainVariant(sdk.getVariant(c.toggleName, ctx));
                assert.deepEqual(got, plainVariant(engine.getVariant(c.toggleName, c.context)), `${what} (engine)`);
                if (spec) assert.deepEqual(got, plainVariant(c.expected as object), `${what} (specification)`);
              }
              cases++;
              if (spec) specChecked++;
            }
          } finally {
            sdk.destroy();
          }
        }
        assert.ok(cases >= 279, `cases run: ${cases}`);
        t.diagnostic(`${cases} cases against the engine, ${specChecked} of them against the specification too`);
        // The flags API refuses only a few deliberately broken rules (see the diagnostics).
        assert.ok(specChecked >= cases - 20, `only ${specChecked} of ${cases} cases checked against the specification`);
      });
    }

    test('GET /api/client/features: the environment\'s ClientFeatures (version 2), ETag the revision, If-None-Match answers 304 until a change', async () => {
      const url = `${p.server.url}/api/client/features`;
      const first = await get(url, server.key);
      assert.equal(first.status, 200);
      const body = (await first.json()) as ClientFeatures;
      assert.equal(body.version, 2);
      assert.deepEqual(body.features.map((f) => f.name).sort(), ['banner', 'checkout']);
      const etag = first.headers.get('etag')!;
      const { revision } = await p.store.flags.readState('shop', 'staging');
      assert.equal(etag, `"${revision}"`);
      // Unleash SDKs send it as Bearer too.
      const again = await get(url, `Bearer ${server.key}`, { 'if-none-match': etag });
      assert.equal(again.status, 304);
      await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/banner/enable');
      const moved = await get(url, server.key, { 'if-none-match': etag });
      assert.equal(moved.status, 200);
      assert.equal(moved.headers.get('etag'), `"${revision + 1}"`);
      assert.equal(((await moved.json()) as ClientFeatures).features.find((f) => f.name === 'banner')?.enabled, true);
      // The filters Unleash SDKs send: a name prefix, the project (every flag is in "default").
      const prefixed = (await (await get(`${url}?namePrefix=ban`, server.key)).json()) as ClientFeatures & { query: unknown };
      assert.deepEqual([prefixed.features.map((f) => f.name), prefixed.query], [['banner'], { namePrefix: 'ban' }]);
      assert.equal(((await (await get(`${url}?project=other`, server.key)).json()) as ClientFeatures).features.length, 0);
      assert.equal(((await (await get(`${url}?project=default`, server.key)).json()) as ClientFeatures).features.length, 2);
      const sdk = await connectUnleash(p.server.url, server.key, { namePrefix: 'check' });
      try {
        assert.deepEqual(sdk.getFeatureToggleDefinitions().map((f) => f.name), ['checkout']);
      } finally {
        sdk.destroy();
      }
    });

    test('register and metrics: accepted with a server key; counts add up per (flag, variant) with last seen; unknown flags and variants are left out', async () => {
      const reg = await post(`${p.server.url}/api/client/register`, server.key, { appName: 'shop-web', instanceId: 'i-1', sdkVersion: 'unleash-client-node:6.12.1', strategies: ['default'], started: new Date().toISOString(), interval: 60000, platformName: 'node' });
      assert.equal(reg.status, 202, await reg.text());
      const bucket = (stop: string) => ({ appName: 'shop-web', instanceId: 'i-1', bucket: { start: '2026-01-01T00:00:00.000Z', stop, toggles: { checkout: { yes: 3, no: 2, variants: { blue: 3, disabled: 2, invented: 9 } }, 'no-such-flag': { yes: 1, no: 0 } } } });
      const m1 = await post(`${p.server.url}/api/client/metrics`, server.key, bucket('2026-01-01T00:01:00.000Z'));
      assert.equal(m1.status, 202, await m1.clone().text());
      assert.deepEqual(await m1.json(), { recorded: 3, unknown: ['no-such-flag'] });
      const m2 = await post(`${p.server.url}/api/client/metrics`, server.key, bucket('2026-01-01T00:02:00.000Z'));
      assert.equal(m2.status, 202);
      const usage = await p.store.flagMetrics.usage('shop', 'staging');
      assert.deepEqual(
        usage.map((u) => ({ name: u.name, variant: u.variant, yes: u.yes, no: u.no, last: u.lastSeenAt, first: u.firstSeenAt })),
        [
          { name: 'checkout', variant: null, yes: 6, no: 4, last: '2026-01-01T00:02:00.000Z', first: '2026-01-01T00:01:00.000Z' },
          { name: 'checkout', variant: 'blue', yes: 6, no: 0, last: '2026-01-01T00:02:00.000Z', first: '2026-01-01T00:01:00.000Z' },
          { name: 'checkout', variant: 'disabled', yes: 4, no: 0, last: '2026-01-01T00:02:00.000Z', first: '2026-01-01T00:01:00.000Z' },
        ],
      );
      // A malformed bucket is a 400 and adds nothing.
      const bad = await post(`${p.server.url}/api/client/metrics`, server.key, { appName: 'x', instanceId: 'i', bucket: { start: 1, stop: 2, toggles: { checkout: { yes: -1, no: 0 } } } });
      assert.equal(bad.status, 400);
      assert.equal((await p.store.flagMetrics.usage('shop', 'staging', 'checkout'))[0]!.yes, 6);
      // A client key may not report as a server SDK, but may through the frontend API's route.
      assert.equal((await post(`${p.server.url}/api/client/metrics`, client.key, bucket('2026-01-01T00:03:00.000Z'))).status, 403);
      assert.equal((await post(`${p.server.url}/api/frontend/client/metrics`, client.key, bucket('2026-01-01T00:03:00.000Z'))).status, 202);
      assert.equal((await p.store.flagMetrics.usage('shop', 'staging', 'checkout'))[0]!.yes, 9);
      // Not audited: SDK traffic is no one's change.
      const entries = await p.admin.request<{ action: string }[]>('GET', '/v1/audit', { query: { limit: 1000 } });
      assert.ok(!entries.some((e) => /^api\.|ofrep/.test(e.action)), entries.map((e) => e.action).join(', '));
    });

    test('outcomes (for guarded rollouts): a server key appends them, read forward by seq; a malformed report is a 400 naming the field and adds nothing; a client key is refused', async () => {
      const bounds = [1, 10, 100];
      const pair = (over: Record<string, unknown> = {}) => ({ flag: 'checkout', variant: 'on', requests: 3, byClass: { '2xx': 2, '5xx': 1 }, cutShort: 0, latency: { boundsMs: bounds, counts: [1, 2, 3, 3], sumMs: 40, count: 3 }, ...over });
      const report = (pairs: unknown[]) => ({ appName: 'shop-web', instanceId: 'i-9', pairs });
      const from = await p.store.flagMetrics.lastOutcomeSeq();
      const ok = await post(`${p.server.url}/api/client/outcomes`, server.key, report([pair(), pair({ variant: 'off', byClass: { '2xx': 3 } })]));
      assert.equal(ok.status, 202, await ok.clone().text());
      assert.deepEqual(await ok.json(), { recorded: 2 });
      const rows = await p.store.flagMetrics.outcomesAfter('shop', 'staging', from, 100);
      assert.deepEqual(rows.map((r) => [r.flag, r.variant, r.metrics.requests, r.metrics.byClass]), [['checkout', 'on', 3, { '2xx': 2, '5xx': 1 }], ['checkout', 'off', 3, { '2xx': 3 }]]);
      assert.ok(rows[1]!.seq > rows[0]!.seq);
      const refused = async (body: unknown, field: RegExp, key = server.key, status = 400) => {
        const r = await post(`${p.server.url}/api/client/outcomes`, key, body);
        assert.equal(r.status, status, JSON.stringify(body));
        assert.match(((await r.json()) as { error: { message: string } }).error.message, field);
      };
      await refused(report([pair({ byClass: { '2xx': 1 } })]), /byClass.*add up to 1, not to requests \(3\)/);
      await refused(report([pair({ latency: { boundsMs: bounds, counts: [2, 1, 3, 3], sumMs: 1, count: 3 } })]), /counts.*cumulative/);
      await refused(report([pair({ latency: { boundsMs: [10, 1, 100], counts: [1, 2, 3, 3], sumMs: 1, count: 3 } })]), /bounds must increase/);
      await refused(report([pair({ requests: -1 })]), /requests/);
      await refused(report(Array.from({ length: 257 }, (_, i) => pair({ flag: `f${i}` }))), /at most 256 flag variant pairs/);
      await refused(report([pair()]), /server/, client.key, 403);
      assert.equal((await p.store.flagMetrics.outcomesAfter('shop', 'staging', rows[1]!.seq, 100)).length, 0, 'nothing refused was added');
    });

    test('the real unleash-client reports its registration and metrics: the store counts what it evaluated', async () => {
      const sdk = await connectUnleash(p.server.url, server.key, { disableMetrics: false, metricsInterval: 200, appName: 'shop-api' });
      const count = async () => {
        const u = await p.store.flagMetrics.usage('shop', 'staging');
        const banner = u.find((r) => r.name === 'banner' && r.variant === null);
        return { banner: banner ? banner.yes + banner.no : 0, blue: u.find((r) => r.name === 'checkout' && r.variant === 'blue')?.yes ?? 0 };
      };
      const before = await count();
      try {
        for (let i = 0; i < 5; i++) sdk.isEnabled('banner', { userId: `u${i}` });
        for (let i = 0; i < 3; i++) sdk.getVariant('checkout', { userId: `u${i}`, properties: { plan: 'pro' } });
        await until('the SDK\'s metrics in the store', async () => {
          const now = await count();
          return now.banner >= before.banner + 5 && now.blue >= before.blue + 3;
        });
        // Its registration is listed for people with "read" there.
        const sdks = await p.as('viewer').request<{ instances: { appName: string; instanceId: string; sdkVersion: string | null; interval: number | null }[] }>('GET', '/v1/apps/shop/envs/staging/flag-sdks');
        const me = sdks.instances.find((i) => i.appName === 'shop-api');
        assert.ok(me, JSON.stringify(sdks));
        assert.match(me.sdkVersion ?? '', /^unleash-(node-sdk|client-node):/);
        assert.equal(me.interval, 200);
      } finally {
        sdk.destroy();
      }
    });

    test('frontend API: only enabled toggles, evaluated for the query or body context, with variants; client and server keys', async () => {
      const q = await get(`${p.server.url}/api/frontend?userId=u1&properties[plan]=pro`, client.key);
      assert.equal(q.status, 200);
      const qb = (await q.json()) as { toggles: { name: string; enabled: boolean; variant: { name: string; enabled: boolean; payload?: unknown }; impressionData: boolean }[] };
      const checkout = qb.toggles.find((t) => t.name === 'checkout');
      assert.deepEqual(checkout && { ...checkout, variant: plainVariant(checkout.variant) }, { name: 'checkout', enabled: true, variant: { name: 'blue', enabled: true, feature_enabled: true, payload: { type: 'string', value: 'b' } }, impressionData: false });
      const free = (await (await get(`${p.server.url}/api/frontend?userId=u1&plan=free`, client.key)).json()) as { toggles: { name: string }[] };
      assert.ok(!free.toggles.some((t) => t.name === 'checkout'), 'plan free does not match');
      const b = (await (await post(`${p.server.url}/api/frontend`, server.key, { context: { userId: 'u1', properties: { plan: 'pro' } } })).json()) as { toggles: { name: string }[] };
      assert.ok(b.toggles.some((t) => t.name === 'checkout'));
      assert.ok(qb.toggles.every((t) => t.enabled));
    });

    test('frontend API ETag: the revision and the context; If-None-Match answers 304 until either changes', async () => {
      const url = `${p.server.url}/api/frontend?userId=u1&properties[plan]=pro`;
      const first = await get(url, client.key);
      const etag = first.headers.get('etag');
      assert.match(etag ?? '', /^"\d+-[\w-]+"$/);
      assert.equal((await get(url, client.key, { 'if-none-match': etag! })).status, 304);
      const byPost = await post(`${p.server.url}/api/frontend`, client.key, { context: { userId: 'u1', properties: { plan: 'pro' } } }, { 'if-none-match': etag! });
      assert.equal(byPost.status, 304, 'the same context by POST is the same answer');
      const other = await get(`${p.server.url}/api/frontend?userId=u2&properties[plan]=pro`, client.key, { 'if-none-match': etag! });
      assert.equal(other.status, 200, 'another context is another answer');
      assert.notEqual(other.headers.get('etag'), etag);
      await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/banner/enable');
      try {
        const moved = await get(url, client.key, { 'if-none-match': etag! });
        assert.equal(moved.status, 200, 'a change of the flags is a new answer');
        assert.ok(((await moved.json()) as { toggles: { name: string }[] }).toggles.some((t) => t.name === 'banner'));
      } finally {
        await p.admin.request('POST', '/v1/apps/shop/envs/staging/flags/banner/disable');
      }
    });

    test('keys: none, a user token, unknown, revoked get 401 saying why; a client key on the client API gets 403; unleash-client with a bad key serves defaults', async () => {
      const url = `${p.server.url}/api/client/features`;
      const cases: [string | null, number, RegExp][] = [
        [null, 401, /no SDK key/],
        [`Bearer ${p.tokens.admin}`, 401, /not a Rollgate SDK key/],
        [`rgs_${'A'.repeat(43)}`, 401, /unknown SDK key/],
        [client.key, 403, /client keys only get evaluated results/],
      ];
      for (const [key, status, message] of cases) {
        const r = await get(url, key);
        const body = (await r.json()) as { error: { code: string; message: string } };
        assert.equal(r.status, status, JSON.stringify(body));
        assert.match(body.error.message, message);
      }
      const doomed = await sdkKey(p.admin, 'shop', 'staging', 'server');
      assert.equal((await get(url, doomed.key)).status, 200);
      await p.admin.request('DELETE', `/v1/apps/shop/envs/staging/flag-keys/${doomed.id}`);
      const revoked = await get(url, doomed.key);
      assert.equal(revoked.status, 401);
      assert.match(((await revoked.json()) as { error: { message: string } }).error.message, /was revoked at/);
      await assert.rejects(connectUnleash(p.server.url, doomed.key, { refreshInterval: 60_000 }), /401|revoked|Unauthorized|denied/i);
      const { Unleash, InMemStorageProvider } = await import('unleash-client');
      const sdk = new Unleash({ url: `${p.server.url}/api/`, appName: 't', customHeaders: { Authorization: doomed.key }, disableMetrics: true, storageProvider: new InMemStorageProvider(), refreshInterval: 60_000 });
      sdk.on('warn', () => undefined);
      const refused = new Promise((r) => sdk.once('error', r));
      try {
        // Once the server has refused it, it answers from nothing: defaults and fallbacks.
        await refused;
        sdk.on('error', () => undefined);
        assert.equal(sdk.isEnabled('checkout', { properties: { plan: 'pro' } }), false);
        assert.equal(sdk.isEnabled('checkout', { properties: { plan: 'pro' } }, true), true, 'its fallback');
      } finally {
        sdk.destroy();
      }
    });
  });
}

suite('Unleash delivery on SQLite', () => undefined, { spec: true });

await withPostgres('Unleash delivery on PostgreSQL', (db) => {
  suite('Unleash delivery on PostgreSQL', () => db.url, { spec: false });
  after(() => db.drop());
});
