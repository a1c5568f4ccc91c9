/**
 * The latency judge: canary vs stable on the router's latency histograms.
 *
 * Test: a *stratified* Mann-Whitney U (rank test, as Kayenta uses) on binned latencies, one
 * stratum per tick: each tick's canary requests are ranked only against the same tick's
 * stable requests, and the U statistics, null means and variances are summed over ticks.
 * Why per tick: latency drifts with load, and canary weight changes between steps; pooling
 * all ticks would compare a canary that got more of the slow minutes against a stable that got
 * more of the fast ones. Within a tick both versions see the same conditions.
 * H0: within each tick, canary and stable latencies are i.i.d. from one distribution (which
 * may change from tick to tick). One-sided: we look for a slower canary.
 *
 * Looking continuously: look k (k-th time the test is evaluated with new data) rejects only
 * if its one-sided p-value is <= alpha * (M + 1) / ((k + M)(k + M + 1)), M = 19. The levels
 * telescope to alpha over infinitely many looks, so by the union bound P_H0(ever rejected)
 * <= alpha (up to the normal
 * approximation of U, good once each side has ~20 samples; the test waits for
 * max(20, minRequests) per side). Looks
 * must be triggered by time or counts, never by the latency values themselves.
 *
 * Practical significance: a rejection alone does not fail the release (with thousands of
 * requests a 1 ms shift is "significant"). It fails when the rank test has rejected (at this
 * or an earlier look) AND the canary's quantile is above stable's * tolerance + slackMs.
 * Optionally `maxMs`: fail when, with always-valid confidence, more than (1 - quantile) of
 * canary requests are slower than maxMs (binomial confidence sequence on the count of
 * requests in buckets entirely above maxMs; put maxMs on a bucket bound to lose nothing).
 *
 * Guarantee: if H0 holds (and, with maxMs, the canary's quantile is really <= maxMs), the
 * probability that this metric ever fails is <= alpha; with maxMs set, each test gets alpha/2.
 */
import { RollgateError } from '../errors.js';
import { stripUndefined } from './config.js';
import { exceedsWithConfidence } from './confidence-sequence.js';
import { countAbove, quantile, sameBounds, total } from './histogram.js';
import { mannWhitneyBinned } from './mann-whitney.js';
import { count, normalSf, round } from './math.js';
import type { Buckets, MetricVerdict } from './types.js';

export interface LatencyConfig {
  /** Metric name in verdicts; default `latency-p<quantile*100>`. */
  name?: string;
  /** Probability of a false fail over the whole analysis. */
  alpha: number;
  /** Quantile compared (0.5, 0.95, 0.99). */
  quantile: number;
  /** Canary quantile may be up to stable's * tolerance + slackMs before a significant shift fails. */
  tolerance: number;
  slackMs: number;
  /** Absolute limit for the canary's quantile in ms (null: off). */
  maxMs: number | null;
  /** Canary requests (and stable requests, when comparing) needed before `pass`. */
  minRequests: number;
}

export const LATENCY_DEFAULTS: Readonly<LatencyConfig> = Object.freeze({
  alpha: 0.002,
  quantile: 0.99,
  tolerance: 1.2,
  slackMs: 5,
  maxMs: null,
  minRequests: 50,
});

/** The rank test waits for at least this many samples per side (normal approximation), and for minRequests. */
export const RANK_TEST_MIN_SAMPLES = 20;

export interface RankRejection {
  look: number;
  z: number;
  pValue: number;
  level: number;
}

export interface LatencyState {
  boundsMs: number[] | null;
  /** Cumulative per-bucket counts. */
  canary: number[];
  stable: number[];
  stableSeen: boolean;
  /** Sums over ticks of U - E[U], Var[U], U and n_c * n_s. */
  sumDev: number;
  sumVar: number;
  sumU: number;
  sumPairs: number;
  /** Times the rank test was evaluated (the k of the alpha-spending). */
  looks: number;
  ticks: number;
  resets: number;
  /** First rejection of the rank test (kept: a rejection stays valid). */
  rejected: RankRejection | null;
  failed: MetricVerdict | null;
}

export interface LatencyTick {
  /** This tick's per-bucket counts (non-cumulative). */
  canary: Buckets;
  /** Null when there is no stable version to compare with. */
  stable: Buckets | null;
}

export function newLatencyState(): LatencyState {
  return { boundsMs: null, canary: [], stable: [], stableSeen: false, sumDev: 0, sumVar: 0, sumU: 0, sumPairs: 0, looks: 0, ticks: 0, resets: 0, rejected: null, failed: null };
}

