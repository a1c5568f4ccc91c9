/**
 * The judges' verdict logic and edge cases: request floors (inconclusive, never pass), no
 * stable version, an all-error canary, zero traffic, counter resets (a negative increment is
 * a restart of the router's counters: dropped for that tick, counted in `resets`, no crash),
 * invalid configs, Argo-like limits for thresholds, and how verdicts combine.
 * The statistical guarantees are tested in stats, detection and false-alarm tests.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  combine,
  judgeErrorRate,
  judgeLatency,
  judgeRequestRate,
  judgeThreshold,
  lookBuiltin,
  newBuiltinAnalysis,
  newErrorRateState,
  newLatencyState,
  newThresholdState,
  versionIncrement,
  type Buckets,
  type Condition,
  type ErrorRateState,
  type LatencyState,
  type Measurement,
  type MetricVerdict,
  type ThresholdState,
} from './index.js';
import { RollgateError } from '../errors.js';
import { Accumulator, LATENCY_BOUNDS } from './sim.js';

const B = LATENCY_BOUNDS;
/** n requests all in the bucket whose upper bound is `ms` (or +Inf). */
function at(ms: number, n: number): Buckets {
  const counts = new Array<number>(B.length + 1).fill(0);
  const i = B.indexOf(ms);
  counts[i < 0 ? B.length : i] = n;
  return { boundsMs: B, counts };
}
function spread(n: number): Buckets {
  // A realistic few-ms spread: 20% <=2ms, 50% (2,5], 25% (5,10], 5% (10,25]
  const counts = new Array<number>(B.length + 1).fill(0);
  counts[1] = Math.round(n * 0.2);
  counts[2] = Math.round(n * 0.5);
  counts[3] = Math.round(n * 0.25);
  counts[4] = n - counts[1]! - counts[2]! - counts[3]!;
  return { boundsMs: B, counts };
}

describe('error-rate judge', () => {
  const feed = (ticks: { c: [number, number]; s: [number, number] | null }[], cfg = {}) => {
    let st: ErrorRateState = newErrorRateState();
    let v: MetricVerdict | undefined;
    for (const t of ticks) {
      const r = judgeErrorRate(st, { canary: { requests: t.c[0], errors: t.c[1] }, stable: t.s ? { requests: t.s[0], errors: t.s[1] } : null }, cfg);
      st = r.state;
      v = r.verdict;
    }
    return { st, v: v! };
  };

  test('below minRequests it is inconclusive, never pass; then pass', () => {
    const few = feed([{ c: [20, 0], s: [200, 1] }]);
    assert.equal(few.v.verdict, 'inconclusive');
    assert.equal(few.v.final, false);
    assert.match(few.v.reason, /only 20 canary requests/);
    const enough = feed([{ c: [20, 0], s: [200, 1] }, { c: [40, 0], s: [200, 1] }]);
    assert.equal(enough.v.verdict, 'pass');
    assert.equal(enough.v.canary, 0);
    assert.equal(enough.v.stable, 0.005);
  });

  test('zero traffic for a long time stays inconclusive and does not crash', () => {
    const r = feed(new Array(500).fill({ c: [0, 0], s: [0, 0] }));
    assert.equal(r.v.verdict, 'inconclusive');
    assert.equal(r.v.canary, null);
    assert.equal(r.v.stable, null);
  });

  test('an all-error canary fails within a few requests, with or without a stable', () => {
    const withStable = feed([{ c: [3, 3], s: [30, 0] }]);
    assert.equal(withStable.v.verdict, 'fail');
    assert.equal(withStable.v.final, true);
    const alone = feed([{ c: [4, 4], s: null }]);
    assert.equal(alone.v.verdict, 'fail');
    assert.match(alone.v.reason, /above the limit 5%/);
    assert.equal(alone.v.stable, null);
  });

  test('no stable: only the absolute limit applies; without it a bad canary passes', () => {
    const ticks = new Array(10).fill({ c: [100, 3], s: null });
    assert.equal(feed(ticks).v.verdict, 'pass'); // 3% < 5%
    const noLimit = feed(new Array(10).fill({ c: [100, 30], s: null }), { maxRate: null });
    assert.equal(noLimit.v.verdict, 'pass');
    assert.match(noLimit.v.reason, /no stable version/);
  });

  test('a fail is final and keeps its reason', () => {
    const r = feed([{ c: [25, 6], s: [225, 0] }, ...new Array(20).fill({ c: [1000, 0], s: [1000, 50] })]);
    assert.equal(r.v.verdict, 'fail');
    assert.equal(r.v.details.canaryErrors, 6);
  });

  test('a stable that also fails is no evidence against the canary', () => {
    // Both at 8%: the comparison stays quiet; only the absolute 5% limit can fail it.
    const r = feed(new Array(40).fill({ c: [25, 2], s: [225, 18] }), { maxRate: null });
    assert.equal(r.v.verdict, 'pass');
  });

  test('negative increments (counter reset) are dropped, counted, and do not crash', () => {
    const r = feed([{ c: [100, 1], s: [900, 5] }, { c: [-100, -1], s: [-900, -5] }, { c: [NaN, 0], s: [Infinity, 2] }, { c: [10, 20], s: [900, 4] }]);
    assert.equal(r.st.resets, 1);
    assert.equal(r.st.canary.requests, 110);
    assert.equal(r.st.canary.errors, 11); // errors above requests are capped at requests
    assert.ok(Number.isFinite(r.st.logLR[0]!));
  });

  test('invalid configs are rejected with a message', () => {
    assert.throws(() => judgeErrorRate(newErrorRateState(), { canary: { requests: 1, errors: 0 }, stable: null }, { alpha: 0 }), (e: unknown) => e instanceof RollgateError && e.code === 'invalid_spec' && /alpha/.test(e.message));
    assert.throws(() => judgeErrorRate(newErrorRateState(), { canary: { requests: 1, errors: 0 }, stable: null }, { maxRate: 5 }), /maxRate must be a fraction/);
    assert.throws(() => newErrorRateState([0.5]), /grid/);
  });
});

