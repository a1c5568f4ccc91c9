import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceKey } from '../core/dataplane.js';
import { RollgateError } from '../core/errors.js';
import { AgentClient } from './client.js';
import { Faults } from './faults.js';
import { runAgent, type RunningAgent } from './main.js';
import { demoVersion, http, processAlive, tempDir, waitFor } from './testkit.js';
import { freePort } from '../demo/fixtures.js';

/** Small seeded PRNG (mulberry32): the frequency tests are deterministic. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const key: ServiceKey = { env: 'production', app: 'demo' };

function tally(f: Faults, n: number, version = 'v2'): { failed: number; delayed: number; untouched: number } {
  const out = { failed: 0, delayed: 0, untouched: 0 };
  for (let i = 0; i < n; i++) {
    const d = f.decide(key.env, key.app, version);
    if (d === null) out.untouched++;
    else if (d.failStatus === 503) out.failed++;
    else out.delayed++;
  }
  return out;
}

describe('Faults (router hot path)', () => {
  test('no fault anywhere: null, without reading the clock', () => {
    const f = new Faults(Math.random, () => assert.fail('the clock must not be read when no fault is set'));
    assert.equal(f.decide('production', 'demo', 'v1'), null);
    assert.equal(f.faultFor('production', 'demo', 'v1'), null);
  });

  test('error rate: the share of 503s is within 5 standard deviations of the rate (seeded, N=20000)', () => {
    for (const [rate, seed] of [[0.2, 1], [0.05, 2], [0.5, 3], [0.999, 4]] as const) {
      const f = new Faults(seeded(seed), () => 0);
      f.set(key, 'v2', { errorRate: rate, latencyMs: 0, until: 1000 });
      const n = 20_000;
      const r = tally(f, n);
      const sd = Math.sqrt(n * rate * (1 - rate));
      assert.ok(Math.abs(r.failed - n * rate) <= 5 * sd, `rate ${rate}: ${r.failed} of ${n} failed (expected ${n * rate} ± ${Math.round(5 * sd)})`);
      assert.equal(r.delayed, 0, 'no latency set: requests not failed are untouched');
      assert.equal(r.failed + r.untouched, n);
    }
  });

  test('with the default random source too (N=50000, 6 standard deviations)', () => {
    const f = new Faults();
    f.set(key, 'v2', { errorRate: 0.1, latencyMs: 0, until: Date.now() + 60_000 });
    const n = 50_000;
    const r = tally(f, n);
    assert.ok(Math.abs(r.failed - 5000) <= 6 * Math.sqrt(n * 0.1 * 0.9), `${r.failed} of ${n}`);
  });

  test('latency applies to every request of the version, failed ones included; other versions and services are untouched', () => {
    const f = new Faults(seeded(7), () => 0);
    f.set(key, 'v2', { errorRate: 0.25, latencyMs: 200, until: 1000 });
    const r = tally(f, 4000);
    assert.equal(r.untouched, 0);
    assert.ok(r.failed > 800 && r.failed < 1200, `${r.failed}`);
    for (let i = 0; i < 50; i++) assert.equal(f.decide(key.env, key.app, 'v2')?.delayMs, 200);
    assert.equal(f.decide(key.env, key.app, 'v1'), null);
    assert.equal(f.decide(key.env, 'other', 'v2'), null);
    assert.equal(f.decide('staging', key.app, 'v2'), null);
    // Decisions are made once per fault: the hot path hands out the same frozen objects.
    const seen = new Set<unknown>();
    for (let i = 0; i < 200; i++) seen.add(f.decide(key.env, key.app, 'v2'));
    assert.equal(seen.size, 2);
    for (const d of seen) assert.ok(Object.isFrozen(d));
  });

  test('a fault lapses at `until` by itself', () => {
    let now = 0;
    const f = new Faults(() => 0, () => now);
    f.set(key, 'v2', { errorRate: 1, latencyMs: 0, until: 500 });
    assert.equal(f.decide(key.env, key.app, 'v2')?.failStatus, 503);
    assert.equal(f.list().length, 1);
    now = 499;
    assert.equal(f.decide(key.env, key.app, 'v2')?.failStatus, 503);
    now = 500;
    assert.equal(f.decide(key.env, key.app, 'v2'), null);
    assert.equal(f.size(), 0, 'an expired fault is dropped when seen');
    f.set(key, 'v3', { errorRate: 1, latencyMs: 0, until: 600 });
    now = 700;
    assert.deepEqual(f.list(), [], 'list drops expired faults');
    assert.equal(f.size(), 0);
  });

  test('set replaces; clear one version or the whole service', () => {
    const f = new Faults(() => 0.5, () => 0);
    f.set(key, 'v2', { errorRate: 1, latencyMs: 0, until: 100 });
    f.set(key, 'v2', { errorRate: 0.1, latencyMs: 30, until: 100 });
    assert.equal(f.size(), 1);
    assert.deepEqual(f.decide(key.env, key.app, 'v2'), { failStatus: null, delayMs: 30 });
    f.set(key, 'v1', { errorRate: 1, latencyMs: 0, until: 100 });
    f.set({ env: 'staging', app: 'demo' }, 'v1', { errorRate: 1, latencyMs: 0, until: 100 });
    assert.equal(f.clear(key, 'v9'), 0);
    assert.equal(f.clear(key, 'v1'), 1);
    assert.equal(f.decide(key.env, key.app, 'v1'), null);
    assert.equal(f.clear(key), 1);
    assert.equal(f.decide(key.env, key.app, 'v2'), null);
    assert.equal(f.clear(key), 0);
    assert.deepEqual(f.list().map((x) => `${x.env}/${x.app}/${x.version}`), ['staging/demo/v1']);
    assert.equal(f.size(), 1);
  });
});


describe('agent API: faults and kill', { timeout: 60_000 }, () => {
  const tmp = tempDir('rollgate-faults-');
  let running: RunningAgent;
  let client: AgentClient;
  const pids = new Set<number>();

  before(async () => {
    running = await runAgent({ dataDir: tmp.dir, log: () => undefined, shutdownTimeoutMs: 5000, supervisor: { backoff: { initialMs: 50, maxMs: 500, resetAfterMs: 60_000 } } });
    client = new AgentClient({ url: running.url, token: running.token, timeoutMs: 10_000 });
    await client.putService(key, { listenPort: await freePort(), versions: [demoVersion('v1'), demoVersion('v2')], routes: { balance: 'weights', weights: { v1: 100, v2: 0 }, headerRoutes: [], sticky: false } });
    await waitFor('both versions ready', async () => (await client.getService(key)).versions.every((v) => v.ready === 1));
  });
  after(async () => {
    await running?.stop();
    for (const pid of pids) assert.equal(processAlive(pid), false, `instance process ${pid} outlived the agent`);
    tmp.cleanup();
  });

  test('PUT a fault: it is in force on the agent (agent.faults) and listed; it lapses after its duration', async () => {
    const set = await client.setFault(key, 'v2', { errorRate: 0.2, latencyMs: 150, durationMs: 400 });
    assert.equal(set.version, 'v2');
    assert.equal(set.errorRate, 0.2);
    assert.ok(Date.parse(set.until) > Date.now());
    assert.deepEqual((await client.listFaults(key)).map((f) => [f.version, f.errorRate, f.latencyMs]), [['v2', 0.2, 150]]);
    assert.equal(running.agent.faults.decide(key.env, key.app, 'v2')?.delayMs, 150);
    assert.equal(running.agent.faults.decide(key.env, key.app, 'v1'), null);
    await waitFor('the fault to lapse', async () => (await client.listFaults(key)).length === 0, 5000);
    assert.equal(running.agent.faults.decide(key.env, key.app, 'v2'), null);
  });

  test('through the router: an injected fault fails or slows only that version, and counts as its answers', async () => {
    const listen = (await client.getService(key)).listenPort;
    await client.setFault(key, 'v2', { errorRate: 1, latencyMs: 0, durationMs: 60_000 });
    await client.setFault(key, 'v1', { errorRate: 0, latencyMs: 300, durationMs: 60_000 });
    try {
      const before = (await client.getService(key)).metrics;
      const v2 = await Promise.all(Array.from({ length: 5 }, () => http(listen, '/', { headers: { 'x-rollgate-version': 'v2' } })));
      assert.deepEqual(v2.map((r) => r.status), [503, 503, 503, 503, 503]);
      assert.match(v2[0]!.body, /injected_fault/);
      assert.equal(v2[0]!.headers['x-rollgate-version'], 'v2');
      const v1 = await http(listen, '/', { headers: { 'x-rollgate-version': 'v1' } });
      assert.equal(v1.status, 200);
      const after = (await client.getService(key)).metrics;
      assert.equal((after.v2?.byClass['5xx'] ?? 0) - (before.v2?.byClass['5xx'] ?? 0), 5, 'injected failures are the version\'s 5xx');
      // The held v1 request lands in a latency bucket at or above the injected delay.
      const h = after.v1!.latency;
      const b = before.v1?.latency;
      const idx = h.boundsMs.findIndex((x) => x >= 250);
      const slowNow = h.count - (h.counts[idx - 1] ?? 0);
      const slowBefore = b ? b.count - (b.counts[idx - 1] ?? 0) : 0;
      assert.equal(slowNow - slowBefore, 1, `one request above ${h.boundsMs[idx - 1]}ms`);
    } finally {
      await client.clearFaults(key);
    }
  });

  test('DELETE clears one version or all', async () => {
    await client.setFault(key, 'v1', { errorRate: 0, latencyMs: 10, durationMs: 60_000 });
    await client.setFault(key, 'v2', { errorRate: 1, latencyMs: 0, durationMs: 60_000 });
    assert.equal(await client.clearFaults(key, 'v1'), 1);
    assert.deepEqual((await client.listFaults(key)).map((f) => f.version), ['v2']);
    assert.equal(await client.clearFaults(key), 1);
    assert.equal(await client.clearFaults(key), 0);
    assert.deepEqual(await client.listFaults(key), []);
  });

  test('bad faults are refused with 400 naming the field; unknown services and versions with 404', async () => {
    const put = (path: string, body: unknown) =>
      fetch(`${running.url}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${running.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await put('/v1/services/production/demo/faults/v2', { errorRate: 1.5, latencyMs: 0, durationMs: 1000 });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /body\.errorRate: must be from 0 to 1/);
    const long = await put('/v1/services/production/demo/faults/v2', { errorRate: 0.1, latencyMs: 0, durationMs: 7_200_000 });
    assert.match(((await long.json()) as { error: { message: string } }).error.message, /durationMs: must be at most 3600000 \(1h\)/);
    const empty = await put('/v1/services/production/demo/faults/v2', { errorRate: 0, latencyMs: 0, durationMs: 1000 });
    assert.match(((await empty.json()) as { error: { message: string } }).error.message, /errorRate > 0 or latencyMs > 0/);
    const badVersion = await put('/v1/services/production/demo/faults/bad%20v', { errorRate: 0.1, latencyMs: 0, durationMs: 1000 });
    assert.equal(badVersion.status, 400);
    await assert.rejects(client.setFault(key, 'v9', { errorRate: 0.1, latencyMs: 0, durationMs: 1000 }), (e: unknown) => e instanceof RollgateError && e.code === 'not_found' && /runs no version v9; it runs v1, v2/.test(e.message));
    await assert.rejects(client.setFault({ env: 'production', app: 'nope' }, 'v1', { errorRate: 0.1, latencyMs: 0, durationMs: 1000 }), (e: unknown) => e instanceof RollgateError && e.code === 'not_found');
    await assert.rejects(client.killInstance(key, 'v9'), (e: unknown) => e instanceof RollgateError && e.code === 'not_found');
    assert.deepEqual(await client.listFaults(key), [], 'nothing was set');
  });

  test('kill: SIGKILL to one instance; the supervisor restarts it (restarts + 1) and it serves again', async () => {
    const before = (await client.getService(key)).versions.find((v) => v.version === 'v2')!.instances[0]!;
    assert.ok(before.pid);
    pids.add(before.pid);
    const res = await client.killInstance(key, 'v2');
    assert.equal(res.signal, 'SIGKILL');
    assert.equal(res.killed.id, before.id);
    assert.equal(res.killed.pid, before.pid);
    await waitFor('the killed process to be gone', () => !processAlive(before.pid!), 5000);
    const after = await waitFor(
      'the instance to be restarted and ready',
      async () => {
        const inst = (await client.getService(key)).versions.find((v) => v.version === 'v2')?.instances.find((i) => i.id === before.id);
        return inst && inst.state === 'ready' && inst.pid !== before.pid ? inst : null;
      },
      15_000,
    );
    if (after.pid) pids.add(after.pid);
    assert.equal(after.restarts, before.restarts + 1);
    // The restarted instance answers through the router.
    const r = await http((await client.getService(key)).listenPort, '/', { headers: { 'x-rollgate-version': 'v2' } });
    assert.equal(r.status, 200);
  });
});
