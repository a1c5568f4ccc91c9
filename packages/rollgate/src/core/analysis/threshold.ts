/**
 * Plain thresholds for external metrics (a Prometheus query's value, an HTTP check, a command's
 * exit code), with Argo Rollouts' limits across measurements:
 * - each measurement is `pass`, `fail`, `inconclusive` (neither condition met, when both are
 *   given) or `error` (the source failed or returned no data; the reason is kept);
 * - the metric fails when failures exceed `failureLimit` (TOTAL over the analysis, as Argo
 *   counts them), or when *consecutive* errors exceed `consecutiveErrorLimit` (a source that
 *   keeps failing can never end in a silent pass);
 * - it is inconclusive for good when inconclusive measurements exceed `inconclusiveLimit` (total);
 * - otherwise it is `pass` so far once a measurement passed and the latest one was not an error.
 * No statistics here: a measurement is taken at face value.
 */
import { RollgateError } from '../errors.js';
import { stripUndefined } from './config.js';
import type { MetricVerdict } from './types.js';

export type Outcome = 'pass' | 'fail' | 'inconclusive' | 'error';

/** Inclusive range; a missing end is unbounded. */
export interface Range {
  min?: number | null;
  max?: number | null;
}

/**
 * `passWhen` only: pass inside, fail outside. `failWhen` only: fail inside, pass outside.
 * Both: fail inside failWhen, else pass inside passWhen, else inconclusive.
 */
export interface Condition {
  passWhen?: Range | null;
  failWhen?: Range | null;
}

export interface Measurement {
  /** The measured value; null when there was none (no data, or the source failed). */
  value: number | null;
  /** Why the source failed (timeout, query error, no data). Makes the measurement an `error`. */
  error?: string | null;
}

export interface LimitConfig {
  name: string;
  failureLimit: number;
  inconclusiveLimit: number;
  consecutiveErrorLimit: number;
}

/** Argo Rollouts' defaults. */
export const LIMIT_DEFAULTS: Readonly<Omit<LimitConfig, 'name'>> = Object.freeze({ failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4 });

export interface ThresholdState {
  measurements: number;
  passes: number;
  failures: number;
  inconclusives: number;
  errors: number;
  consecutiveErrors: number;
  last: { value: number | null; outcome: Outcome; reason: string } | null;
  /** Set when the verdict became final; kept. */
  final: MetricVerdict | null;
}

export function newThresholdState(): ThresholdState {
  return { measurements: 0, passes: 0, failures: 0, inconclusives: 0, errors: 0, consecutiveErrors: 0, last: null, final: null };
}

function inRange(v: number, r: Range): boolean {
  return (r.min === undefined || r.min === null || v >= r.min) && (r.max === undefined || r.max === null || v <= r.max);
}

function describe(r: Range): string {
  const lo = r.min ?? null;
  const hi = r.max ?? null;
  if (lo !== null && hi !== null) return `in [${lo}, ${hi}]`;
  if (lo !== null) return `>= ${lo}`;
  if (hi !== null) return `<= ${hi}`;
  return 'any value';
}

export function validateCondition(name: string, cond: Condition): void {
  if (!cond.passWhen && !cond.failWhen) throw new RollgateError('invalid_spec', `${name}: give a passWhen or failWhen range (e.g. passWhen: { max: 0.01 })`);
  for (const [k, r] of Object.entries(cond)) {
    const range = r as Range | null | undefined;
    if (range && range.min != null && range.max != null && range.min > range.max) {
      throw new RollgateError('invalid_spec', `${name}: ${k} has min ${range.min} above max ${range.max}`);
    }
  }
}

/** Classifies one measurement. */
export function classify(m: Measurement, cond: Condition): { outcome: Outcome; reason: string } {
  if (m.error) return { outcome: 'error', reason: m.error };
  if (m.value === null || !Number.isFinite(m.value)) return { outcome: 'error', reason: m.value === null ? 'no data' : `not a number (${m.value})` };
  const v = m.value;
  if (cond.failWhen && inRange(v, cond.failWhen)) return { outcome: 'fail', reason: `${v} is ${describe(cond.failWhen)} (fail condition)` };
  if (cond.passWhen) {
    if (inRange(v, cond.passWhen)) return { outcome: 'pass', reason: `${v} is ${describe(cond.passWhen)}` };
    if (cond.failWhen) return { outcome: 'inconclusive', reason: `${v} is neither ${describe(cond.passWhen)} nor ${describe(cond.failWhen)}` };
    return { outcome: 'fail', reason: `${v} is not ${describe(cond.passWhen)}` };
  }
  return { outcome: 'pass', reason: `${v} is not ${describe(cond.failWhen ?? {})}` };
}