describe('latency judge', () => {
  const feed = (ticks: { c: Buckets; s: Buckets | null }[], cfg = {}) => {
    let st: LatencyState = newLatencyState();
    let v: MetricVerdict | undefined;
    for (const t of ticks) {
      const r = judgeLatency(st, { canary: t.c, stable: t.s }, cfg);
      st = r.state;
      v = r.verdict;
    }
    return { st, v: v! };
  };

  test('+200 ms fails at the first look with enough data, with the numbers', () => {
    const r = feed([{ c: at(250, 25), s: spread(225) }, { c: at(250, 25), s: spread(225) }]);
    assert.equal(r.v.verdict, 'fail');
    assert.equal(r.v.metric, 'latency-p99');
    assert.ok(r.v.canary! > 200);
    assert.ok(r.v.stable! < 30);
    assert.equal(r.v.details.rejectedAtLook, 1);
  });

  test('identical distributions pass once both sides have minRequests', () => {
    const r = feed([{ c: spread(30), s: spread(270) }]);
    assert.equal(r.v.verdict, 'inconclusive');
    const r2 = feed([{ c: spread(30), s: spread(270) }, { c: spread(30), s: spread(270) }]);
    assert.equal(r2.v.verdict, 'pass');
    assert.match(r2.v.reason, /canary p99 .* vs stable/);
  });

  test('a significant but small shift does not fail (practical significance)', () => {
    // Canary one bucket slower for 20% of requests: the rank test rejects, the p99 gap stays within tolerance.
    const c = (n: number): Buckets => {
      const b = spread(n);
      const counts = [...b.counts];
      counts[1] = counts[1]! - Math.round(n * 0.2);
      counts[2] = counts[2]! + Math.round(n * 0.2);
      return { boundsMs: B, counts };
    };
    const r = feed(new Array(40).fill(0).map(() => ({ c: c(100), s: spread(900) })));
    assert.ok(r.st.rejected, 'rank test should reject');
    assert.equal(r.v.verdict, 'pass');
    assert.match(r.v.reason, /measurably slower but within/);
  });

  test('no stable: maxMs judges the canary alone; without maxMs it passes', () => {
    const slow = feed([{ c: at(500, 60), s: null }], { maxMs: 250 });
    assert.equal(slow.v.verdict, 'fail');
    assert.match(slow.v.reason, /above 250 ms/);
    const fine = feed([{ c: spread(60), s: null }], { maxMs: 250 });
    assert.equal(fine.v.verdict, 'pass');
    const none = feed([{ c: at(500, 60), s: null }]);
    assert.equal(none.v.verdict, 'pass');
    assert.match(none.v.reason, /no stable/);
  });

  test('too few stable requests keep it inconclusive', () => {
    const r = feed([{ c: spread(100), s: spread(10) }]);
    assert.equal(r.v.verdict, 'inconclusive');
    assert.match(r.v.reason, /only 10 stable requests/);
  });

  test('resets and malformed ticks are dropped, counted, and do not crash', () => {
    const neg = { boundsMs: B, counts: spread(10).counts.map((c) => -c) };
    const wrong = { boundsMs: [1, 2], counts: [1, 2, 3] };
    const r = feed([{ c: spread(100), s: spread(900) }, { c: neg, s: spread(900) }, { c: wrong, s: wrong }, { c: spread(100), s: spread(900) }]);
    assert.equal(r.st.resets, 2);
    assert.equal(r.v.details.canaryRequests, 200);
    assert.equal(r.v.verdict, 'pass');
  });

  test('zero traffic stays inconclusive', () => {
    const r = feed(new Array(300).fill({ c: at(1, 0), s: at(1, 0) }));
    assert.equal(r.v.verdict, 'inconclusive');
    assert.equal(r.v.canary, null);
  });

  test('invalid configs are rejected', () => {
    assert.throws(() => feed([{ c: spread(1), s: null }], { quantile: 99 }), /quantile must be between 0 and 1/);
    assert.throws(() => feed([{ c: spread(1), s: null }], { tolerance: 0.5 }), /tolerance must be a factor >= 1/);
  });
});

