/**
 * The error-rate judge: canary vs stable (e-process, see e-process.ts) plus an absolute guard
 * on the canary's own rate (confidence sequence, see confidence-sequence.ts), fed once per look
 * with the counts of that tick.
 *
 * Guarantee: if the canary is no worse than stable (H0 of e-process.ts) and its own error rate
 * is at most `maxRate`, the probability that this metric *ever* fails during the analysis is
 * at most `alpha`, however many looks are taken. With both tests on, each gets alpha / 2
 * (fixed at the start, so it does not depend on whether a stable shows up later).
 * Assumed: given the per-tick request counts, requests fail independently with a per-version,
 * per-tick probability (for the absolute guard: a constant probability <= maxRate).
 *
 * A `fail` is final (it stays failed). `pass` means "enough canary requests and nothing
 * alarming so far"; below `minRequests` the verdict is `inconclusive` (never a pass).
 */
import { RollgateError } from '../errors.js';
import { betaBinomialCS, exceedsWithConfidence } from './confidence-sequence.js';
import { DEFAULT_RATIO_GRID, logLikelihoodRatio, logMeanExp } from './e-process.js';
import { stripUndefined } from './config.js';
import { count, round } from './math.js';
import type { Counts, MetricVerdict } from './types.js';

export interface ErrorRateConfig {
  /** Metric name shown in verdicts. */
  name: string;
  /** Probability of a false fail over the whole analysis (both tests together). */
  alpha: number;
  /** Fail when the canary's own error rate is above this with confidence (null: off). */
  maxRate: number | null;
  /** Canary requests needed before the verdict can be `pass`. */
  minRequests: number;
}

export const ERROR_RATE_DEFAULTS: Readonly<ErrorRateConfig> = Object.freeze({
  name: 'error-rate',
  alpha: 0.002,
  maxRate: 0.05,
  minRequests: 50,
});

export interface ErrorRateState {
  /** Alternatives of the mixture (canary errors k times as likely). */
  grid: readonly number[];
  /** ln of the running likelihood-ratio product per alternative. */
  logLR: number[];
  canary: Counts;
  /** Cumulative stable counts; null while no stable was ever given. */
  stable: Counts | null;
  ticks: number;
  /** Ticks where a negative or inconsistent increment was seen (a counter reset). */
  resets: number;
  /** Set at the first fail and kept: a fail is final. */
  failed: MetricVerdict | null;
}

export interface ErrorRateTick {
  canary: Counts;
  /** Null when there is no stable version to compare with (first deploy, blue-green after promotion). */
  stable: Counts | null;
}

export function newErrorRateState(grid: readonly number[] = DEFAULT_RATIO_GRID): ErrorRateState {
  if (grid.length === 0 || grid.some((k) => !(k > 1) || !Number.isFinite(k))) {
    throw new RollgateError('invalid_spec', `error-rate ratio grid must be numbers > 1, got [${grid.join(', ')}]`);
  }
  return { grid: [...grid], logLR: grid.map(() => 0), canary: { requests: 0, errors: 0 }, stable: null, ticks: 0, resets: 0, failed: null };
}

export function resolveErrorRateConfig(cfg: Partial<ErrorRateConfig> = {}): ErrorRateConfig {
  const c: ErrorRateConfig = { ...ERROR_RATE_DEFAULTS, ...stripUndefined(cfg) };
  if (!(c.alpha > 0 && c.alpha < 1)) throw new RollgateError('invalid_spec', `${c.name}: alpha must be between 0 and 1 (exclusive), got ${c.alpha}; the default is ${ERROR_RATE_DEFAULTS.alpha}`);
  if (c.maxRate !== null && !(c.maxRate >= 0 && c.maxRate < 1)) throw new RollgateError('invalid_spec', `${c.name}: maxRate must be a fraction in [0, 1), e.g. 0.05 for 5%, got ${c.maxRate}`);
  if (!(c.minRequests >= 0) || !Number.isFinite(c.minRequests)) throw new RollgateError('invalid_spec', `${c.name}: minRequests must be a number >= 0, got ${c.minRequests}`);
  return c;
}

/**
 * Sanitizes one tick's increment. A negative count means the router's counters restarted
 * (agent restart) and the executor diffed across it: the tick is dropped for that version
 * (we cannot know what happened between the last look and the restart) and counted in
 * `resets`. Errors above requests are capped. NaN/Infinity count as 0.
 */
export function sanitizeCounts(c: Counts | null | undefined): { counts: Counts; reset: boolean } {
  if (!c) return { counts: { requests: 0, errors: 0 }, reset: false };
  if (c.requests < 0 || c.errors < 0) return { counts: { requests: 0, errors: 0 }, reset: true };
  const requests = Math.floor(count(c.requests));
  return { counts: { requests, errors: Math.min(Math.floor(count(c.errors)), requests) }, reset: false };
}

