/**
 * Latency warm-up per instance: a canary instance that starts in the middle of an analysis
 * (promote --full scaling the canary up, a rolling replacement, a restart) is slow on its first
 * requests; those are left out, whatever step brought it traffic. Without per-instance
 * latency, the same traffic fails the latency test (the false rollback of issue 10).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LatencyHistogram, VersionMetrics } from '../dataplane.js';
import { lookBuiltin, newBuiltinAnalysis, warmIncrement, type BuiltinConfig, type InstanceSample, type MetricVerdict, type Snapshot } from './index.js';
import { LATENCY_BOUNDS } from './sim.js';

const B = LATENCY_BOUNDS;
const LOOK_MS = 250;

/** One simulated instance: when it became ready and how slow it is at a given time. */
interface Sim {
  id: string;
  side: 'canary' | 'stable';
  readyAtMs: number;
  perLook: number;
  /** Bucket bound (ms) its requests land in at time t. */
  latencyAt: (t: number) => number;
  counts: number[];
}

function inst(id: string, side: Sim['side'], readyAtMs: number, perLook: number, latencyAt: (t: number) => number): Sim {
  return { id, side, readyAtMs, perLook, latencyAt, counts: new Array<number>(B.length + 1).fill(0) };
}

function cumulative(counts: readonly number[]): LatencyHistogram {
  const out: number[] = [];
  let acc = 0;
  for (const c of counts) out.push((acc += c));
  return { boundsMs: [...B], counts: out, sumMs: 0, count: acc };
}

function versionMetrics(sims: Sim[]): VersionMetrics {
  const counts = new Array<number>(B.length + 1).fill(0);
  for (const s of sims) s.counts.forEach((c, i) => (counts[i]! += c));
  const n = counts.reduce((a, b) => a + b, 0);
  return { requests: n, byClass: { '2xx': n }, upstreamErrors: 0, cutShort: 0, retries: 0, latency: cumulative(counts) };
}

/** Runs looks from t=0 to `untilMs`; returns the latency verdict of every look. */
function run(sims: Sim[], opts: { untilMs: number; perInstance: boolean; warmupMs: number }): MetricVerdict[] {
  const cfg: BuiltinConfig = { errorRate: null, latency: [{}], countRetries: true, latencyWarmupMs: opts.warmupMs };
  const snapshot = (t: number): Snapshot => {
    const live = sims.filter((s) => s.readyAtMs <= t);
    const sample = (side: Sim['side']): InstanceSample[] => live.filter((s) => s.side === side).map((s) => ({ id: s.id, readyAtMs: s.readyAtMs, latency: cumulative(s.counts) }));
    return {
      canary: versionMetrics(live.filter((s) => s.side === 'canary')),
      stable: versionMetrics(live.filter((s) => s.side === 'stable')),
      instances: opts.perInstance ? { atMs: t, canary: sample('canary'), stable: sample('stable') } : undefined,
    };
  };
  let state = newBuiltinAnalysis(snapshot(0), cfg);
  const verdicts: MetricVerdict[] = [];
  for (let t = LOOK_MS; t <= opts.untilMs; t += LOOK_MS) {
    for (const s of sims) {
      if (s.readyAtMs > t - LOOK_MS) continue; // not serving yet
      // A few-ms spread for fast answers, so the rank test has ties to break.
      const ms = s.latencyAt(t);
      const i = B.indexOf(ms);
      const fast = ms <= 5;
      s.counts[fast ? 1 : i]! += fast ? Math.floor(s.perLook / 2) : s.perLook;
      if (fast) s.counts[2]! += s.perLook - Math.floor(s.perLook / 2);
    }
    const r = lookBuiltin(state, snapshot(t), cfg);
    state = r.state;
    verdicts.push(r.metrics[0]!);
  }
  return verdicts;
}