describe('thresholds with Argo-like limits', () => {
  const run = (values: Measurement[], cond: Condition, limits = {}) => {
    let st: ThresholdState = newThresholdState();
    const out: MetricVerdict[] = [];
    for (const m of values) {
      const r = judgeThreshold(st, m, cond, { name: 'prom', ...limits });
      st = r.state;
      out.push(r.verdict);
    }
    return out;
  };

  test('pass, then a failure past failureLimit (total, not consecutive) fails for good', () => {
    const v = run([{ value: 0.001 }, { value: 0.5 }, { value: 0.001 }, { value: 0.5 }, { value: 0.001 }], { passWhen: { max: 0.01 } }, { failureLimit: 1 });
    assert.deepEqual(v.map((x) => x.verdict), ['pass', 'pass', 'pass', 'fail', 'fail']);
    assert.equal(v[3]!.final, true);
    assert.match(v[3]!.reason, /2 failed measurement\(s\), limit 1/);
  });

  test('errors: never a silent pass; consecutive errors past the limit fail', () => {
    const err: Measurement = { value: null, error: 'query timed out after 5s' };
    const v = run([{ value: 1 }, err, err, { value: 1 }, err, err, err], { passWhen: { min: 1 } }, { consecutiveErrorLimit: 2 });
    assert.deepEqual(v.map((x) => x.verdict), ['pass', 'inconclusive', 'inconclusive', 'pass', 'inconclusive', 'inconclusive', 'fail']);
    assert.match(v[6]!.reason, /3 measurements in a row could not be taken.*timed out/);
    const noData = run([{ value: null }], { passWhen: { min: 1 } });
    assert.equal(noData[0]!.verdict, 'inconclusive');
    assert.match(noData[0]!.reason, /no data/);
  });

  test('between passWhen and failWhen is inconclusive; past inconclusiveLimit it is final', () => {
    const cond = { passWhen: { max: 100 }, failWhen: { min: 200 } };
    const v = run([{ value: 150 }, { value: 50 }, { value: 150 }], cond, { inconclusiveLimit: 1 });
    assert.deepEqual(v.map((x) => [x.verdict, x.final]), [['inconclusive', false], ['pass', false], ['inconclusive', true]]);
    assert.equal(run([{ value: 250 }], cond)[0]!.verdict, 'fail');
  });

  test('failWhen only; invalid conditions rejected', () => {
    assert.equal(run([{ value: 0 }], { failWhen: { min: 1 } })[0]!.verdict, 'pass');
    assert.equal(run([{ value: 3 }], { failWhen: { min: 1 } })[0]!.verdict, 'fail');
    assert.throws(() => run([{ value: 0 }], {}), /passWhen or failWhen/);
    assert.throws(() => run([{ value: 0 }], { passWhen: { min: 2, max: 1 } }), /min 2 above max 1/);
    assert.throws(() => run([{ value: 0 }], { passWhen: { min: 0 } }, { failureLimit: -1 }), /failureLimit/);
  });

  test('request-rate floor is inconclusive below, pass above', () => {
    assert.equal(judgeRequestRate(5, 10, 1).verdict, 'inconclusive');
    assert.equal(judgeRequestRate(50, 10, 1).verdict, 'pass');
    assert.equal(judgeRequestRate(0, 0, 1).verdict, 'inconclusive');
  });
});

