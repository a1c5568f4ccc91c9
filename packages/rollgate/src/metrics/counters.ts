/**
 * Pure helpers over the router's monotonic per-version counters (core/dataplane.ts
 * VersionMetrics), shared by the builtin metric source and the analysis engine.
 */
import { failedResponses } from '../core/analysis/counters.js';
import type { LatencyHistogram, VersionMetrics } from '../core/dataplane.js';

export function emptyMetrics(boundsMs: readonly number[] = []): VersionMetrics {
  return {
    requests: 0,
    byClass: {},
    upstreamErrors: 0,
    cutShort: 0,
    retries: 0,
    latency: { boundsMs: [...boundsMs], counts: new Array<number>(boundsMs.length + 1).fill(0), sumMs: 0, count: 0 },
  };
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * True when `cur` cannot be a later reading of the same counters as `prev`: some counter went
 * down (the agent restarted, or the service was re-created) or the histogram layout changed.
 */
export function isReset(prev: VersionMetrics, cur: VersionMetrics): boolean {
  if (cur.requests < prev.requests || cur.upstreamErrors < prev.upstreamErrors || cur.cutShort < prev.cutShort || cur.retries < prev.retries) return true;
  if (cur.latency.count < prev.latency.count || cur.latency.sumMs < prev.latency.sumMs) return true;
  for (const [k, v] of Object.entries(prev.byClass)) if ((cur.byClass[k] ?? 0) < v) return true;
  if (!sameBounds(prev.latency.boundsMs, cur.latency.boundsMs) || prev.latency.counts.length !== cur.latency.counts.length) return true;
  return cur.latency.counts.some((c, i) => c < (prev.latency.counts[i] ?? 0));
}

/**
 * What happened between two readings of monotonic counters. A counter that went down means
 * the counters restarted from zero after `prev`, so everything in `cur` is new: `cur` is
 * returned whole (the same rule as Prometheus' rate()). Without `prev`, `cur` is the diff.
 */
export function diffMetrics(prev: VersionMetrics | undefined, cur: VersionMetrics): VersionMetrics {
  if (!prev || isReset(prev, cur)) return structuredClone(cur);
  const byClass: Record<string, number> = {};
  for (const [k, v] of Object.entries(cur.byClass)) byClass[k] = v - (prev.byClass[k] ?? 0);
  return {
    requests: cur.requests - prev.requests,
    byClass,
    upstreamErrors: cur.upstreamErrors - prev.upstreamErrors,
    cutShort: cur.cutShort - prev.cutShort,
    retries: cur.retries - prev.retries,
    latency: {
      boundsMs: [...cur.latency.boundsMs],
      counts: cur.latency.counts.map((c, i) => c - (prev.latency.counts[i] ?? 0)),
      sumMs: cur.latency.sumMs - prev.latency.sumMs,
      count: cur.latency.count - prev.latency.count,
    },
  };
}

/** Failed requests as users saw them (see failedResponses in core/analysis/counters.ts). */
export function errorsOf(m: VersionMetrics): number {
  return failedResponses(m);
}

/** errors / requests, or null when there were no requests. */
export function errorRateOf(m: VersionMetrics): number | null {
  return m.requests > 0 ? errorsOf(m) / m.requests : null;
}

/**
 * The q-quantile of a cumulative histogram, interpolated linearly inside the bucket that holds
 * it, as Prometheus' histogram_quantile() does: the first bucket's lower bound is 0, and a rank
 * that falls in the +Inf bucket returns the highest finite bound. NaN for an empty histogram.
 */
export function quantileFromHistogram(hist: LatencyHistogram, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
  const { boundsMs, counts } = hist;
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0 || boundsMs.length === 0) return NaN;
  const rank = q * total;
  // First bucket whose cumulative count reaches the rank (and holds something, for q = 0).
  let b = 0;
  while (b < boundsMs.length && !((counts[b] as number) >= rank && (counts[b] as number) > 0)) b++;
  if (b === boundsMs.length) return boundsMs[boundsMs.length - 1] as number;
  const upper = boundsMs[b] as number;
  const lower = b === 0 ? 0 : (boundsMs[b - 1] as number);
  const below = b === 0 ? 0 : (counts[b - 1] as number);
  const inBucket = (counts[b] as number) - below;
  if (b === 0 && upper <= 0) return upper;
  return lower + (upper - lower) * ((rank - below) / inBucket);
}

/** Mean latency in ms, or NaN without requests. */
export function meanLatencyMs(hist: LatencyHistogram): number {
  return hist.count > 0 ? hist.sumMs / hist.count : NaN;
}
