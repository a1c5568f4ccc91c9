import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { requireAllBackends } from '../test/pg.js';
import { quantileFromHistogram } from './counters.js';
import { PrometheusSource } from './prometheus.js';
import { findPrometheus, startPrometheus, type PrometheusServer } from './prometheus-server.js';
import { metricSourceSuite } from './source.suite.js';
import { freePort, hungServer, startDemoAgent, type DemoAgent } from './testkit.js';
import type { MeasureContext, Measurement, PrometheusQuery } from './types.js';

const ctx: Omit<MeasureContext, 'signal'> = { app: 'demo', env: 'production', canary: 'v2', stable: 'v1', windowMs: 60_000 };
const COUNT = 'sum(rollgate_requests_total{app="{{app}}",env="{{env}}",version="{{canary}}"})';
const found = findPrometheus();

interface Fixture {
  demo: DemoAgent;
  prom: PrometheusServer;
  /** A TCP server that accepts and never answers: a hung Prometheus. */
  hung: { url: string; close(): Promise<void> };
  source: PrometheusSource;
  q(query: string, over?: Partial<PrometheusQuery>): PrometheusQuery;
  measure(query: string, over?: Partial<MeasureContext>): Promise<Measurement>;
}


let fixture: Promise<Fixture> | null = null;
async function setup(bin: string): Promise<Fixture> {
  const demo = await startDemoAgent({ FAIL_RATE: '0.2', LATENCY_MS: '30' });
  let prom: PrometheusServer;
  try {
    prom = await startPrometheus(bin, [demo.apiHostPort]);
  } catch (e) {
    await demo.stop();
    throw e;
  }
  const hung = await hungServer();
  const source = new PrometheusSource();
  const q = (query: string, over: Partial<PrometheusQuery> = {}): PrometheusQuery => ({ address: prom.url, query, timeout: '5s', ...over });
  const measure = (query: string, over: Partial<MeasureContext> = {}) => source.measure(q(query), { ...ctx, signal: new AbortController().signal, ...over });
  // Two bursts with a scrape between them, so rate() over the window sees the counter rise.
  const seen = async (n: number) => {
    let last: Measurement | null = null;
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      last = await measure(COUNT);
      if (last.value === n) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`Prometheus never saw ${n} canary requests; last: ${JSON.stringify(last)}`);
  };
  await demo.send('v2', 100);
  await demo.send('v1', 50);
  await seen(demo.tally.get('v2')!.requests);
  await demo.send('v2', 100);
  await seen(demo.tally.get('v2')!.requests);
  return { demo, prom, hung, source, q, measure };
}