/** Stable: two warm instances; canary: one warm instance and one that joins at 10 s, slow for its first 1.5 s. */
function promoteFullScenario(coldFor = 1500): Sim[] {
  const fast = () => 5;
  return [
    inst('s1', 'stable', -60_000, 20, fast),
    inst('s2', 'stable', -60_000, 20, fast),
    inst('c1', 'canary', -5_000, 5, fast),
    inst('c2', 'canary', 10_000, 5, (t) => (t < 10_000 + coldFor ? 250 : 5)),
  ];
}

describe('latency warm-up per instance', () => {
  test('without per-instance latency, a canary instance that starts mid-analysis fails the latency test (the defect)', () => {
    const v = run(promoteFullScenario(), { untilMs: 30_000, perInstance: false, warmupMs: 2000 });
    assert.ok(v.some((x) => x.verdict === 'fail'), 'the cold start is judged as the release being slow');
  });

  test('with it, the new instance is judged only once warm: no fail, and the analysis passes', () => {
    const v = run(promoteFullScenario(), { untilMs: 30_000, perInstance: true, warmupMs: 2000 });
    assert.equal(v.filter((x) => x.verdict === 'fail').length, 0, JSON.stringify(v.find((x) => x.verdict === 'fail')));
    const last = v[v.length - 1]!;
    assert.equal(last.verdict, 'pass', last.reason);
    assert.ok(Number(last.details.warmupExcludedCanary) > 0, 'the cold requests were left out, and it says how many');
  });

  test('warm-up never hides a slow release: a canary slow after its warm-up still fails', () => {
    const sims = promoteFullScenario();
    sims[3] = inst('c2', 'canary', 10_000, 5, () => 250);
    const v = run(sims, { untilMs: 30_000, perInstance: true, warmupMs: 2000 });
    const fail = v.find((x) => x.verdict === 'fail');
    assert.ok(fail, 'slow after warm-up');
    assert.match(fail.reason, /p99/);
  });

  test('while every canary instance warms up, the verdict waits and says why', () => {
    const fast = () => 5;
    const sims = [inst('s1', 'stable', -60_000, 20, fast), inst('c1', 'canary', 0, 5, () => 250)];
    const v = run(sims, { untilMs: 1500, perInstance: true, warmupMs: 3000 });
    const last = v[v.length - 1]!;
    assert.equal(last.verdict, 'inconclusive');
    assert.match(last.reason, /1 instance still warming up/);
  });

  test('an instance that restarted (new readiness) warms up again; a counter reset is left out', () => {
    const h = (n: number) => cumulative([0, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const prev = { atMs: 10_000, instances: [{ id: 'a', readyAtMs: 0, latency: h(100) }, { id: 'b', readyAtMs: 0, latency: h(100) }] };
    const cur = { atMs: 10_250, instances: [{ id: 'a', readyAtMs: 10_100, latency: h(110) }, { id: 'b', readyAtMs: 0, latency: h(40) }] };
    const w = warmIncrement(prev, cur, 2000, B);
    assert.equal(w.buckets.counts.reduce((a, b) => a + b, 0), 0);
    assert.equal(w.excluded, 10 + 40);
    assert.equal(w.warming, 2, 'a by time, b by requests (40 since its counters restarted)');
  });

  test('an instance ready for long but with few requests answered is still warming up', () => {
    const h = (n: number) => cumulative([0, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const prev = { atMs: 60_000, instances: [{ id: 'a', readyAtMs: 0, latency: h(60) }, { id: 'b', readyAtMs: 0, latency: h(100) }] };
    const cur = { atMs: 60_250, instances: [{ id: 'a', readyAtMs: 0, latency: h(85) }, { id: 'b', readyAtMs: 0, latency: h(110) }] };
    const w = warmIncrement(prev, cur, 2000, B);
    assert.equal(w.buckets.counts[1], 10, 'only b had answered its first 100 requests at the earlier look');
    assert.equal(w.excluded, 25);
    assert.equal(w.warming, 1, 'a has answered 85');
  });
});
