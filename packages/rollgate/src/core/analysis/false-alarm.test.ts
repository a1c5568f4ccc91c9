/**
 * False-alarm rate on simulated healthy canaries (property-based, seeded).
 *
 * What alpha means: the probability that a metric EVER fails during one whole analysis
 * (here 240 looks = 60 s at 4 looks/s) when the canary is as good as the stable. It holds for
 * any number of looks because the error test is an e-process (Ville's inequality) and the
 * latency rank test spends alpha over looks (sum of alpha*6/(pi^2 k^2) = alpha).
 * Assumed by the guarantee and built into the simulation: within a tick, requests of both
 * versions fail independently with the same probability and draw latencies from the same
 * distribution; both may drift from tick to tick (shared load and error noise), traffic
 * shares and rates vary (fast-check picks them), the canary weight may double mid-analysis.
 *
 * Checks:
 * 1. Each test alone at alpha = 0.05 (large enough to measure with ~1,200 runs): the observed
 *    rate of "ever rejected" stays <= 0.05 (+3 sd). This catches a broken sequential test:
 *    without the alpha spending (each look at 0.05) the rank test rejects in about half of the
 *    runs, and a per-look p-value on the error counts would likewise blow up.
 * 2. Each fast-check case (50 runs) is consistent with a rate <= alpha (binomial tail 1e-6).
 * 3. The defaults together (error rate + latency p99, alpha = 0.002 each) on the bench's
 *    healthy scenario: combined false fails consistent with <= 0.004 (target: 1 in 100).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { combine, judgeErrorRate, judgeLatency, logGamma, newErrorRateState, newLatencyState, type MetricVerdict } from './index.js';
import { BASE_SCENARIO, simulate, type Scenario } from './sim.js';

const ALPHA = 0.05;
const RUNS_PER_CASE = 50;
const CASES = 20;

/** Smallest x with P(Bin(n, p) >= x) <= tail. */
function binomialBound(n: number, p: number, tail: number): number {
  const pmf = (k: number) => Math.exp(logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1) + k * Math.log(p) + (n - k) * Math.log(1 - p));
  let upper = 0;
  for (let x = n; x >= 0; x--) {
    upper += pmf(x);
    if (upper > tail) return x + 1;
  }
  return 0;
}

interface Tally {
  runs: number;
  errorTest: number;
  rankTest: number;
}

const BARE_ERROR = { alpha: ALPHA, maxRate: null };
// Tolerance 1 and no slack: only the rank test stands between the data and a fail.
const BARE_LATENCY = { alpha: ALPHA, tolerance: 1, slackMs: 0 };

/** One healthy analysis through the real judges: did the bare tests ever reject? */
function bareRun(sc: Scenario, seed: number): { errorTest: boolean; rankTest: boolean } {
  let err = newErrorRateState();
  let lat = newLatencyState();
  for (const t of simulate(sc, seed)) {
    err = judgeErrorRate(err, { canary: t.canary.counts, stable: t.stable?.counts ?? null }, BARE_ERROR).state;
    lat = judgeLatency(lat, { canary: t.canary.buckets, stable: t.stable?.buckets ?? null }, BARE_LATENCY).state;
  }
  return { errorTest: err.failed !== null, rankTest: lat.rejected !== null };
}

/** One healthy analysis with the default metrics combined: did it ever fail? */
function defaultsRun(sc: Scenario, seed: number): MetricVerdict | null {
  let err = newErrorRateState();
  let lat = newLatencyState();
  for (const t of simulate(sc, seed)) {
    const e = judgeErrorRate(err, { canary: t.canary.counts, stable: t.stable?.counts ?? null });
    const l = judgeLatency(lat, { canary: t.canary.buckets, stable: t.stable?.buckets ?? null });
    err = e.state;
    lat = l.state;
    const c = combine([e.verdict, l.verdict]);
    if (c.verdict === 'fail') return c.metrics.find((m) => m.verdict === 'fail') ?? null;
  }
  return null;
}