export function resolveLatencyConfig(cfg: Partial<LatencyConfig> = {}): LatencyConfig & { name: string } {
  const c = { ...LATENCY_DEFAULTS, ...stripUndefined(cfg) };
  const name = c.name ?? `latency-p${round(c.quantile * 100, 3)}`;
  const bad = (what: string) => new RollgateError('invalid_spec', `${name}: ${what}`);
  if (!(c.alpha > 0 && c.alpha < 1)) throw bad(`alpha must be between 0 and 1 (exclusive), got ${c.alpha}; the default is ${LATENCY_DEFAULTS.alpha}`);
  if (!(c.quantile > 0 && c.quantile < 1)) throw bad(`quantile must be between 0 and 1 (exclusive), e.g. 0.99 for p99, got ${c.quantile}`);
  if (!(c.tolerance >= 1) || !Number.isFinite(c.tolerance)) throw bad(`tolerance must be a factor >= 1 (1.2 allows the canary 20% slower), got ${c.tolerance}`);
  if (!(c.slackMs >= 0) || !Number.isFinite(c.slackMs)) throw bad(`slackMs must be >= 0, got ${c.slackMs}`);
  if (c.maxMs !== null && !(c.maxMs > 0 && Number.isFinite(c.maxMs))) throw bad(`maxMs must be a positive number of milliseconds, got ${c.maxMs}`);
  if (!(c.minRequests >= 0) || !Number.isFinite(c.minRequests)) throw bad(`minRequests must be a number >= 0, got ${c.minRequests}`);
  return { ...c, name };
}

/**
 * How much of alpha the first looks hold back: look 1 gets alpha / (M + 2), later looks fall
 * off as 1/k^2. Why not front-load (6/(pi^2 k^2) gave look 1 61% of alpha): the first looks
 * are where H0 is least true in practice, a canary just past its warm-up still slower for
 * reasons no release fixes (JIT, caches, a host busy starting it), and that is where the real
 * false rollbacks were (bench:rollback: 2/100, all at look 1 with z of about 3.4). A real
 * regression gives z far above look 1's threshold (z=14.6 for +200 ms), so it is caught as fast.
 */
const HOLD_BACK_LOOKS = 19;

/** Level of look k (1-based) so that the levels of all looks sum to alpha. */
export function spentAlpha(alpha: number, look: number): number {
  const m = HOLD_BACK_LOOKS;
  return (alpha * (m + 1)) / ((look + m) * (look + m + 1));
}

/** Per-bucket counts of one side for one tick, or null when unusable (reset, wrong shape). */
function usable(b: Buckets | null, bounds: readonly number[]): number[] | null {
  if (!b) return null;
  if (!sameBounds(b.boundsMs, bounds) || b.counts.length !== bounds.length + 1) return null;
  if (b.counts.some((c) => c < 0)) return null;
  return b.counts.map((c) => Math.floor(count(c)));
}