export function judgeErrorRate(state: ErrorRateState, tick: ErrorRateTick, config: Partial<ErrorRateConfig> = {}): { state: ErrorRateState; verdict: MetricVerdict } {
  const cfg = resolveErrorRateConfig(config);
  const c = sanitizeCounts(tick.canary);
  const s = tick.stable ? sanitizeCounts(tick.stable) : null;
  const next: ErrorRateState = {
    grid: state.grid,
    logLR: [...state.logLR],
    canary: { requests: state.canary.requests + c.counts.requests, errors: state.canary.errors + c.counts.errors },
    stable: s ? { requests: (state.stable?.requests ?? 0) + s.counts.requests, errors: (state.stable?.errors ?? 0) + s.counts.errors } : state.stable,
    ticks: state.ticks + 1,
    resets: state.resets + (c.reset || s?.reset ? 1 : 0),
    failed: state.failed,
  };
  if (s) for (let i = 0; i < next.grid.length; i++) next.logLR[i]! += logLikelihoodRatio(next.grid[i]!, c.counts, s.counts);
  if (next.failed) return { state: next, verdict: next.failed };

  // Split alpha between the two tests once, from the config alone (see the header).
  const alphaCompare = cfg.maxRate === null ? cfg.alpha : cfg.alpha / 2;
  const alphaAbsolute = cfg.alpha / 2;
  const logE = logMeanExp(next.logLR);
  const eValue = Math.exp(logE);
  const cn = next.canary.requests;
  const ce = next.canary.errors;
  const canaryRate = cn > 0 ? ce / cn : null;
  const stableRate = next.stable && next.stable.requests > 0 ? next.stable.errors / next.stable.requests : null;
  const cs = betaBinomialCS(ce, cn, alphaAbsolute);
  const details: MetricVerdict['details'] = {
    canaryRequests: cn,
    canaryErrors: ce,
    stableRequests: next.stable?.requests ?? null,
    stableErrors: next.stable?.errors ?? null,
    eValue: round(eValue),
    eThreshold: round(1 / alphaCompare),
    alphaCompare,
    canaryRateLower: round(cs.lower),
    canaryRateUpper: round(cs.upper),
    maxRate: cfg.maxRate,
    alphaAbsolute: cfg.maxRate === null ? null : alphaAbsolute,
    ticks: next.ticks,
    resets: next.resets,
  };
  const base = { metric: cfg.name, canary: canaryRate === null ? null : round(canaryRate), stable: stableRate === null ? null : round(stableRate), details };
  const pct = (x: number | null) => (x === null ? 'n/a' : `${round(x * 100, 3)}%`);

  if (next.stable && logE >= Math.log(1 / alphaCompare)) {
    const verdict: MetricVerdict = {
      ...base,
      verdict: 'fail',
      final: true,
      reason: `canary errors ${pct(canaryRate)} (${ce}/${cn}) vs stable ${pct(stableRate)} (${next.stable.errors}/${next.stable.requests}): evidence that canary fails more often reached e=${round(eValue, 3)} >= ${round(1 / alphaCompare, 3)} (false-alarm risk <= ${alphaCompare})`,
    };
    next.failed = verdict;
    return { state: next, verdict };
  }
  if (cfg.maxRate !== null && exceedsWithConfidence(ce, cn, cfg.maxRate, alphaAbsolute)) {
    const verdict: MetricVerdict = {
      ...base,
      verdict: 'fail',
      final: true,
      reason: `canary error rate ${pct(canaryRate)} (${ce}/${cn}) is above the limit ${pct(cfg.maxRate)} with confidence: always-valid interval [${pct(cs.lower)}, ${pct(cs.upper)}] at risk ${alphaAbsolute}`,
    };
    next.failed = verdict;
    return { state: next, verdict };
  }
  if (cn < cfg.minRequests) {
    return { state: next, verdict: { ...base, verdict: 'inconclusive', final: false, reason: `only ${cn} canary requests so far, need ${cfg.minRequests} to judge the error rate` } };
  }
  const vs = next.stable ? ` vs stable ${pct(stableRate)} (e=${round(eValue, 3)}, fails at ${round(1 / alphaCompare, 3)})` : ' (no stable version to compare with)';
  const limit = cfg.maxRate === null ? '' : `, limit ${pct(cfg.maxRate)}`;
  return { state: next, verdict: { ...base, verdict: 'pass', final: false, reason: `canary errors ${pct(canaryRate)} (${ce}/${cn})${vs}${limit}` } };
}
