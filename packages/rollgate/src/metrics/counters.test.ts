import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { LatencyHistogram, VersionMetrics } from '../core/dataplane.js';
import { LATENCY_BOUNDS_MS, VersionCounters } from '../agent/metrics.js';
import { diffMetrics, errorRateOf, errorsOf, isReset, quantileFromHistogram } from './counters.js';
import { windowDiff, type Reading } from './builtin.js';

/** A cumulative histogram over the router's bounds from per-bucket counts. */
function hist(perBucket: number[]): LatencyHistogram {
  const counts: number[] = [];
  let acc = 0;
  for (let i = 0; i <= LATENCY_BOUNDS_MS.length; i++) counts.push((acc += perBucket[i] ?? 0));
  return { boundsMs: [...LATENCY_BOUNDS_MS], counts, sumMs: 0, count: acc };
}

function metrics(requests: number, c5: number, upstreamErrors: number, latency = hist([requests]), cutShort = 0): VersionMetrics {
  return { requests, byClass: { '2xx': requests - c5, '3xx': 0, '4xx': 0, '5xx': c5 }, upstreamErrors, cutShort, retries: 0, latency };
}

describe('quantileFromHistogram (histogram_quantile semantics)', () => {
  // Bounds 1, 2, 5, 10 … ms. 2 requests in (1,2], 4 in (2,5], 4 in (5,10]: cumulative 0,2,6,10.
  const h = hist([0, 2, 4, 4]);
  test('interpolates linearly inside the bucket holding the rank (hand-computed)', () => {
    // p50: rank 5 lies in (2,5] which holds ranks 2..6: 2 + 3 × (5−2)/4 = 4.25
    assert.equal(quantileFromHistogram(h, 0.5), 4.25);
    // p99: rank 9.9 in (5,10], ranks 6..10: 5 + 5 × 3.9/4 = 9.875
    assert.equal(quantileFromHistogram(h, 0.99), 9.875);
    // p95: rank 9.5: 5 + 5 × 3.5/4 = 9.375
    assert.equal(quantileFromHistogram(h, 0.95), 9.375);
    // p100: the top of the last non-empty bucket
    assert.equal(quantileFromHistogram(h, 1), 10);
    // p0: the bottom of the first non-empty bucket
    assert.equal(quantileFromHistogram(h, 0), 1);
  });
  test('the first bucket starts at 0', () => {
    assert.equal(quantileFromHistogram(hist([4]), 0.5), 0.5);
  });
  test('a rank in the +Inf bucket gives the highest finite bound', () => {
    const inf = new Array<number>(LATENCY_BOUNDS_MS.length).fill(0);
    inf.push(3);
    assert.equal(quantileFromHistogram(hist([1, ...inf.slice(1)]), 0.99), 10_000);
  });
  test('empty histogram: NaN; q outside [0,1]: RangeError', () => {
    assert.ok(Number.isNaN(quantileFromHistogram(hist([]), 0.5)));
    assert.throws(() => quantileFromHistogram(h, 1.5), RangeError);
  });
  test('matches the router: the quantile of observed latencies lies in the right bucket', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 20_000, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.constantFrom(0.5, 0.95, 0.99), (lat, q) => {
        const c = new VersionCounters();
        for (const ms of lat) c.observe(200, ms);
        const v = quantileFromHistogram(c.snapshot().latency, q);
        const sorted = [...lat].sort((a, b) => a - b);
        const exact = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
        // The estimate is within the bucket of the exact order statistic (or capped at the top bound).
        const i = LATENCY_BOUNDS_MS.findIndex((b) => exact <= b);
        const hi = i === -1 ? LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]! : LATENCY_BOUNDS_MS[i]!;
        const lo = i <= 0 ? (i === -1 ? hi : 0) : LATENCY_BOUNDS_MS[i - 1]!;
        return v >= lo - 1e-9 && v <= hi + 1e-9;
      }),
    );
  });
});

describe('diffMetrics', () => {
  test('subtracts every counter and bucket', () => {
    const prev = metrics(100, 5, 1, hist([50, 50]));
    const cur = metrics(160, 9, 3, hist([80, 70, 10]));
    const d = diffMetrics(prev, cur);
    assert.equal(d.requests, 60);
    assert.equal(d.byClass['5xx'], 4);
    assert.equal(d.byClass['2xx'], 56);
    assert.equal(d.upstreamErrors, 2);
    assert.deepEqual(d.latency.counts.slice(0, 4), [30, 50, 60, 60]);
    assert.equal(d.latency.count, 60);
  });
  test('a counter that went down is a restart: the whole new reading counts', () => {
    const prev = metrics(1000, 50, 0, hist([1000]));
    const cur = metrics(30, 2, 0, hist([30]));
    assert.equal(isReset(prev, cur), true);
    const d = diffMetrics(prev, cur);
    assert.deepEqual(d, cur);
    assert.notEqual(d, cur, 'a copy, not the reading itself');
    // Only one bucket going down is enough to call it a reset.
    const skewed = structuredClone(metrics(1100, 50, 0, hist([1100])));
    skewed.latency.counts[0] = 10;
    assert.equal(isReset(prev, skewed), true);
  });
  test('no previous reading: the reading is the diff', () => {
    const cur = metrics(7, 1, 0);
    assert.deepEqual(diffMetrics(undefined, cur), cur);
  });
  test('windowDiff sums across a reset in the middle of the window', () => {
    const r = (atMs: number, m?: VersionMetrics): Reading => ({ atMs, metrics: m ? { v2: m } : {} });
    // 0 → 100 requests, restart, 0 → 40: 140 in the window, though the last reading is below the first.
    const d = windowDiff([r(0, metrics(0, 0, 0)), r(1000, metrics(100, 10, 0)), r(2000, metrics(15, 1, 0)), r(3000, metrics(40, 4, 0))], 'v2');
    assert.equal(d.requests, 140);
    assert.equal(errorsOf(d), 14);
    // A version that appears mid-window starts from zero.
    assert.equal(windowDiff([r(0), r(1000, metrics(25, 0, 0))], 'v2').requests, 25);
    assert.equal(windowDiff([r(0), r(1000)], 'v2').requests, 0);
  });
});

describe('errorsOf', () => {
  test('5xx responses and responses cut short, never counting a router-made 502 twice', () => {
    // An app answering 500: only 5xx.
    assert.equal(errorsOf(metrics(100, 7, 0)), 7);
    // A crashed instance: the router answered 502 (5xx) and counted an upstream error.
    assert.equal(errorsOf(metrics(100, 12, 12)), 12);
    // Responses cut short after their head: upstream errors with a 2xx status, counted once.
    assert.equal(errorsOf(metrics(100, 0, 3, hist([100]), 3)), 3);
    assert.equal(errorsOf(metrics(2, 2, 2)), 2);
    assert.equal(errorRateOf(metrics(200, 10, 0)), 0.05);
    assert.equal(errorRateOf(metrics(0, 0, 0)), null);
  });
});
