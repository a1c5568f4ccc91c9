/**
 * Always-valid confidence sequence for a binomial proportion (beta-binomial mixture).
 *
 * For Bernoulli(p) observations with S successes in n trials, and a Beta(a, b) prior,
 *   M_n(p0) = B(a + S, b + n - S) / B(a, b) / (p0^S (1 - p0)^(n - S))
 * is a nonnegative martingale with M_0 = 1 when p = p0 (it is the Bayes factor of the
 * mixture against the point p0). By Ville's inequality, P(exists n: M_n(p) >= 1/alpha) <= alpha,
 * so C_n = { p0 : M_n(p0) < 1/alpha } contains the true p at every n simultaneously with
 * probability >= 1 - alpha. It may be looked at after every observation, stopped at any
 * data-dependent time, and never needs a fixed sample size. (Robbins 1970; Howard et al. 2021.)
 *
 * M_n(p0) is decreasing in p0 below S/n and increasing above, and M_n(S/n) <= 1 (the maximum
 * likelihood beats any mixture), so C_n is an interval around S/n found by bisection.
 */
import { bisect, logBeta } from './math.js';

export interface Interval {
  lower: number;
  upper: number;
}

export interface BetaPrior {
  a: number;
  b: number;
}

/** Uniform prior: no opinion about the rate; detects gross excess within a few requests. */
export const UNIFORM_PRIOR: BetaPrior = { a: 1, b: 1 };

/** ln M_n(p0) as defined above. */
export function logMixtureMartingale(successes: number, n: number, p0: number, prior: BetaPrior = UNIFORM_PRIOR): number {
  const s = successes;
  const f = n - successes;
  const mix = logBeta(prior.a + s, prior.b + f) - logBeta(prior.a, prior.b);
  // 0 * log(0) counts as 0: an event that never happened says nothing against p0 = 0.
  const ls = s === 0 ? 0 : s * Math.log(p0);
  const lf = f === 0 ? 0 : f * Math.log(1 - p0);
  return mix - ls - lf;
}

/**
 * The (1 - alpha) confidence sequence's interval after `successes` of `n`. Valid uniformly
 * over n for i.i.d. Bernoulli trials. With n = 0 it is [0, 1].
 */
export function betaBinomialCS(successes: number, n: number, alpha: number, prior: BetaPrior = UNIFORM_PRIOR): Interval {
  if (!(n > 0)) return { lower: 0, upper: 1 };
  const s = Math.min(Math.max(successes, 0), n);
  const f = n - s;
  const level = Math.log(1 / alpha);
  const mix = logBeta(prior.a + s, prior.b + f) - logBeta(prior.a, prior.b);
  const g = (p0: number) => mix - (s === 0 ? 0 : s * Math.log(p0)) - (f === 0 ? 0 : f * Math.log(1 - p0)) - level;
  const phat = s / n;
  const lower = s === 0 ? 0 : bisect(g, 0, phat, 1e-12);
  const upper = f === 0 ? 1 : bisect(g, phat, 1, 1e-12);
  return { lower, upper };
}

/**
 * True when the data show, at confidence 1 - alpha valid at any look, that the rate exceeds
 * `bound`: the whole confidence interval lies above it. Cheaper than computing the interval.
 */
export function exceedsWithConfidence(successes: number, n: number, bound: number, alpha: number, prior: BetaPrior = UNIFORM_PRIOR): boolean {
  if (!(n > 0) || successes / n <= bound) return false;
  if (bound <= 0) return successes > 0 && logMixtureMartingale(successes, n, 0, prior) >= Math.log(1 / alpha);
  return logMixtureMartingale(successes, n, bound, prior) >= Math.log(1 / alpha);
}
