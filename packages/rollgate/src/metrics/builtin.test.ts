import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BuiltinSource } from './builtin.js';
import { AgentClient } from '../agent/client.js';
import { BuiltinTraffic } from '../traffic/builtin.js';
import type { TrafficProvider } from '../traffic/types.js';
import { metricSourceSuite } from './source.suite.js';
import { freePort, hungServer, startDemoAgent, type DemoAgent } from './testkit.js';
import type { BuiltinQuery, MeasureContext } from './types.js';

const q = (metric: BuiltinQuery['metric'], over: Partial<BuiltinQuery> = {}): BuiltinQuery => ({ metric, quantile: 0.5, compareToStable: true, tolerance: 1.2, ...over });
const ctx: Omit<MeasureContext, 'signal'> = { app: 'demo', env: 'production', canary: 'v2', stable: 'v1', windowMs: 60_000 };
const signal = () => new AbortController().signal;

interface Raw {
  spanMs: number;
  canary: { version: string; requests: number; errors: number; value: number | null };
  stable: { version: string; requests: number; errors: number; value: number | null } | null;
}

// One agent for the file: the canary fails a quarter of its requests and is 30 ms slow.
let shared: Promise<DemoAgent> | null = null;
const demo = () => (shared ??= startDemoAgent({ FAIL_RATE: '0.25', LATENCY_MS: '30' }));
let source: BuiltinSource;

/** The real agent for app "demo"; app "hung" reads from an agent that never answers; any other from one that is not there. */
function routed(live: TrafficProvider, hung: TrafficProvider, dead: TrafficProvider): TrafficProvider {
  return {
    name: 'builtin',
    setRoutes: (k, r) => live.setRoutes(k, r),
    getRoutes: (k) => live.getRoutes(k),
    metrics: (k) => (k.app === 'demo' ? live.metrics(k) : k.app === 'hung' ? hung.metrics(k) : dead.metrics(k)),
  };
}


metricSourceSuite('builtin', async () => {
  const d = await demo();
  const dead = new BuiltinTraffic(new AgentClient({ url: `http://127.0.0.1:${await freePort()}`, token: 'x', timeoutMs: 2000 }));
  const hung = await hungServer();
  const stuck = new BuiltinTraffic(new AgentClient({ url: hung.url, token: 'x', timeoutMs: 30_000 }));
  source = new BuiltinSource(routed(d.traffic, stuck, dead), { firstSpanMs: 100, readTimeoutMs: 2000 });
  // The first measurement sets the start of the window (no traffic yet: inconclusive).
  const first = await source.measure(q('errorRate'), { ...ctx, signal: signal() });
  assert.equal(first.value, null);
  assert.match(first.inconclusive ?? '', /no request reached v2/);
  await d.send('v2', 200);
  await d.send('v1', 100);
  const t = d.tally.get('v2')!;
  return {
    source,
    ctx,
    okQuery: q('errorRate'),
    // Exactly what the client saw: 5xx / requests answered by v2.
    okValue: (v) => v === t.c5xx / t.requests,
    errorQuery: q('errorRate'),
    errorCtx: { ...ctx, app: 'gone' },
    // An agent that never answers: the reading is given up after readTimeoutMs, not the client's 30 s.
    slowQuery: q('errorRate'),
    slowCtx: { ...ctx, app: 'hung' },
    slowNaturalMs: 30_000,
    teardown: () => hung.close(),
  };
});

describe('builtin metric source over a real agent', { timeout: 60_000 }, () => {
  let d: DemoAgent;
  before(async () => {
    d = await demo();
  });
  after(async () => {
    await d?.stop();
  });

  test('error rate: canary and stable, as the client counted them', async () => {
    const m = await source.measure(q('errorRate'), { ...ctx, signal: signal() });
    const raw = m.raw as Raw;
    const v2 = d.tally.get('v2')!;
    const v1 = d.tally.get('v1')!;
    assert.ok(v2.c5xx > 0 && v2.c5xx < v2.requests, `the canary failed some requests (${v2.c5xx}/${v2.requests})`);
    assert.deepEqual({ requests: raw.canary.requests, errors: raw.canary.errors }, { requests: v2.requests, errors: v2.c5xx });
    assert.deepEqual({ requests: raw.stable!.requests, errors: raw.stable!.errors }, { requests: v1.requests, errors: 0 });
    assert.equal(raw.stable!.value, 0);
  });

  test('latency quantile: the 30 ms canary lands in the (25, 50] ms bucket, the stable below', async () => {
    const m = await source.measure(q('latency', { quantile: 0.5 }), { ...ctx, signal: signal() });
    assert.equal(m.error, null);
    const v = m.value as number;
    assert.ok(v > 25 && v <= 50, `canary p50 ${v}ms`);
    const stable = (m.raw as Raw).stable!.value as number;
    assert.ok(stable < 25, `stable p50 ${stable}ms`);
    const p99 = await source.measure(q('latency', { quantile: 0.99 }), { ...ctx, signal: signal() });
    assert.ok((p99.value as number) >= v, 'p99 ≥ p50');
  });

  test('request rate: requests over the span covered, in requests/s', async () => {
    const m = await source.measure(q('requestRate'), { ...ctx, signal: signal() });
    const raw = m.raw as Raw;
    assert.ok(raw.spanMs > 0);
    assert.equal(m.value, raw.canary.requests / (raw.spanMs / 1000));
    assert.ok((m.value as number) > 0);
  });

  test('a window with no canary request is inconclusive (not a pass); request rate is 0', async () => {
    await new Promise((r) => setTimeout(r, 150));
    const quiet = { ...ctx, windowMs: 100 };
    const m = await source.measure(q('errorRate'), { ...quiet, signal: signal() });
    assert.equal(m.value, null);
    assert.equal(m.error, null);
    assert.match(m.inconclusive ?? '', /no request reached v2 in the last/);
    await new Promise((r) => setTimeout(r, 150));
    const rate = await source.measure(q('requestRate'), { ...quiet, signal: signal() });
    assert.equal(rate.value, 0);
  });

  test('new traffic after the window start is counted; the older is not', async () => {
    await new Promise((r) => setTimeout(r, 150));
    await source.measure(q('errorRate'), { ...ctx, windowMs: 100, signal: signal() }); // a reading now
    const before = d.tally.get('v2')!.requests;
    await new Promise((r) => setTimeout(r, 150));
    await d.send('v2', 40);
    const m = await source.measure(q('errorRate'), { ...ctx, windowMs: 100, signal: signal() });
    assert.equal((m.raw as Raw).canary.requests, d.tally.get('v2')!.requests - before);
  });
});
