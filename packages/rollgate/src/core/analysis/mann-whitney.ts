/**
 * Mann-Whitney U on binned data: every sample in a bucket is tied with the others of that
 * bucket and gets the bucket's midrank. U counts pairs (canary, stable) where the canary
 * request is slower, ties counting 1/2; so U / (n_c n_s) estimates P(canary slower) + P(tie)/2.
 *
 * Under H0 (canary and stable latencies i.i.d. from one distribution) and given the bucket
 * totals t_i, U has mean n_c n_s / 2 and variance
 *   n_c n_s / 12 * ((N + 1) - sum(t_i^3 - t_i) / (N (N - 1))),   N = n_c + n_s
 * (the usual tie correction). This is exact for the permutation distribution; the normal
 * approximation for the p-value is good with ~20 samples per side.
 */

export interface MannWhitney {
  /** Pairs where the canary is slower (ties 1/2). */
  u: number;
  mean: number;
  variance: number;
  nCanary: number;
  nStable: number;
}

/** U, its null mean and tie-corrected null variance for per-bucket counts of one stratum. */
export function mannWhitneyBinned(canary: readonly number[], stable: readonly number[]): MannWhitney {
  const len = Math.max(canary.length, stable.length);
  let nc = 0;
  let ns = 0;
  let u = 0;
  let ties = 0;
  for (let i = 0; i < len; i++) {
    const c = canary[i] ?? 0;
    const s = stable[i] ?? 0;
    // Canary samples in bucket i beat every stable sample in lower buckets, tie with bucket i.
    u += c * (ns + s / 2);
    nc += c;
    ns += s;
    const t = c + s;
    ties += t * t * t - t;
  }
  const n = nc + ns;
  const mean = (nc * ns) / 2;
  const variance = n > 1 ? ((nc * ns) / 12) * (n + 1 - ties / (n * (n - 1))) : 0;
  return { u, mean, variance, nCanary: nc, nStable: ns };
}
