/**
 * Unit tests of the statistics under the judge, against hand-checked numbers and direct
 * (brute-force) computations:
 * - binned Mann-Whitney U, mean and tie-corrected variance equal the exact permutation
 *   moments computed by enumerating every labelling of a small sample;
 * - the error e-process after a few ticks equals the products written out by hand;
 * - the beta-binomial confidence sequence matches its closed forms at S = 0 and S = n, and its
 *   miscoverage over 300 looks stays below alpha (alpha = P(the true rate is ever outside)).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  betaBinomialCS,
  bucketsOf,
  countAbove,
  exceedsWithConfidence,
  logGamma,
  logLikelihoodRatio,
  logMeanExp,
  logMixtureMartingale,
  mannWhitneyBinned,
  newErrorRateState,
  judgeErrorRate,
  normalSf,
  quantile,
  spentAlpha,
} from './index.js';
import { LATENCY_BOUNDS, rng, binomial } from './sim.js';
import { LATENCY_BOUNDS_MS } from '../../agent/metrics.js';

const close = (a: number, b: number, tol = 1e-9, msg?: string) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), msg ?? `${a} != ${b}`);

describe('math', () => {
  test('logGamma and normal tail at known values', () => {
    close(logGamma(5), Math.log(24), 1e-12);
    close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-12);
    close(logGamma(101), 363.73937555556347, 1e-12);
    close(normalSf(0), 0.5, 1e-7);
    close(normalSf(1.959963984540054), 0.025, 1e-6);
    close(normalSf(5), 2.866515718791939e-7, 1e-6);
  });

  test('alpha spending sums to alpha', () => {
    let s = 0;
    for (let k = 1; k <= 1e6; k++) s += spentAlpha(0.01, k);
    assert.ok(s < 0.01 && s > 0.01 * 0.9999);
    // The first look holds back: a twenty-first of alpha, not most of it; later looks get less each.
    close(spentAlpha(0.002, 1), 0.002 / 21);
    for (let k = 1; k < 1000; k++) assert.ok(spentAlpha(0.002, k + 1) < spentAlpha(0.002, k));
  });
});

/** U by comparing every canary sample with every stable sample (ties 1/2). */
function directU(c: number[], s: number[]): number {
  let u = 0;
  for (let i = 0; i < c.length; i++) for (let j = 0; j < s.length; j++) u += (c[i] ?? 0) * (s[j] ?? 0) * (i > j ? 1 : i === j ? 0.5 : 0);
  return u;
}

/** Exact mean and variance of U over every way to label n_c of the pooled samples "canary". */
function permutationMoments(c: number[], s: number[]): { mean: number; variance: number } {
  const pooled: number[] = [];
  c.forEach((x, i) => pooled.push(...new Array<number>(x + (s[i] ?? 0)).fill(i)));
  const nc = c.reduce((a, b) => a + b, 0);
  const vals: number[] = [];
  const pick = (start: number, chosen: number[]) => {
    if (chosen.length === nc) {
      const cc = new Array<number>(c.length).fill(0);
      const ss = new Array<number>(c.length).fill(0);
      pooled.forEach((b, idx) => (chosen.includes(idx) ? cc : ss)[b]!++);
      vals.push(directU(cc, ss));
      return;
    }
    for (let i = start; i < pooled.length; i++) pick(i + 1, [...chosen, i]);
  };
  pick(0, []);
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  const variance = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length;
  return { mean, variance };
}

describe('Mann-Whitney U on binned data', () => {
  test('hand-checked example', () => {
    // canary: 2 in (1,2], 1 in (2,+Inf); stable: 1 in [0,1], 1 in (1,2].
    // Pairs: 2 canary x 1 lower stable = 2 wins, 2 x 1 tie = 1, 1 top canary x 2 = 2 -> U = 5.
    // Var = 3*2/12 * (6 - (27-3)/(5*4)) = 0.5 * 4.8 = 2.4
    const r = mannWhitneyBinned([0, 2, 1], [1, 1, 0]);
    assert.equal(r.u, 5);
    assert.equal(r.mean, 3);
    close(r.variance, 2.4);
  });

  test('U, mean and tie-corrected variance equal the exact permutation moments', () => {
    const side = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 });
    fc.assert(
      fc.property(side, side, (c, s) => {
        const nc = c.reduce((a, b) => a + b, 0);
        const ns = s.reduce((a, b) => a + b, 0);
        fc.pre(nc > 0 && ns > 0 && nc + ns <= 11);
        const r = mannWhitneyBinned(c, s);
        assert.equal(r.u, directU(c, s));
        const exact = permutationMoments(c, s);
        close(r.mean, exact.mean, 1e-9);
        close(r.variance, exact.variance, 1e-9);
      }),
      { seed: 7, numRuns: 150 },
    );
  });
});