export function judgeThreshold(state: ThresholdState, m: Measurement, cond: Condition, limits: Partial<LimitConfig> & { name: string }): { state: ThresholdState; verdict: MetricVerdict } {
  const lim: LimitConfig = { ...LIMIT_DEFAULTS, ...stripUndefined(limits), name: limits.name };
  for (const k of ['failureLimit', 'inconclusiveLimit', 'consecutiveErrorLimit'] as const) {
    if (!(lim[k] >= 0) || !Number.isInteger(lim[k])) throw new RollgateError('invalid_spec', `${lim.name}: ${k} must be an integer >= 0, got ${lim[k]}`);
  }
  validateCondition(lim.name, cond);
  const { outcome, reason } = classify(m, cond);
  const value = m.value !== null && Number.isFinite(m.value) ? m.value : null;
  const next: ThresholdState = {
    measurements: state.measurements + 1,
    passes: state.passes + (outcome === 'pass' ? 1 : 0),
    failures: state.failures + (outcome === 'fail' ? 1 : 0),
    inconclusives: state.inconclusives + (outcome === 'inconclusive' ? 1 : 0),
    errors: state.errors + (outcome === 'error' ? 1 : 0),
    consecutiveErrors: outcome === 'error' ? state.consecutiveErrors + 1 : 0,
    last: { value, outcome, reason },
    final: state.final,
  };
  const details: MetricVerdict['details'] = {
    measurements: next.measurements,
    passes: next.passes,
    failures: next.failures,
    inconclusives: next.inconclusives,
    errors: next.errors,
    consecutiveErrors: next.consecutiveErrors,
    failureLimit: lim.failureLimit,
    inconclusiveLimit: lim.inconclusiveLimit,
    consecutiveErrorLimit: lim.consecutiveErrorLimit,
    lastOutcome: outcome,
  };
  if (next.final) return { state: next, verdict: { ...next.final, details: { ...next.final.details, ...details } } };
  const base = { metric: lim.name, canary: value, stable: null, details };
  const mk = (verdict: MetricVerdict['verdict'], final: boolean, why: string): MetricVerdict => ({ ...base, verdict, final, reason: why });
  let v: MetricVerdict;
  if (next.failures > lim.failureLimit) v = mk('fail', true, `${next.failures} failed measurement(s), limit ${lim.failureLimit}; last: ${reason}`);
  else if (next.consecutiveErrors > lim.consecutiveErrorLimit) v = mk('fail', true, `${next.consecutiveErrors} measurements in a row could not be taken, limit ${lim.consecutiveErrorLimit}; last: ${reason}`);
  else if (next.inconclusives > lim.inconclusiveLimit) v = mk('inconclusive', true, `${next.inconclusives} inconclusive measurement(s), limit ${lim.inconclusiveLimit}; last: ${reason}`);
  else if (outcome === 'error') v = mk('inconclusive', false, `measurement failed (${next.consecutiveErrors} in a row, limit ${lim.consecutiveErrorLimit}): ${reason}`);
  else if (next.passes > 0) v = mk('pass', false, outcome === 'pass' ? reason : `${reason}; ${next.failures} failure(s) so far, limit ${lim.failureLimit}`);
  else v = mk('inconclusive', false, reason);
  if (v.final) next.final = v;
  return { state: next, verdict: v };
}

/** Request-rate floor: too little canary traffic is inconclusive, never a pass. */
export function judgeRequestRate(requests: number, seconds: number, minPerSecond: number, name = 'request-rate'): MetricVerdict {
  const rate = seconds > 0 ? requests / seconds : 0;
  const details = { requests, seconds, minPerSecond };
  if (rate >= minPerSecond && seconds > 0) return { metric: name, verdict: 'pass', final: false, reason: `${rate.toFixed(2)} req/s >= ${minPerSecond} req/s`, canary: rate, stable: null, details };
  return { metric: name, verdict: 'inconclusive', final: false, reason: `${rate.toFixed(2)} req/s is below the floor of ${minPerSecond} req/s: too little traffic to judge`, canary: rate, stable: null, details };
}
