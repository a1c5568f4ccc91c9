/**
 * The behaviour every TrafficProvider owes the engine, run against each implementation (as
 * metrics/source.suite.ts is for metric sources). An implementation's test file calls
 * `trafficSuite` with a setup that starts the real data plane and two ready versions (v1, v2)
 * of the demo app (examples/demo-app, which answers `{ version }`) behind the service's listener.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { STICKY_COOKIE, type RouteSpec, type ServiceKey, type VersionMetrics } from '../core/dataplane.js';
import { http, waitFor } from '../agent/testkit.js';
import type { TrafficProvider } from '../traffic/types.js';

export interface TrafficFixture {
  traffic: TrafficProvider;
  /** A service with ready instances of v1 and v2 and no routes set yet. */
  key: ServiceKey;
  /** Loopback port of the service's listener, where routed requests arrive. */
  listenPort: number;
  teardown(): Promise<void>;
}

const routes = (weights: Record<string, number>, over: Partial<RouteSpec> = {}): RouteSpec => ({ balance: 'weights', weights, headerRoutes: [], sticky: false, ...over });

async function versionOf(port: number, headers: Record<string, string> = {}): Promise<{ version: string; cookie: string | null }> {
  const r = await http(port, '/', { headers });
  assert.equal(r.status, 200, `the listener answers: ${r.body}`);
  const set = r.headers['set-cookie'];
  const cookie = (Array.isArray(set) ? set : set ? [set] : []).find((c) => c.startsWith(`${STICKY_COOKIE}=`)) ?? null;
  return { version: (JSON.parse(r.body) as { version: string }).version, cookie: cookie ? cookie.split(';')[0]! : null };
}

async function versionsOf(port: number, n: number, headers: Record<string, string> = {}): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await versionOf(port, headers)).version);
  return seen;
}

const counters = (m: VersionMetrics | undefined) => (m ? [m.requests, m.upstreamErrors, m.cutShort, m.retries, m.latency.count, m.latency.sumMs, ...Object.values(m.byClass), ...m.latency.counts] : []);

export function trafficSuite(name: string, setup: () => Promise<TrafficFixture>): void {
  describe(`TrafficProvider contract: ${name}`, { timeout: 120_000 }, () => {
    let f: TrafficFixture;
    let tp: TrafficProvider;
    /** Sets routes and checks they read back exactly as set (the engine's verification). */
    const set = async (r: RouteSpec) => {
      await tp.setRoutes(f.key, r);
      assert.deepEqual(await tp.getRoutes(f.key), r, 'getRoutes gives back what was set');
    };

    before(async () => {
      f = await setup();
      tp = f.traffic;
    });
    after(async () => f?.teardown());

    test('getRoutes is null before any are set, and for an unknown service', async () => {
      assert.equal(await tp.getRoutes(f.key), null);
      assert.equal(await tp.getRoutes({ env: f.key.env, app: 'nothing-here' }), null);
    });

    test('weights: all to one version, then a split; observed back and served so', async () => {
      await set(routes({ v1: 100 }));
      await waitFor('v1 serves', async () => (await versionOf(f.listenPort).catch(() => null))?.version === 'v1');
      assert.deepEqual([...(await versionsOf(f.listenPort, 20))], ['v1']);
      await set(routes({ v1: 0, v2: 100 }));
      assert.deepEqual([...(await versionsOf(f.listenPort, 20))], ['v2']);
      await set(routes({ v1: 50, v2: 50 }));
      // 60 requests at 50/50 all landing on one side: 2^-59.
      assert.deepEqual([...(await versionsOf(f.listenPort, 60))].sort(), ['v1', 'v2']);
    });

    test('header routes send matching requests to their version whatever the weights', async () => {
      await set(routes({ v1: 100 }, { headerRoutes: [{ header: 'x-canary', value: 'yes', version: 'v2' }] }));
      assert.deepEqual([...(await versionsOf(f.listenPort, 10, { 'x-canary': 'yes' }))], ['v2']);
      assert.deepEqual([...(await versionsOf(f.listenPort, 10))], ['v1']);
      assert.deepEqual([...(await versionsOf(f.listenPort, 10, { 'x-canary': 'no' }))], ['v1']);
    });

    test('sticky: a client keeps the version it first got', async () => {
      await set(routes({ v1: 50, v2: 50 }, { sticky: true }));
      const first = await versionOf(f.listenPort);
      assert.ok(first.cookie, `a sticky route pins the client with the ${STICKY_COOKIE} cookie`);
      assert.deepEqual([...(await versionsOf(f.listenPort, 20, { cookie: first.cookie }))], [first.version]);
    });

    test('balance by instances is observed back', async () => {
      await set(routes({ v1: 0, v2: 0 }, { balance: 'instances' }));
      assert.deepEqual([...(await versionsOf(f.listenPort, 40))].sort(), ['v1', 'v2']);
    });

    test('per-version metrics count what was served and never go down', async () => {
      await set(routes({ v1: 100 }));
      const a = await tp.metrics(f.key);
      for (let i = 0; i < 10; i++) await versionOf(f.listenPort);
      const b = await waitFor('10 more v1 requests counted', async () => {
        const m = await tp.metrics(f.key);
        return (m.v1?.requests ?? 0) >= (a.v1?.requests ?? 0) + 10 ? m : null;
      });
      assert.ok((b.v1!.byClass['2xx'] ?? 0) >= (a.v1?.byClass['2xx'] ?? 0) + 10);
      assert.ok(b.v2 && b.v2.requests > 0, 'v2 kept the requests it served earlier');
      const c = await tp.metrics(f.key);
      for (const v of ['v1', 'v2']) {
        const [x, y, z] = [counters(a[v]), counters(b[v]), counters(c[v])];
        y.forEach((n, i) => assert.ok(n >= (x[i] ?? 0) && (z[i] ?? 0) >= n, `${v} counter ${i} is monotonic: ${x[i]} -> ${n} -> ${z[i]}`));
      }
      assert.deepEqual(await tp.metrics({ env: f.key.env, app: 'nothing-here' }), {}, 'an unknown service has no counters');
    });

    test('bad routes are refused with a clear error naming what is wrong, and nothing changes', async () => {
      const good = routes({ v1: 100 });
      await set(good);
      const bad: [RouteSpec, RegExp][] = [
        [routes({ v1: 60, v2: 30 }), /weights/],
        [routes({ v1: 100 }, { headerRoutes: [{ header: 'X Canary', value: 'yes', version: 'v2' }] }), /header/],
        [routes({ v1: 150, v2: -50 }), /weights/],
      ];
      for (const [r, names] of bad) {
        await assert.rejects(tp.setRoutes(f.key, r), (e: unknown) => e instanceof Error && names.test(e.message) && e.message.length >= 20, `refused: ${JSON.stringify(r)}`);
        assert.deepEqual(await tp.getRoutes(f.key), good, 'the routes in force are unchanged');
      }
      assert.deepEqual([...(await versionsOf(f.listenPort, 10))], ['v1']);
    });
  });
}
