/**
 * The flag guard's data plane against real processes: a `rollgate agent` process whose router
 * serves an app instance (test/flag-app.ts, a real node process evaluating flags through
 * @rollgate/sdk/node), traffic over loopback, the report read with the agent client (parsed by
 * the dataplane schema), and the judge glue (core/flag-guard.ts) fed from those real counters.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FlagMetrics, ServiceKey, VersionMetrics } from '../core/dataplane.js';
import { flagVariantMetrics, lookFlagGuard, newFlagGuard, type FlagGuardLook } from '../core/flag-guard.js';
import { freePort } from '../demo/fixtures.js';
import { SplitPlatform } from '../test/split-platform.js';
import { AgentClient } from './client.js';
import { request, type Reply } from './router-testkit.js';
import { FAST_HEALTH, tempDir, waitFor } from './testkit.js';

const FLAG_APP = fileURLToPath(new URL('../test/flag-app.js', import.meta.url));
const key: ServiceKey = { env: 'staging', app: 'shop' };

/** One request through the router (keep-alive when given an agent). */
function send(port: number, path: string, agent: http.Agent | false, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return request(port, { path, agent, headers, method });
}

/** The raw bytes of one answer on a fresh connection (to see the head exactly as sent). */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      got += d;
      if (got.includes('\r\n\r\n')) s.end();
    });
    s.on('close', () => resolve(got));
    s.on('error', reject);
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

type Served = Record<string, string>;
interface Tally {
  requests: number;
  errors: number;
}

/** Sends `n` requests with random user ids over keep-alive; tallies what each (flag, variant) served, from the bodies. */
async function traffic(port: number, n: number, path = '/'): Promise<Map<string, Tally>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const tally = new Map<string, Tally>();
  try {
    for (let done = 0; done < n; done += 50) {
      const batch = Math.min(50, n - done);
      const replies = await Promise.all(Array.from({ length: batch }, () => send(port, path, agent, { 'x-user-id': `u${Math.floor(Math.random() * 1e9)}` })));
      for (const r of replies) {
        assert.equal(r.headers['rollgate-flags'], undefined, 'the flags header reached the client');
        const served = (JSON.parse(r.body) as { served: Served }).served;
        for (const [flag, variant] of Object.entries(served)) {
          const k = `${flag}=${variant}`;
          const t = tally.get(k) ?? { requests: 0, errors: 0 };
          t.requests++;
          if (r.status >= 500) t.errors++;
          tally.set(k, t);
        }
      }
    }
  } finally {
    agent.destroy();
  }
  return tally;
}

function pairOf(m: FlagMetrics | undefined, flag: string, variant: string): VersionMetrics {
  return flagVariantMetrics(m, flag, variant) ?? { requests: 0, byClass: {}, upstreamErrors: 0, cutShort: 0, retries: 0, latency: { boundsMs: [], counts: [], sumMs: 0, count: 0 } };
}

