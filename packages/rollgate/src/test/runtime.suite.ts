/**
 * The behaviour every Runtime owes the engine, run against each implementation (as
 * metrics/source.suite.ts is for metric sources). An implementation's test file calls
 * `runtimeSuite` with a setup that starts the real thing the runtime drives (an agent, a cluster)
 * and says how to declare a version of the demo app (examples/demo-app) there.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { InstanceObserved, ServiceKey, ServiceObserved, VersionDesired } from '../core/dataplane.js';
import type { LogLine } from '../api/contract.js';
import { waitFor } from '../agent/testkit.js';
import type { InstanceChange, Runtime, ServiceDeclaration } from '../runtime/types.js';

export interface RuntimeFixture {
  runtime: Runtime;
  /** A version of the demo app with these replicas, as this runtime runs it. */
  version(name: string, replicas: number): VersionDesired;
  /** The service's listener (a free port on this host). */
  listen: { host: string; port: number };
  /** Stops what setup started (after `runtime.close()`, which the suite calls). */
  teardown(): Promise<void>;
}

const key: ServiceKey = { env: 'suite', app: 'demo' };

/** GET on an instance's endpoint, straight (not through any router): the endpoint must be real. */
function getStatus(endpoint: string, path: string): Promise<number> {
  const i = endpoint.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = request({ host: endpoint.slice(0, i), port: Number(endpoint.slice(i + 1)), path, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${endpoint}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const live = (i: InstanceObserved) => i.state === 'starting' || i.state === 'ready';
const pidsOf = (o: ServiceObserved | null) => (o?.versions ?? []).flatMap((v) => v.instances.filter(live).map((i) => `${i.id}:${i.pid}`)).sort();

export function runtimeSuite(name: string, setup: () => Promise<RuntimeFixture>): void {
  describe(`Runtime contract: ${name}`, { timeout: 120_000 }, () => {
    let f: RuntimeFixture;
    let rt: Runtime;
    const changes: InstanceChange[] = [];
    let unwatch: () => void = () => {};
    const declare = (versions: Record<string, number>): ServiceDeclaration => ({
      ...key,
      listenHost: f.listen.host,
      listenPort: f.listen.port,
      hosts: [],
      versions: Object.entries(versions).map(([v, n]) => f.version(v, n)),
    });
    /** Waits until every listed version has exactly that many ready instances and no other live one. */
    const converged = (versions: Record<string, number>) =>
      waitFor(`replicas ${JSON.stringify(versions)}`, async () => {
        const o = await rt.observe(key);
        if (!o) return null;
        for (const [v, n] of Object.entries(versions)) {
          const seen = o.versions.find((x) => x.version === v);
          const ready = seen?.instances.filter((i) => i.state === 'ready').length ?? 0;
          if (ready !== n || (seen?.instances.filter(live).length ?? 0) !== n) return null;
        }
        const others = o.versions.filter((x) => !(x.version in versions)).flatMap((x) => x.instances.filter(live));
        return others.length === 0 ? o : null;
      }, 30_000);

    before(async () => {
      f = await setup();
      rt = f.runtime;
      unwatch = rt.watch((c) => changes.push(c));
    });
    after(async () => {
      unwatch();
      await rt?.close();
      await f?.teardown();
    });

    test('observe of a service the runtime does not know is null', async () => {
      assert.equal(await rt.observe({ env: 'suite', app: 'nothing-here' }), null);
    });

    test('apply converges up: instances report health and a real endpoint (host:port)', async () => {
      const first = await rt.apply(declare({ v1: 2 }));
      assert.equal(first.env, key.env);
      assert.equal(first.app, key.app);
      const o = await converged({ v1: 2 });
      const v1 = o.versions.find((v) => v.version === 'v1')!;
      assert.equal(v1.desiredReplicas, 2);
      assert.equal(v1.ready, 2);
      assert.equal(v1.releaseId, f.version('v1', 2).releaseId);
      assert.equal(v1.failed, false);
      const endpoints = v1.instances.map((i) => i.endpoint);
      for (const e of endpoints) assert.match(e ?? '', /^[^\s:]+:\d{1,5}$/, `every instance names its endpoint, got ${String(e)}`);
      assert.equal(new Set(endpoints).size, 2, 'each instance has its own endpoint');
      for (const e of endpoints) assert.equal(await getStatus(e!, '/healthz'), 200, `the demo app answers on ${e}`);
    });

    test('apply is idempotent: the same declaration again replaces nothing', async () => {
      const before = pidsOf(await rt.observe(key));
      await rt.apply(declare({ v1: 2 }));
      await rt.apply(declare({ v1: 2 }));
      const o = await converged({ v1: 2 });
      assert.deepEqual(pidsOf(o), before);
    });

    test('apply converges down, and to a second version', async () => {
      await rt.apply(declare({ v1: 1 }));
      await converged({ v1: 1 });
      await rt.apply(declare({ v1: 1, v2: 1 }));
      const both = await converged({ v1: 1, v2: 1 });
      assert.deepEqual(both.versions.map((v) => v.version).sort(), ['v1', 'v2']);
      await rt.apply(declare({ v2: 1 }));
      const only = await converged({ v2: 1 });
      const v1 = only.versions.find((v) => v.version === 'v1');
      assert.ok(!v1 || v1.desiredReplicas === 0, 'a version no longer declared is wanted at 0');
    });

    test('observeAll reports the service', async () => {
      const all = await rt.observeAll();
      const mine = all.filter((o) => o.env === key.env && o.app === key.app);
      assert.equal(mine.length, 1);
      assert.ok(mine[0]!.versions.some((v) => v.version === 'v2' && v.ready === 1));
    });

    test('watch reported the instance changes, with the service and the instance', async () => {
      const v2 = (await rt.observe(key))!.versions.find((v) => v.version === 'v2')!.instances.find((i) => i.state === 'ready')!;
      await waitFor('a ready change for the v2 instance', () => changes.some((c) => c.env === key.env && c.app === key.app && c.instance.id === v2.id && c.instance.state === 'ready'));
      assert.ok(changes.some((c) => c.instance.version === 'v2' && c.instance.state === 'starting'), 'starting was reported too');
      assert.ok(changes.some((c) => c.instance.version === 'v1' && ['draining', 'stopped'].includes(c.instance.state)), 'scaling down was reported');
    });

    test('logs: what instances wrote, filtered by version and instance', async () => {
      const lines = await waitFor('a log line of v2', async () => {
        const l = await rt.logs(key, { version: 'v2', tail: 50 });
        return l.length > 0 ? l : null;
      });
      assert.ok(lines.every((l) => l.version === 'v2'));
      const id = lines[0]!.instance;
      const one = await rt.logs(key, { instance: id, tail: 50 });
      assert.ok(one.length > 0 && one.every((l) => l.instance === id));
      assert.ok((await rt.logs(key, { version: 'v2', tail: 1 })).length <= 1, 'tail bounds the answer');
    });

    test('followLogs (when offered): lines written after it opened arrive, and abort ends it', async (t) => {
      if (!rt.followLogs) {
        t.skip(`${name} offers no live logs`);
        return;
      }
      const got: LogLine[] = [];
      const ctl = new AbortController();
      let opened!: () => void;
      const open = new Promise<void>((r) => (opened = r));
      const done = rt.followLogs(key, { version: 'v2' }, (l) => got.push(l), { signal: ctl.signal, onOpen: () => opened() });
      await open;
      const before = new Set((await rt.observe(key))!.versions.flatMap((v) => v.instances.map((i) => i.id)));
      await rt.apply(declare({ v2: 2 }));
      const o = await converged({ v2: 2 });
      const fresh = o.versions.flatMap((v) => v.instances).find((i) => !before.has(i.id) && i.state === 'ready')!;
      await waitFor(`a live line of ${fresh.id}`, () => got.some((l) => l.instance === fresh.id));
      assert.ok(got.every((l) => l.version === 'v2'));
      ctl.abort();
      await done;
    });

    test('close ends the runtime (twice is harmless)', async () => {
      unwatch();
      await rt.close();
      await rt.close();
    });
  });
}