describe('error e-process', () => {
  test('hand-computed after two ticks', () => {
    // Tick 1: q = 10/100 = 0.1, 2 canary errors. k = 2: q_k = 0.2/1.1, factor (q_k/q)^2 = (20/11)^2 = 400/121.
    // Tick 2: q = 0.5, 1 stable error. k = 2: q_k = 2/3, factor (1/3)/(1/2) = 2/3. Product 800/363.
    // k = 3: tick 1 q_k = 0.25 -> 2.5^2 = 6.25; tick 2 q_k = 0.75 -> 0.5; product 3.125.
    let st = newErrorRateState([2, 3]);
    st = judgeErrorRate(st, { canary: { requests: 10, errors: 2 }, stable: { requests: 90, errors: 0 } }, { maxRate: null }).state;
    close(Math.exp(st.logLR[0]!), 400 / 121);
    const r = judgeErrorRate(st, { canary: { requests: 50, errors: 0 }, stable: { requests: 50, errors: 1 } }, { maxRate: null });
    close(Math.exp(r.state.logLR[0]!), 800 / 363);
    close(Math.exp(r.state.logLR[1]!), 3.125);
    close(Math.exp(logMeanExp(r.state.logLR)), (800 / 363 + 3.125) / 2);
    close(Number(r.verdict.details.eValue), (800 / 363 + 3.125) / 2, 1e-3);
  });

  test('no information without both sides or without errors', () => {
    assert.equal(logLikelihoodRatio(5, { requests: 0, errors: 0 }, { requests: 100, errors: 3 }), 0);
    assert.equal(logLikelihoodRatio(5, { requests: 100, errors: 3 }, { requests: 0, errors: 0 }), 0);
    assert.equal(logLikelihoodRatio(5, { requests: 100, errors: 0 }, { requests: 100, errors: 0 }), 0);
  });

  test('its expectation under H0 is at most 1 (exact sum over the hypergeometric law)', () => {
    // Given n_c, n_s and e errors in total, e_c is hypergeometric under p_c = p_s.
    const logChoose = (n: number, k: number) => logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
    for (const [nc, ns, e] of [[10, 90, 3], [25, 225, 8], [5, 5, 4], [1, 200, 2]] as const) {
      for (const k of [1.5, 3, 100]) {
        let ex = 0;
        for (let ec = Math.max(0, e - ns); ec <= Math.min(e, nc); ec++) {
          const p = Math.exp(logChoose(nc, ec) + logChoose(ns, e - ec) - logChoose(nc + ns, e));
          ex += p * Math.exp(logLikelihoodRatio(k, { requests: nc, errors: ec }, { requests: ns, errors: e - ec }));
        }
        assert.ok(ex <= 1 + 1e-12, `E[L] = ${ex} for nc=${nc} ns=${ns} e=${e} k=${k}`);
      }
    }
  });
});

describe('beta-binomial confidence sequence', () => {
  test('closed forms at S = 0 and S = n (uniform prior)', () => {
    // S = 0: M(p0) = 1 / ((n+1)(1-p0)^n) -> upper = 1 - (alpha/(n+1))^(1/n); S = n mirrors it.
    for (const n of [1, 10, 100]) {
      const a = 0.05;
      close(betaBinomialCS(0, n, a).upper, 1 - (a / (n + 1)) ** (1 / n), 1e-8);
      assert.equal(betaBinomialCS(0, n, a).lower, 0);
      close(betaBinomialCS(n, n, a).lower, (a / (n + 1)) ** (1 / n), 1e-8);
      assert.equal(betaBinomialCS(n, n, a).upper, 1);
    }
    close(betaBinomialCS(0, 10, 0.05).upper, 0.41696, 1e-4); // 1 - (0.05/11)^(0.1)
  });

  test('bounds sit where the martingale reaches 1/alpha', () => {
    const { lower, upper } = betaBinomialCS(30, 200, 0.01);
    assert.ok(lower < 0.15 && upper > 0.15);
    close(logMixtureMartingale(30, 200, lower), Math.log(100), 1e-6);
    close(logMixtureMartingale(30, 200, upper), Math.log(100), 1e-6);
    assert.equal(exceedsWithConfidence(30, 200, lower - 1e-6, 0.01), true);
    assert.equal(exceedsWithConfidence(30, 200, lower + 1e-6, 0.01), false);
    assert.deepEqual(betaBinomialCS(0, 0, 0.01), { lower: 0, upper: 1 });
  });

  test('misses the true rate at some look with probability <= alpha', () => {
    const alpha = 0.1;
    const runs = 400;
    let missed = 0;
    for (let s = 0; s < runs; s++) {
      const r = rng(900 + s);
      let n = 0;
      let k = 0;
      for (let t = 0; t < 300; t++) {
        n += 5;
        k += binomial(r, 5, 0.3);
        const cs = betaBinomialCS(k, n, alpha);
        if (cs.lower > 0.3 || cs.upper < 0.3) {
          missed++;
          break;
        }
      }
    }
    // Expected well below alpha (Ville's bound is conservative); 3 binomial sd of slack.
    assert.ok(missed / runs <= alpha + 3 * Math.sqrt((alpha * (1 - alpha)) / runs), `missed ${missed}/${runs}`);
  });
});

describe('histograms', () => {
  test('quantiles interpolate inside buckets like histogram_quantile', () => {
    const b = { boundsMs: [1, 2, 5], counts: [0, 10, 10, 0] };
    close(quantile(b, 0.5)!, 2);
    close(quantile(b, 0.75)!, 3.5);
    close(quantile(b, 0.05)!, 1.1);
    assert.equal(quantile({ boundsMs: [1, 2, 5], counts: [0, 0, 0, 4] }, 0.5), 5);
    assert.equal(quantile({ boundsMs: [1, 2, 5], counts: [0, 0, 0, 0] }, 0.5), null);
  });

  test('cumulative to per-bucket counts, and counting above a bound conservatively', () => {
    const b = bucketsOf({ boundsMs: [1, 2, 5], counts: [1, 3, 3, 7], sumMs: 0, count: 7 });
    assert.deepEqual(b.counts, [1, 2, 0, 4]);
    assert.deepEqual(countAbove(b, 2), { above: 4, effectiveMs: 2 });
    assert.deepEqual(countAbove(b, 3), { above: 4, effectiveMs: 5 });
  });

  test('the simulator uses the router bucket bounds', () => {
    assert.deepEqual([...LATENCY_BOUNDS], [...LATENCY_BOUNDS_MS]);
  });
});
