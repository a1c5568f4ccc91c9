/**
 * Sequential test "is the canary's error rate higher than the stable's?" as an e-process on
 * *which version each error came from*.
 *
 * Within one tick (one look of the executor) the canary served n_c requests and the stable
 * n_s; e_c and e_s of them failed. Assume that, given these counts, each request of a version
 * fails independently with a probability that depends only on the version and the tick
 * (p_c, p_s; they may drift from tick to tick together with load, so a global outage or a
 * quiet period is not evidence against the canary). Let q = n_c / (n_c + n_s).
 *
 * H0 (canary no worse): p_c <= p_s in every tick.
 * Alternative k: canary errors are k times as likely, so an error is the canary's with
 *   probability q_k = k q / (k q + 1 - q).
 * Per-tick likelihood ratio: L_k = (q_k / q)^e_c ((1 - q_k) / (1 - q))^e_s.
 *
 * Why E[L_k | counts, e_c + e_s] <= 1 under H0: with p_c = p_s, the errors of a tick are a
 * simple random sample (without replacement) of its requests, so e_c is hypergeometric; with
 * p_c < p_s it is stochastically smaller (Fisher's noncentral hypergeometric, odds < 1). L_k is
 * a convex increasing function of e_c, and a sum drawn without replacement is smaller in convex
 * order than one drawn with replacement (Hoeffding 1963), where E[L_k] = (q_k + 1 - q_k)^e = 1.
 * So the running product of L_k over ticks is a nonnegative supermartingale with initial
 * value 1, and so is the average over a grid of k (an e-process mixing several alternatives:
 * it adapts to the actual ratio, a large k wins quickly on gross failures, a small k on mild
 * ones). Ville's inequality: P_H0(the average ever reaches 1/alpha) <= alpha, whatever the
 * number or timing of looks, traffic shares or error levels.
 *
 * Only errors move the statistic (a tick without errors has factor 1), so it needs no
 * baseline error rate and decides within a handful of canary errors when the canary is bad.
 */

/** Ratios "canary errors are k times as likely as stable's" mixed with equal weights. */
export const DEFAULT_RATIO_GRID: readonly number[] = Object.freeze([1.5, 2, 3, 5, 10, 30, 100]);

/** ln L_k for one tick. Returns 0 (no information) when either side had no requests. */
export function logLikelihoodRatio(k: number, canary: { requests: number; errors: number }, stable: { requests: number; errors: number }): number {
  const nc = canary.requests;
  const ns = stable.requests;
  if (!(nc > 0) || !(ns > 0)) return 0;
  const ec = canary.errors;
  const es = stable.errors;
  if (ec === 0 && es === 0) return 0;
  const q = nc / (nc + ns);
  const qk = (k * q) / (k * q + 1 - q);
  return (ec > 0 ? ec * Math.log(qk / q) : 0) + (es > 0 ? es * Math.log((1 - qk) / (1 - q)) : 0);
}

/** ln of the equal-weight average of exp(logs): the mixture e-value, computed without overflow. */
export function logMeanExp(logs: readonly number[]): number {
  if (logs.length === 0) return 0;
  let m = -Infinity;
  for (const x of logs) if (x > m) m = x;
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const x of logs) s += Math.exp(x - m);
  return m + Math.log(s / logs.length);
}