const healthyScenario = fc.record({
  share: fc.double({ min: 0.02, max: 0.5, noNaN: true }),
  doubleAtHalf: fc.boolean(),
  totalRps: fc.integer({ min: 40, max: 1500 }),
  errorRate: fc.double({ min: 0, max: 0.03, noNaN: true }),
  medianMs: fc.double({ min: 1, max: 40, noNaN: true }),
  sigma: fc.double({ min: 0.2, max: 1.2, noNaN: true }),
  loadNoise: fc.double({ min: 0, max: 0.5, noNaN: true }),
  errorNoise: fc.double({ min: 0, max: 0.6, noNaN: true }),
  seed: fc.integer({ min: 0, max: 1e9 }),
});

test('healthy canaries: false-fail rates stay within alpha over 240 looks', () => {
  const tally: Tally = { runs: 0, errorTest: 0, rankTest: 0 };
  const perCaseLimit = binomialBound(RUNS_PER_CASE, ALPHA, 1e-6);
  fc.assert(
    fc.property(healthyScenario, (p) => {
      const sc: Scenario = {
        ...BASE_SCENARIO,
        totalRps: p.totalRps,
        canaryShare: (t) => (p.doubleAtHalf && t >= 120 ? Math.min(0.9, 2 * p.share) : p.share),
        errorRate: p.errorRate,
        medianMs: p.medianMs,
        sigma: p.sigma,
        loadNoise: p.loadNoise,
        errorNoise: p.errorNoise,
      };
      const c = { errorTest: 0, rankTest: 0 };
      for (let i = 0; i < RUNS_PER_CASE; i++) {
        const r = bareRun(sc, p.seed + i);
        c.errorTest += r.errorTest ? 1 : 0;
        c.rankTest += r.rankTest ? 1 : 0;
      }
      tally.runs += RUNS_PER_CASE;
      tally.errorTest += c.errorTest;
      tally.rankTest += c.rankTest;
      assert.ok(c.errorTest < perCaseLimit, `error test: ${c.errorTest}/${RUNS_PER_CASE} false fails in ${JSON.stringify(p)}`);
      assert.ok(c.rankTest < perCaseLimit, `rank test: ${c.rankTest}/${RUNS_PER_CASE} false rejections in ${JSON.stringify(p)}`);
    }),
    { seed: 20260101, numRuns: CASES },
  );
  const sd = Math.sqrt((ALPHA * (1 - ALPHA)) / tally.runs);
  const rate = (x: number) => x / tally.runs;
  console.log(
    `healthy runs ${tally.runs} x 240 looks: error e-process (alpha ${ALPHA}) ${tally.errorTest} false fails (${rate(tally.errorTest)}), ` +
      `rank test (alpha ${ALPHA}) ${tally.rankTest} false rejections (${rate(tally.rankTest)})`,
  );
  assert.ok(tally.runs >= 1000);
  assert.ok(rate(tally.errorTest) <= ALPHA + 3 * sd, `error e-process false-fail rate ${rate(tally.errorTest)}`);
  assert.ok(rate(tally.rankTest) <= ALPHA + 3 * sd, `rank test false-rejection rate ${rate(tally.rankTest)}`);
});

test('bench-like healthy canary (10% of 1,000 req/s, 0.5% errors): defaults combined', () => {
  const runs = 400;
  const fails: string[] = [];
  for (let i = 0; i < runs; i++) {
    const f = defaultsRun(BASE_SCENARIO, 500_000 + i);
    if (f) fails.push(`${f.metric}: ${f.reason}`);
  }
  console.log(`bench-like healthy: ${fails.length} false fails in ${runs} runs of 60 s with the defaults${fails.map((f) => `\n  ${f}`).join('')}`);
  // Guaranteed <= 0.004 (0.002 per metric); the bench target is 1 in 100. Allow binomial noise.
  assert.ok(fails.length < binomialBound(runs, 0.004, 1e-6), `${fails.length} false fails`);
});
