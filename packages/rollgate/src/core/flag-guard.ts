/**
 * Judge glue for a guarded flag rollout (pure): the router's per-(flag, variant) counters of a
 * service (agent report `flagMetrics`) judged by the same built-in analysis that gates canaries,
 * with the treatment variant as the canary and the control variant as the stable. The same
 * guarantees hold (analysis/builtin.ts): false fail of a healthy treatment at most 0.004 over
 * the whole guard with the defaults, however often it looks.
 *
 * Use: `newFlagGuard(target, reportAtStart)` once, then `lookFlagGuard(guard, reportNow)` at each
 * look with the agent's latest report; the guard keeps the previous snapshot, so each look
 * judges what happened between two successive reports. Per-instance latency warm-up does not
 * apply (flag pairs are not tied to instances): every response counts.
 */
import type { FlagMetrics, VersionMetrics } from './dataplane.js';
import { sumMetrics } from './analysis/counters.js';
import { BUILTIN_DEFAULTS, lookBuiltin, newBuiltinAnalysis, type BuiltinConfig, type BuiltinState, type MetricVerdict, type Snapshot, type Verdict } from './analysis/index.js';

export interface FlagGuardTarget {
  flag: string;
  /** The variant being rolled out (judged like a canary); several names are counted as one. */
  treatment: string | readonly string[];
  /** The variant it is compared with (like the stable); several names are counted as one. */
  control: string | readonly string[];
}

const namesOf = (v: string | readonly string[]): readonly string[] => (typeof v === 'string' ? [v] : v);
const label = (v: string | readonly string[]) => namesOf(v).join('/');

export interface FlagGuardState {
  readonly target: FlagGuardTarget;
  readonly judge: BuiltinState;
}

export interface FlagGuardLook {
  state: FlagGuardState;
  verdict: Verdict;
  /** True when the verdict cannot change any more (every fail). */
  final: boolean;
  /** The judge's sentence, prefixed with the flag and its variants. */
  reason: string;
  metrics: MetricVerdict[];
}

/** The counters of a flag's variants in a report, added up; undefined when the router has counted none of them. */
export function flagVariantMetrics(report: FlagMetrics | undefined, flag: string, variant: string | readonly string[]): VersionMetrics | undefined {
  let out: VersionMetrics | undefined;
  for (const name of namesOf(variant)) {
    const m = report?.pairs.find((p) => p.flag === flag && p.variant === name)?.metrics;
    if (m) out = out ? sumMetrics(out, m) : m;
  }
  return out;
}

/** The judge's per-look input from one report: canary = treatment, stable = control. */
export function flagSnapshot(report: FlagMetrics | undefined, target: FlagGuardTarget): Snapshot {
  return { canary: flagVariantMetrics(report, target.flag, target.treatment), stable: flagVariantMetrics(report, target.flag, target.control) };
}

const ZERO: VersionMetrics = Object.freeze({
  requests: 0,
  byClass: {},
  upstreamErrors: 0,
  cutShort: 0,
  retries: 0,
  latency: { boundsMs: [], counts: [], sumMs: 0, count: 0 },
}) as VersionMetrics;

/**
 * Starts a guard from the report at its start. A variant the router had not counted yet starts
 * from zero (its counters began after this report), so its first responses are judged too.
 */
export function newFlagGuard(target: FlagGuardTarget, baseline: FlagMetrics | undefined, cfg: BuiltinConfig = BUILTIN_DEFAULTS): FlagGuardState {
  const shared = namesOf(target.treatment).filter((n) => namesOf(target.control).includes(n));
  if (shared.length > 0 || namesOf(target.treatment).length === 0 || namesOf(target.control).length === 0) throw new RangeError(`flag guard of "${target.flag}": treatment (${label(target.treatment)}) and control (${label(target.control)}) must be non-empty and apart; name two different variants`);
  const snap = flagSnapshot(baseline, target);
  return { target, judge: newBuiltinAnalysis({ canary: snap.canary, stable: snap.stable ?? zeroLike(snap.canary) }, cfg) };
}

/** Zero counters with the bucket bounds of `like` (or empty bounds), for a variant not yet counted. */
function zeroLike(like: VersionMetrics | undefined): VersionMetrics {
  if (like === undefined) return ZERO;
  const bounds = like.latency.boundsMs;
  return { ...ZERO, latency: { boundsMs: [...bounds], counts: new Array<number>(bounds.length + 1).fill(0), sumMs: 0, count: 0 } };
}

/** One look: the increment since the previous report, judged. */
export function lookFlagGuard(state: FlagGuardState, current: FlagMetrics | undefined, cfg: BuiltinConfig = BUILTIN_DEFAULTS, opts: { complete?: boolean } = {}): FlagGuardLook {
  const t = state.target;
  const snap = flagSnapshot(current, t);
  const judgeState = fillStableBaseline(state.judge, snap);
  const r = lookBuiltin(judgeState, snap, cfg, opts);
  let reason = `flag ${t.flag}: ${label(t.treatment)} vs ${label(t.control)}: ${r.analysis.reason}`;
  if (snap.canary === undefined && current !== undefined && current.pairs.length >= current.maxPairs) {
    reason += `; the router counts no ${label(t.treatment)} responses of this flag: the service already has ${current.maxPairs} flag variant pairs (${current.droppedPairs} dropped)`;
  }
  return { state: { target: t, judge: r.state }, verdict: r.analysis.verdict, final: r.analysis.final, reason, metrics: r.analysis.metrics };
}

/**
 * A control baseline of empty bounds (started before either variant was counted) gets the
 * bounds the counters now have, so the first increment is not mistaken for a counter reset.
 */
function fillStableBaseline(judge: BuiltinState, snap: Snapshot): BuiltinState {
  const prev = judge.prev;
  const cur = snap.stable;
  if (prev.stable !== ZERO || cur === undefined || cur === null) return judge;
  return { ...judge, prev: { ...prev, stable: zeroLike(cur) } };
}