export function judgeLatency(state: LatencyState, tick: LatencyTick, config: Partial<LatencyConfig> = {}): { state: LatencyState; verdict: MetricVerdict } {
  const cfg = resolveLatencyConfig(config);
  const bounds = state.boundsMs ?? [...tick.canary.boundsMs];
  const c = usable(tick.canary, bounds);
  const s = usable(tick.stable, bounds);
  const next: LatencyState = {
    ...state,
    boundsMs: bounds,
    canary: addInto(state.canary, c, bounds.length + 1),
    stable: addInto(state.stable, s, bounds.length + 1),
    stableSeen: state.stableSeen || tick.stable !== null,
    ticks: state.ticks + 1,
    resets: state.resets + (c === null || (tick.stable !== null && s === null) ? 1 : 0),
  };
  let newStratum = false;
  if (c && s) {
    const mw = mannWhitneyBinned(c, s);
    if (mw.nCanary > 0 && mw.nStable > 0) {
      next.sumDev += mw.u - mw.mean;
      next.sumVar += mw.variance;
      next.sumU += mw.u;
      next.sumPairs += mw.nCanary * mw.nStable;
      newStratum = mw.variance > 0;
    }
  }
  if (next.failed) return { state: next, verdict: next.failed };

  const alphaRank = cfg.maxMs === null ? cfg.alpha : cfg.alpha / 2;
  const alphaMax = cfg.alpha / 2;
  const nc = total(next.canary);
  const ns = total(next.stable);
  const cb: Buckets = { boundsMs: bounds, counts: next.canary };
  const sb: Buckets = { boundsMs: bounds, counts: next.stable };
  const cq = quantile(cb, cfg.quantile);
  const sq = next.stableSeen ? quantile(sb, cfg.quantile) : null;

  let z: number | null = null;
  let pValue: number | null = null;
  let level: number | null = null;
  if (next.sumVar > 0) {
    z = (next.sumDev - 0.5) / Math.sqrt(next.sumVar); // 0.5: continuity correction
    pValue = normalSf(z);
  }
  // Wait for minRequests per side before spending alpha: the first looks get the largest
  // share of it, and a p99 gap measured on 20 requests is mostly noise.
  const minSide = Math.max(RANK_TEST_MIN_SAMPLES, cfg.minRequests);
  if (newStratum && pValue !== null && z !== null && nc >= minSide && ns >= minSide) {
    next.looks += 1;
    level = spentAlpha(alphaRank, next.looks);
    if (!next.rejected && pValue <= level) next.rejected = { look: next.looks, z: round(z), pValue, level };
  }

  const limitMs = sq === null ? null : sq * cfg.tolerance + cfg.slackMs;
  const q = `p${round(cfg.quantile * 100, 3)}`;
  const ms = (x: number | null) => (x === null ? 'n/a' : `${round(x, 3)} ms`);
  const above = cfg.maxMs === null ? null : countAbove(cb, cfg.maxMs);
  const details: MetricVerdict['details'] = {
    quantile: cfg.quantile,
    canaryRequests: nc,
    stableRequests: next.stableSeen ? ns : null,
    limitMs: limitMs === null ? null : round(limitMs),
    tolerance: cfg.tolerance,
    slackMs: cfg.slackMs,
    pSlower: next.sumPairs > 0 ? round(next.sumU / next.sumPairs) : null,
    z: z === null ? null : round(z),
    pValue: pValue === null ? null : round(pValue),
    level: level === null ? null : round(level),
    alphaRank,
    looks: next.looks,
    rejectedAtLook: next.rejected?.look ?? null,
    maxMs: cfg.maxMs,
    effectiveMaxMs: above === null || !Number.isFinite(above.effectiveMs) ? null : above.effectiveMs,
    canaryAboveMax: above?.above ?? null,
    ticks: next.ticks,
    resets: next.resets,
  };
  const base = { metric: cfg.name, canary: cq === null ? null : round(cq), stable: sq === null ? null : round(sq), details };

  if (next.rejected && cq !== null && limitMs !== null && cq > limitMs) {
    const r = next.rejected;
    const verdict: MetricVerdict = {
      ...base,
      verdict: 'fail',
      final: true,
      reason: `canary ${q} ${ms(cq)} vs stable ${ms(sq)}, above the tolerated ${ms(limitMs)}; rank test: canary slower (z=${round(r.z, 3)}, p=${round(r.pValue, 3)} <= ${round(r.level, 3)} at look ${r.look})`,
    };
    next.failed = verdict;
    return { state: next, verdict };
  }
  if (cfg.maxMs !== null && above && exceedsWithConfidence(above.above, nc, 1 - cfg.quantile, alphaMax)) {
    const verdict: MetricVerdict = {
      ...base,
      verdict: 'fail',
      final: true,
      reason: `canary ${q} is above ${ms(cfg.maxMs)} with confidence: ${above.above} of ${nc} requests slower than ${ms(above.effectiveMs)}, more than ${round((1 - cfg.quantile) * 100, 3)}% allowed (risk ${alphaMax})`,
    };
    next.failed = verdict;
    return { state: next, verdict };
  }
  if (nc < cfg.minRequests) {
    return { state: next, verdict: { ...base, verdict: 'inconclusive', final: false, reason: `only ${nc} canary requests so far, need ${cfg.minRequests} to judge latency` } };
  }
  if (next.stableSeen && ns < cfg.minRequests) {
    return { state: next, verdict: { ...base, verdict: 'inconclusive', final: false, reason: `only ${ns} stable requests so far, need ${cfg.minRequests} to compare latency` } };
  }
  let reason: string;
  if (!next.stableSeen) {
    reason = cfg.maxMs === null ? `canary ${q} ${ms(cq)} (no stable version to compare with, no maxMs)` : `canary ${q} ${ms(cq)}, limit ${ms(cfg.maxMs)}`;
  } else if (next.rejected) {
    reason = `canary ${q} ${ms(cq)} vs stable ${ms(sq)}: measurably slower but within the tolerated ${ms(limitMs)}`;
  } else {
    const test = z === null ? 'rank test not run yet' : `rank test z=${round(z, 3)} (p=${round(pValue ?? 1, 3)}, rejects at <= ${round(level ?? spentAlpha(alphaRank, next.looks + 1), 3)})`;
    reason = `canary ${q} ${ms(cq)} vs stable ${ms(sq)} (limit ${ms(limitMs)}); ${test}`;
  }
  return { state: next, verdict: { ...base, verdict: 'pass', final: false, reason } };
}

function addInto(acc: readonly number[], add: readonly number[] | null, len: number): number[] {
  const out = acc.length === len ? [...acc] : new Array<number>(len).fill(0);
  if (add) for (let i = 0; i < len; i++) out[i]! += add[i] ?? 0;
  return out;
}
