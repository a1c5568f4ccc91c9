/** Latency histograms: per-bucket counts, cumulative <-> per-bucket, quantile estimates. */
import type { LatencyHistogram } from '../dataplane.js';
import type { Buckets } from './types.js';

/** Per-bucket counts from the router's cumulative histogram (Prometheus style). */
export function bucketsOf(h: LatencyHistogram): Buckets {
  const counts: number[] = [];
  let prev = 0;
  for (const c of h.counts) {
    counts.push(Math.max(0, c - prev));
    prev = c;
  }
  return { boundsMs: [...h.boundsMs], counts };
}

export function total(counts: readonly number[]): number {
  let n = 0;
  for (const c of counts) n += c;
  return n;
}

/**
 * The q-quantile (0 < q <= 1) of per-bucket counts, as Prometheus' histogram_quantile does:
 * find the bucket holding rank q*n and interpolate linearly inside it (the first bucket starts
 * at 0). A rank in the +Inf bucket returns the highest finite bound (we know no more).
 * Returns null without data.
 */
export function quantile(b: Buckets, q: number): number | null {
  const n = total(b.counts);
  if (n <= 0) return null;
  const rank = q * n;
  let cum = 0;
  for (let i = 0; i < b.counts.length; i++) {
    const c = b.counts[i] ?? 0;
    if (c > 0 && cum + c >= rank) {
      if (i >= b.boundsMs.length) return b.boundsMs[b.boundsMs.length - 1] ?? null;
      const lo = i === 0 ? 0 : (b.boundsMs[i - 1] as number);
      const hi = b.boundsMs[i] as number;
      return lo + (hi - lo) * Math.min(1, Math.max(0, (rank - cum) / c));
    }
    cum += c;
  }
  return b.boundsMs[b.boundsMs.length - 1] ?? null;
}

/**
 * Requests certainly slower than `ms`: those in buckets whose lower bound is >= ms. Requests in
 * the bucket that straddles `ms` are not counted (conservative: binning never fails a release).
 * Also returns that effective bound.
 */
export function countAbove(b: Buckets, ms: number): { above: number; effectiveMs: number } {
  let above = 0;
  let effectiveMs = Infinity;
  for (let i = 0; i < b.counts.length; i++) {
    const lo = i === 0 ? 0 : (b.boundsMs[i - 1] as number);
    if (lo >= ms) {
      above += b.counts[i] ?? 0;
      if (lo < effectiveMs) effectiveMs = lo;
    }
  }
  return { above, effectiveMs };
}

export function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