describe('flag guard data plane (real agent process, real app)', { timeout: 150_000 }, () => {
  const tmp = tempDir('rollgate-flag-guard-');
  const platform = new SplitPlatform(tmp.dir);
  let client: AgentClient;
  let port: number;

  const report = async (): Promise<FlagMetrics> => {
    const s = await client.getService(key);
    assert.ok(s.flagMetrics, 'the agent report carries flagMetrics');
    return s.flagMetrics;
  };

  before(async () => {
    await platform.startAgent(['--isolation', 'none']);
    const conn = await platform.agentConnection();
    client = new AgentClient({ url: conn.url, token: conn.token, timeoutMs: 10_000 });
    port = await freePort();
    await client.putService(key, {
      listenPort: port,
      versions: [
        {
          version: 'v1',
          releaseId: 'rel-v1',
          dir: tmp.dir,
          command: `${JSON.stringify(process.execPath)} ${JSON.stringify(FLAG_APP)}`,
          portEnv: 'PORT',
          env: { TREATMENT_FAIL_RATE: '0.1' },
          replicas: 1,
          health: FAST_HEALTH,
          drainTimeoutMs: 2000,
          isolation: 'none',
        },
      ],
      routes: { balance: 'weights', weights: { v1: 100 }, headerRoutes: [], sticky: false },
    });
    await waitFor('the app serving through the router', async () => {
      try {
        return (await send(port, '/', false, { 'x-user-id': 'warm' })).status < 500;
      } catch {
        return false;
      }
    }, 20_000);
  });

  after(async () => {
    await platform.stopAll();
    tmp.cleanup();
  });

  test('(a) the rollgate-flags header never reaches the client: plain, keep-alive, chunked, HEAD, 304, malformed', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const [path, method] of [['/', 'GET'], ['/chunked', 'GET'], ['/', 'HEAD'], ['/not-modified', 'GET'], ['/raw?v=%25ZZ%3Don', 'GET'], ['/hostile?n=3', 'GET']] as const) {
        for (const a of [agent, false] as const) {
          const r = await send(port, path, a, { 'x-user-id': 'alice' }, method);
          assert.equal(r.headers['rollgate-flags'], undefined, `${method} ${path}`);
          assert.ok(r.status === 200 || r.status === 304 || r.status === 500, `${method} ${path}: ${r.status}`);
          if (path === '/chunked' && r.status === 200) {
            assert.equal(r.headers['transfer-encoding'], 'chunked');
            assert.ok((JSON.parse(r.body) as { served: Served }).served['new-checkout']);
          }
          if (method === 'HEAD' || r.status === 304) assert.equal(r.body, '');
        }
      }
    } finally {
      agent.destroy();
    }
    // The bytes as sent: no such field in the head, whatever its case.
    const raw = await rawExchange(port, 'GET / HTTP/1.1\r\nhost: x\r\nx-user-id: bob\r\nconnection: close\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 (200|500)/);
    assert.doesNotMatch(raw.toLowerCase(), /rollgate-flags/);
  });

  test('(a) upgrades: the field is taken out of the 101 head, the rest of it and the tunnel are untouched, the pairs counted', async () => {
    const before = await report();
    const got = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /ws HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: echo\r\n\r\n'));
      let buf = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        const first = !buf.includes('\r\n\r\n');
        buf += d;
        if (first && buf.includes('\r\n\r\n')) s.write('ping-through-tunnel');
        if (buf.includes('ping-through-tunnel')) s.end();
      });
      s.on('close', () => resolve(buf));
      s.on('error', reject);
      setTimeout(() => s.destroy(), 5000).unref();
    });
    assert.equal(got, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nx-after: kept\r\n\r\nping-through-tunnel');
    const after = await report();
    for (const flag of ['ws-flag', 'ws-other']) assert.equal(pairOf(after, flag, 'on').requests - pairOf(before, flag, 'on').requests, 1, flag);
  });

  test('(b) the report counts requests, errors and latency per (flag, variant), adding up to what was sent', async () => {
    const before = await report();
    const sent = 600;
    const tally = await traffic(port, sent);
    const after = await report();
    let checkoutTotal = 0;
    for (const [k, t] of tally) {
      const [flag, variant] = k.split('=') as [string, string];
      const b = pairOf(before, flag, variant);
      const a = pairOf(after, flag, variant);
      assert.equal(a.requests - b.requests, t.requests, `${k} requests`);
      assert.equal((a.byClass['5xx'] ?? 0) - (b.byClass['5xx'] ?? 0), t.errors, `${k} errors`);
      assert.equal(a.latency.count - b.latency.count, t.requests, `${k} latency count`);
      assert.equal((a.latency.counts.at(-1) ?? 0) - (b.latency.counts.at(-1) ?? 0), t.requests, `${k} latency +Inf bucket`);
      assert.ok(a.latency.sumMs > b.latency.sumMs, `${k} latency sum grows`);
      assert.deepEqual(a.latency.boundsMs, [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000], 'the per-version buckets');
      if (flag === 'new-checkout') checkoutTotal += t.requests;
    }
    assert.equal(checkoutTotal, sent, 'control + treatment of new-checkout = requests sent');
    for (const flag of ['new-checkout', 'new-search', 'dark-mode']) {
      const variants = flag === 'dark-mode' ? ['on', 'off'] : ['control', 'treatment'];
      const sum = variants.reduce((n, v) => n + pairOf(after, flag, v).requests - pairOf(before, flag, v).requests, 0);
      assert.equal(sum, sent, `${flag}: variants add up to what was sent`);
    }
    // Only treatment of new-checkout fails; nothing else.
    assert.ok((tally.get('new-checkout=treatment')?.errors ?? 0) > 0, 'some treatment requests failed');
    assert.equal(tally.get('new-checkout=control')?.errors ?? 0, 0);
  });

  test('(c) the glue fails a treatment failing 10% from the real counters; a healthy flag passes', async () => {
    const start = await report();
    let checkout = newFlagGuard({ flag: 'new-checkout', treatment: 'treatment', control: 'control' }, start);
    let search = newFlagGuard({ flag: 'new-search', treatment: 'treatment', control: 'control' }, start);
    let failed: FlagGuardLook | null = null;
    let lastSearch: FlagGuardLook | null = null;
    for (let look = 1; look <= 30; look++) {
      await traffic(port, 100);
      const now = await report();
      if (failed === null) {
        const c = lookFlagGuard(checkout, now);
        checkout = c.state;
        if (c.verdict === 'fail') failed = c;
      }
      lastSearch = lookFlagGuard(search, now);
      search = lastSearch.state;
      assert.notEqual(lastSearch.verdict, 'fail', `healthy flag failed: ${lastSearch.reason}`);
      if (failed !== null && look >= 10 && lastSearch.verdict === 'pass') break;
    }
    assert.ok(failed, 'the failing treatment was never judged failing');
    assert.equal(failed.final, true);
    assert.match(failed.reason, /^flag new-checkout: treatment vs control: error-rate/);
    assert.equal(lastSearch?.verdict, 'pass', lastSearch?.reason);
  });

  test('(d) a hostile app sending thousands of distinct names keeps counters bounded; malformed headers are dropped, responses intact', async () => {
    const before = await report();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    try {
      for (let i = 0; i < 400; i += 50) {
        const replies = await Promise.all(Array.from({ length: 50 }, () => send(port, '/hostile?n=16', agent)));
        for (const r of replies) {
          assert.equal(r.status, 200);
          assert.equal(r.body, 'hostile');
          assert.equal(r.headers['rollgate-flags'], undefined);
        }
      }
      const huge = encodeURIComponent(Array.from({ length: 700 }, (_, i) => `f${i}=on`).join(', '));
      const many = encodeURIComponent(Array.from({ length: 40 }, (_, i) => `m${i}=on`).join(','));
      const bad = ['%25ZZ%3Don', huge, many, 'no-equals-sign', encodeURIComponent('a=b=c'), encodeURIComponent(`${'x'.repeat(300)}=on`)];
      for (const v of bad) {
        const r = await send(port, `/raw?v=${v}`, agent);
        assert.equal(r.status, 200);
        assert.equal(r.body, 'raw');
        assert.equal(r.headers['rollgate-flags'], undefined);
      }
      const marker = await send(port, `/raw?v=${encodeURIComponent('new-checkout=control, +5')}`, agent);
      assert.equal(marker.body, 'raw');
    } finally {
      agent.destroy();
    }
    const after = await report();
    assert.equal(after.maxPairs, 256);
    assert.equal(after.pairs.length, 256, 'the table is full, not larger');
    // 400 x 16 random names: all but the free places are dropped.
    assert.ok(after.droppedPairs - before.droppedPairs >= 400 * 16 - (256 - before.pairs.length), `dropped ${after.droppedPairs - before.droppedPairs}`);
    assert.equal(after.malformed - before.malformed, 6, 'each malformed header counted once');
    assert.equal(after.appDropped - before.appDropped, 5);
    // Pairs already tracked keep counting, and normal traffic still flows.
    const t = await traffic(port, 50);
    const again = await report();
    const sum = pairOf(again, 'new-checkout', 'control').requests + pairOf(again, 'new-checkout', 'treatment').requests;
    const was = pairOf(after, 'new-checkout', 'control').requests + pairOf(after, 'new-checkout', 'treatment').requests;
    assert.equal(sum - was, 50);
    assert.ok(t.size > 0);
  });
});