describe('combine', () => {
  const mv = (metric: string, verdict: MetricVerdict['verdict'], final = verdict === 'fail'): MetricVerdict => ({ metric, verdict, final, reason: metric, canary: null, stable: null, details: {} });

  test('fail beats everything; final inconclusive beats pass', () => {
    assert.equal(combine([mv('a', 'pass'), mv('b', 'fail'), mv('c', 'inconclusive', true)]).verdict, 'fail');
    const r = combine([mv('a', 'pass'), mv('c', 'inconclusive', true)]);
    assert.deepEqual([r.verdict, r.final], ['inconclusive', true]);
  });

  test('while running: pass so far or keep watching; at the end: never pass without data', () => {
    assert.deepEqual(pick(combine([mv('a', 'pass'), mv('b', 'pass')])), ['pass', false]);
    assert.deepEqual(pick(combine([mv('a', 'pass'), mv('b', 'inconclusive')])), ['inconclusive', false]);
    assert.deepEqual(pick(combine([mv('a', 'pass'), mv('b', 'inconclusive')], { complete: true })), ['inconclusive', true]);
    assert.deepEqual(pick(combine([mv('a', 'pass')], { complete: true })), ['pass', true]);
    assert.deepEqual(pick(combine([])), ['pass', false]);
  });
  const pick = (r: { verdict: string; final: boolean }) => [r.verdict, r.final];
});

describe('router counters to increments', () => {
  test('diffs monotonic counters; retries count as errors; a reset uses the new snapshot', () => {
    const a = new Accumulator().add({ counts: { requests: 100, errors: 2 }, buckets: spread(100) }).snapshot();
    const b = new Accumulator().add({ counts: { requests: 150, errors: 5 }, buckets: spread(150) }).snapshot();
    b.retries = 4;
    const inc = versionIncrement(a, b);
    assert.deepEqual(inc.counts, { requests: 54, errors: 7 });
    assert.equal(inc.buckets.counts.reduce((x, y) => x + y, 0), 50);
    assert.equal(inc.reset, false);
    const restarted = new Accumulator().add({ counts: { requests: 10, errors: 1 }, buckets: spread(10) }).snapshot();
    const r = versionIncrement(b, restarted);
    assert.equal(r.reset, true);
    assert.deepEqual(r.counts, { requests: 10, errors: 1 });
    assert.deepEqual(versionIncrement(a, b, { countRetries: false }).counts, { requests: 50, errors: 3 });
  });

  test('lookBuiltin judges snapshots end to end, including a stable that disappears', () => {
    const ca = new Accumulator();
    const sa = new Accumulator();
    let st = newBuiltinAnalysis({ canary: undefined, stable: undefined });
    let last;
    for (let i = 0; i < 4; i++) {
      ca.add({ counts: { requests: 25, errors: 0 }, buckets: spread(25) });
      sa.add({ counts: { requests: 225, errors: 1 }, buckets: spread(225) });
      last = lookBuiltin(st, { canary: ca.snapshot(), stable: sa.snapshot() });
      st = last.state;
    }
    assert.deepEqual(last!.metrics.map((m) => m.metric), ['error-rate', 'latency-p99']);
    assert.equal(last!.analysis.verdict, 'pass');
    ca.add({ counts: { requests: 25, errors: 25 }, buckets: at(250, 25) });
    last = lookBuiltin(st, { canary: ca.snapshot(), stable: null });
    assert.equal(last.analysis.verdict, 'fail');
    assert.equal(last.analysis.final, true);
  });
});

describe('lookBuiltin baselines', () => {
  test('a stable that appears mid-analysis only sets its baseline (its old traffic is not counted)', () => {
    const sa = new Accumulator().add({ counts: { requests: 100_000, errors: 0 }, buckets: spread(100_000) });
    const ca = new Accumulator();
    let st = newBuiltinAnalysis({ canary: undefined, stable: null });
    ca.add({ counts: { requests: 30, errors: 0 }, buckets: spread(30) });
    st = lookBuiltin(st, { canary: ca.snapshot(), stable: sa.snapshot() }).state;
    assert.equal(st.errorRate!.stable!.requests, 0);
    sa.add({ counts: { requests: 270, errors: 1 }, buckets: spread(270) });
    ca.add({ counts: { requests: 30, errors: 0 }, buckets: spread(30) });
    st = lookBuiltin(st, { canary: ca.snapshot(), stable: null }).state;
    st = lookBuiltin(st, { canary: ca.snapshot(), stable: sa.snapshot() }).state;
    assert.deepEqual(st.errorRate!.stable, { requests: 270, errors: 1 });
    assert.equal(st.errorRate!.canary.requests, 60);
  });
});
