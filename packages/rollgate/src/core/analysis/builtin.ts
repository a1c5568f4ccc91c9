/**
 * The built-in router metrics judged together, fed with the router's raw snapshots: what the
 * executor calls at every look (~4 per second) during a canary or a watch window.
 *
 * Defaults: error rate (canary vs stable, plus a 5% absolute limit) and latency p99 (canary vs
 * stable), each with alpha = 0.002, so a healthy canary is falsely failed with probability at
 * most 0.004 over the whole analysis, however long it runs and however often it looks.
 */
import type { VersionMetrics } from '../dataplane.js';
import { combine, type AnalysisVerdict } from './combine.js';
import { versionIncrement } from './counters.js';
import { judgeErrorRate, newErrorRateState, resolveErrorRateConfig, type ErrorRateConfig, type ErrorRateState } from './error-rate.js';
import { judgeLatency, newLatencyState, resolveLatencyConfig, type LatencyConfig, type LatencyState } from './latency.js';
import type { MetricVerdict } from './types.js';
import { WARMUP_REQUESTS, warmIncrement, type InstancesSnapshot, type WarmIncrement } from './warmup.js';

export interface BuiltinConfig {
  /** Null: no error-rate metric. */
  errorRate: Partial<ErrorRateConfig> | null;
  /** One entry per latency quantile judged. */
  latency: Partial<LatencyConfig>[];
  /** Count retried connection failures as the failing version's errors (see counters.ts). */
  countRetries: boolean;
  /**
   * With per-instance latency in the snapshots: what an instance answered in its first
   * `latencyWarmupMs` after it became ready is left out of the latency test (see warmup.ts).
   */
  latencyWarmupMs?: number | undefined;
}

export const BUILTIN_DEFAULTS: Readonly<BuiltinConfig> = Object.freeze({ errorRate: {}, latency: [{}], countRetries: true });

export interface Snapshot {
  canary: VersionMetrics | undefined;
  /**
   * Null: no stable version to compare with at this look. Undefined: stable known but no
   * counters yet. The first snapshot of a stable only sets its baseline.
   */
  stable: VersionMetrics | undefined | null;
  /** Each instance's own latency, when the data plane reports it: latency is then judged on warm instances only. */
  instances?: InstancesSnapshot | undefined;
}

export interface BuiltinState {
  prev: Snapshot;
  errorRate: ErrorRateState | null;
  latency: LatencyState[];
  looks: number;
  resets: number;
  /** Requests left out of the latency test so far because their instance was warming up. */
  warmupExcluded: { canary: number; stable: number };
}

/** Starts an analysis from the counters at its start (they are monotonic since agent start). */
export function newBuiltinAnalysis(baseline: Snapshot, cfg: BuiltinConfig = BUILTIN_DEFAULTS): BuiltinState {
  // Resolve now so an invalid config is rejected before the analysis runs.
  if (cfg.errorRate) resolveErrorRateConfig(cfg.errorRate);
  for (const l of cfg.latency) resolveLatencyConfig(l);
  return { prev: baseline, errorRate: cfg.errorRate ? newErrorRateState() : null, latency: cfg.latency.map(() => newLatencyState()), looks: 0, resets: 0, warmupExcluded: { canary: 0, stable: 0 } };
}

