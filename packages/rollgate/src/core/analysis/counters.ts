/**
 * From the router's monotonic per-version counters to one tick's increment for the judges.
 *
 * What counts as an error: failed responses (`failedResponses`: a 5xx status, router-made
 * 502/504 included, or a response cut off after its head) plus `retries` (connection failures
 * of this version's instances that the router retried on another instance: users did not see
 * them, but the version failed to serve). Attempts are `requests + retries` so the rate stays a
 * fraction.
 *
 * Counter resets: if any counter went down (the agent restarted and its counters started
 * again from 0), the current snapshot *is* the increment since the restart; what happened
 * between the previous look and the restart is lost. `reset` says so.
 */
import type { VersionMetrics } from '../dataplane.js';
import { bucketsOf } from './histogram.js';
import { count } from './math.js';
import type { Buckets, Counts } from './types.js';

export interface VersionIncrement {
  counts: Counts;
  buckets: Buckets;
  reset: boolean;
}

export interface ErrorCounting {
  /** Count retried connection failures as errors of the version that failed (default true). */
  countRetries: boolean;
}

/** Responses users saw fail: a 5xx status, or a response cut off after it began. The one definition. */
export function failedResponses(m: VersionMetrics): number {
  return count(m.byClass['5xx']) + count(m.cutShort);
}

export function errorsOf(m: VersionMetrics, opts: ErrorCounting = { countRetries: true }): Counts {
  const retries = opts.countRetries ? count(m.retries) : 0;
  return { requests: count(m.requests) + retries, errors: failedResponses(m) + retries };
}

/**
 * a + b, for counters over the same histogram layout (adjacent spans of one version, or two
 * variants' counters of one router). A layout that differs cannot be added up: b's is kept.
 */
export function sumMetrics(a: VersionMetrics, b: VersionMetrics): VersionMetrics {
  const byClass: Record<string, number> = { ...a.byClass };
  for (const [k, v] of Object.entries(b.byClass)) byClass[k] = (byClass[k] ?? 0) + v;
  const layoutMatches = a.latency.counts.length === b.latency.counts.length;
  return {
    requests: a.requests + b.requests,
    byClass,
    upstreamErrors: a.upstreamErrors + b.upstreamErrors,
    cutShort: a.cutShort + b.cutShort,
    retries: a.retries + b.retries,
    latency: layoutMatches
      ? { boundsMs: [...b.latency.boundsMs], counts: a.latency.counts.map((c, i) => c + (b.latency.counts[i] ?? 0)), sumMs: a.latency.sumMs + b.latency.sumMs, count: a.latency.count + b.latency.count }
      : structuredClone(b.latency),
  };
}

/** The increment of one version's counters between two snapshots (prev undefined: since 0). */
export function versionIncrement(prev: VersionMetrics | undefined, cur: VersionMetrics, opts: ErrorCounting = { countRetries: true }): VersionIncrement {
  const curCounts = errorsOf(cur, opts);
  const curBuckets = bucketsOf(cur.latency);
  if (!prev) return { counts: curCounts, buckets: curBuckets, reset: false };
  const prevCounts = errorsOf(prev, opts);
  const prevBuckets = bucketsOf(prev.latency);
  const sameShape = prevBuckets.counts.length === curBuckets.counts.length && prevBuckets.boundsMs.every((b, i) => b === curBuckets.boundsMs[i]);
  const bucketDiff = curBuckets.counts.map((c, i) => c - (prevBuckets.counts[i] ?? 0));
  const wentDown =
    !sameShape ||
    count(cur.requests) < count(prev.requests) ||
    count(cur.retries) < count(prev.retries) ||
    Object.keys(prev.byClass).some((k) => count(cur.byClass[k]) < count(prev.byClass[k])) ||
    bucketDiff.some((d) => d < 0);
  if (wentDown) return { counts: curCounts, buckets: curBuckets, reset: true };
  return {
    counts: { requests: curCounts.requests - prevCounts.requests, errors: curCounts.errors - prevCounts.errors },
    buckets: { boundsMs: curBuckets.boundsMs, counts: bucketDiff },
    reset: false,
  };
}