if ('missing' in found) {
  test('Prometheus metric source against a real Prometheus', (t) => {
    if (requireAllBackends()) assert.fail(`${found.missing} (ROLLGATE_REQUIRE_ALL=1)`);
    console.warn(`\n*** SKIPPED: Prometheus metric source tests — ${found.missing} ***\n`);
    t.skip(found.missing);
  });
} else {
  const get = () => (fixture ??= setup(found.bin));

  metricSourceSuite('prometheus', async () => {
    const f = await get();
    return {
      source: f.source,
      ctx,
      okQuery: f.q(COUNT),
      okValue: f.demo.tally.get('v2')!.requests,
      errorQuery: f.q('sum(rate(rollgate_requests_total[{{window}}])'),
      slowQuery: { address: f.hung.url, query: COUNT, timeout: '300ms' },
      slowNaturalMs: 30_000,
      teardown: async () => undefined,
    };
  });

  describe('Prometheus metric source against a real Prometheus', { timeout: 60_000 }, () => {
    let f: Fixture;
    before(async () => {
      f = await get();
      console.log(`prometheus ${f.prom.version}`);
    });
    after(async () => {
      await f?.hung.close();
      await f?.prom.stop();
      await f?.demo.stop();
    });

    test('rate over {{window}} and an error ratio from the router counters', async () => {
      // rate() needs two fresh samples in the window; on a loaded machine a scrape can be late or time out.
      let rate = await f.measure('sum(rate(rollgate_requests_total{app="{{app}}",env="{{env}}",version="{{canary}}"}[{{window}}]))');
      for (const deadline = Date.now() + 20_000; rate.error !== null && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 250));
        rate = await f.measure('sum(rate(rollgate_requests_total{app="{{app}}",env="{{env}}",version="{{canary}}"}[{{window}}]))');
      }
      assert.equal(rate.error, null);
      assert.ok((rate.value as number) > 0, `rate ${rate.value}`);
      assert.match((rate.raw as { query: string }).query, /\[60s\]\)\)$/);
      const t = f.demo.tally.get('v2')!;
      const ratio = await f.measure('sum(rollgate_requests_total{app="{{app}}",version="{{canary}}",code_class="5xx"}) / sum(rollgate_requests_total{app="{{app}}",version="{{canary}}"})');
      assert.equal(ratio.value, t.c5xx / t.requests);
      const scalar = await f.measure('scalar(sum(rollgate_requests_total{version="{{stable}}"}))');
      assert.equal(scalar.value, f.demo.tally.get('v1')!.requests);
    });

    test('histogram_quantile in Prometheus agrees with quantileFromHistogram on the same counters', async () => {
      const agentView = (await f.demo.client.getService(f.demo.key)).metrics['v2']!.latency;
      for (const q of [0.5, 0.95, 0.99]) {
        const m = await f.measure(`histogram_quantile(${q}, sum by (le) (rollgate_request_duration_seconds_bucket{app="{{app}}",version="{{canary}}"})) * 1000`);
        const ours = quantileFromHistogram(agentView, q);
        assert.ok(Math.abs((m.value as number) - ours) < 1e-6, `p${q * 100}: Prometheus ${m.value} ms, ours ${ours} ms`);
      }
    });

    test('a PromQL error is surfaced with Prometheus\' own message', async () => {
      const m = await f.measure('sum(rate(rollgate_requests_total[{{window}}])');
      assert.equal(m.value, null);
      assert.match(m.error ?? '', /^Prometheus at http:\/\/127\.0\.0\.1:\d+ rejected the query \(bad_data\): .*parse error/);
      const fn = await f.measure('nosuchfunction(up)');
      assert.match(fn.error ?? '', /unknown function with name "nosuchfunction"/);
    });

    test('no data, several samples, a range vector, NaN and Inf are errors that say what to change', async () => {
      const none = await f.measure(COUNT, { app: 'nothing' });
      assert.match(none.error ?? '', /^no data: the query matched no series/);
      const many = await f.measure('rollgate_requests_total{app="{{app}}"}');
      // 2 versions × 4 status classes.
      assert.match(many.error ?? '', /^the query returned 8 samples \(\{__name__="rollgate_requests_total",.*, …\); a metric needs exactly one: aggregate with sum\(…\) or max\(…\)/);
      const matrix = await f.measure('rollgate_requests_total[1m]');
      assert.match(matrix.error ?? '', /range vector/);
      const nan = await f.measure('sum(rollgate_requests_total{app="nothing"}) / 0 or vector(0) / vector(0)');
      assert.match(nan.error ?? '', /is NaN, usually 0\/0/);
      const inf = await f.measure('vector(1) / vector(0)');
      assert.match(inf.error ?? '', /is \+Inf/);
    });

    test('template values are escaped: a hostile name stays a label value', async () => {
      // Unescaped, this would close the string and add "or vector(1)": a silent pass.
      const hostile = await f.measure(COUNT, { app: 'x"}) or vector(1) #' });
      assert.match(hostile.error ?? '', /^no data/, `got ${JSON.stringify(hostile)}`);
      assert.equal((hostile.raw as { query: string }).query, 'sum(rollgate_requests_total{app="x\\"}) or vector(1) #",env="production",version="v2"})');
      // A regex matcher: the dot is literal, so "v." matches nothing while "v2" matches.
      assert.match((await f.measure('sum(rollgate_requests_total{app="{{app}}",version=~"{{canary}}"})', { canary: 'v.' })).error ?? '', /^no data/);
      assert.equal((await f.measure('sum(rollgate_requests_total{app="{{app}}",version=~"{{canary}}"})')).value, f.demo.tally.get('v2')!.requests);
      const first = await f.measure('sum(x{version="{{stable}}"})', { stable: null });
      assert.match(first.error ?? '', /no stable version yet/);
    });

    test('an address that is not Prometheus, or not listening, is an error', async () => {
      const agent = await f.source.measure(f.q(COUNT, { address: f.demo.running.url }), { ...ctx, signal: new AbortController().signal });
      assert.match(agent.error ?? '', /is the address a Prometheus server\?/);
      const port = await freePort();
      const down = await f.source.measure(f.q(COUNT, { address: `http://127.0.0.1:${port}` }), { ...ctx, signal: new AbortController().signal });
      assert.match(down.error ?? '', /cannot query Prometheus at .*: connection refused/);
    });
  });
}