export function lookBuiltin(state: BuiltinState, snap: Snapshot, cfg: BuiltinConfig = BUILTIN_DEFAULTS, opts: { complete?: boolean } = {}): { state: BuiltinState; metrics: MetricVerdict[]; analysis: AnalysisVerdict } {
  const counting = { countRetries: cfg.countRetries };
  const empty = { counts: { requests: 0, errors: 0 }, buckets: { boundsMs: [] as number[], counts: [] as number[] }, reset: false };
  // A canary without counters at the start is new: all its counts belong to this analysis. A
  // stable seen for the first time only sets its baseline (its counters hold older traffic).
  const c = snap.canary ? versionIncrement(state.prev.canary, snap.canary, counting) : null;
  const s = snap.stable === null ? null : snap.stable && state.prev.stable ? versionIncrement(state.prev.stable, snap.stable, counting) : empty;
  const metrics: MetricVerdict[] = [];
  // Keep the last snapshot of each side, so a side missing for a while does not lose its baseline.
  const prev: Snapshot = { canary: snap.canary ?? state.prev.canary, stable: snap.stable ?? state.prev.stable, instances: snap.instances ?? state.prev.instances };
  const next: BuiltinState = { ...state, prev, looks: state.looks + 1, resets: state.resets + (c?.reset || s?.reset ? 1 : 0) };
  const bounds = c?.buckets.boundsMs ?? s?.buckets.boundsMs ?? state.latency.find((l) => l.boundsMs)?.boundsMs ?? snap.instances?.canary[0]?.latency.boundsMs ?? [];
  const warm = warmLatency(state.prev.instances, snap.instances, snap.stable === null, cfg.latencyWarmupMs ?? 0, bounds);
  if (warm) next.warmupExcluded = { canary: state.warmupExcluded.canary + warm.canary.excluded, stable: state.warmupExcluded.stable + (warm.stable?.excluded ?? 0) };
  if (cfg.errorRate && state.errorRate) {
    const r = judgeErrorRate(state.errorRate, { canary: c?.counts ?? { requests: 0, errors: 0 }, stable: s ? s.counts : null }, cfg.errorRate);
    next.errorRate = r.state;
    metrics.push(r.verdict);
  }
  next.latency = cfg.latency.map((lc, i) => {
    const st = state.latency[i] ?? newLatencyState();
    const zero = { boundsMs: bounds, counts: new Array<number>(bounds.length + 1).fill(0) };
    let canary = c ? c.buckets : zero;
    let stable = s === null ? null : s.buckets.counts.length > 0 ? s.buckets : zero;
    if (warm) {
      canary = warm.canary.buckets;
      stable = warm.stable ? warm.stable.buckets : null;
    }
    const r = judgeLatency(st, { canary, stable }, lc);
    metrics.push(warm ? withWarmup(r.verdict, warm, next.warmupExcluded) : r.verdict);
    return r.state;
  });
  return { state: next, metrics, analysis: combine(metrics, opts) };
}

/** Both sides' warm increments, or null when a look lacks per-instance latency (then all samples count). */
function warmLatency(prev: InstancesSnapshot | undefined, cur: InstancesSnapshot | undefined, noStable: boolean, warmupMs: number, bounds: readonly number[]): { canary: WarmIncrement; stable: WarmIncrement | null } | null {
  if (!prev || !cur) return null;
  return {
    canary: warmIncrement({ atMs: prev.atMs, instances: prev.canary }, { atMs: cur.atMs, instances: cur.canary }, warmupMs, bounds),
    stable: noStable ? null : warmIncrement({ atMs: prev.atMs, instances: prev.stable }, { atMs: cur.atMs, instances: cur.stable }, warmupMs, bounds),
  };
}

/** Says what warm-up left out, so a verdict waiting for data tells why. */
function withWarmup(v: MetricVerdict, warm: { canary: WarmIncrement; stable: WarmIncrement | null }, excluded: { canary: number; stable: number }): MetricVerdict {
  const warming = warm.canary.warming + (warm.stable?.warming ?? 0);
  const details = { ...v.details, warmupExcludedCanary: excluded.canary, warmupExcludedStable: excluded.stable, instancesWarming: warming };
  if (v.verdict !== 'inconclusive' || warming === 0) return { ...v, details };
  return { ...v, details, reason: `${v.reason}; ${warming} instance${warming === 1 ? '' : 's'} still warming up (latency of an instance counts from latencyWarmup after it became ready and its first ${WARMUP_REQUESTS} requests)` };
}
