/** The resource judges, pure: memory growth and CPU per request, canary against stable. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeResource, newResourceState, resolveResourceConfig, type ResourceConfig, type ResourceLook, type ResourceMetricKind, type ResourceSample, type ResourceState } from './resources.js';
import type { MetricVerdict } from './types.js';

const MiB = 1024 * 1024;

interface SideModel {
  instances: number;
  /** Resident memory at t (seconds since the start) of instance k. */
  rss: (t: number, k: number) => number;
  cpuMsPerRequest: number;
  requestsPerSecond: number;
  readyAtMs?: number;
}

function sample(m: SideModel, prefix: string, atMs: number): ResourceSample[] {
  const t = atMs / 1000;
  return Array.from({ length: m.instances }, (_, k) => {
    const requests = Math.floor(m.requestsPerSecond * t);
    return { id: `${prefix}-${k}`, readyAtMs: m.readyAtMs ?? -60_000, sampledAtMs: atMs, cpuSeconds: (requests * m.cpuMsPerRequest) / 1000 + t * 0.001, rssBytes: m.rss(t, k), requests };
  });
}

/** Runs a judge over `seconds` of one look per second (sample every second, as the agent does); returns every verdict. */
function run(metric: ResourceMetricKind, canary: SideModel, stable: SideModel | null, seconds: number, cfg: Partial<ResourceConfig> = {}): MetricVerdict[] {
  let state: ResourceState = newResourceState();
  const out: MetricVerdict[] = [];
  for (let s = 0; s <= seconds; s++) {
    const at = s * 1000;
    const look: ResourceLook = { canary: sample(canary, 'c', at), stable: stable ? sample(stable, 's', at) : null };
    // Two looks per sample: the second sees the same sample again and must not count twice.
    for (const extra of [0, 250]) {
      const r = judgeResource(state, look, { name: metric, metric, ...cfg }, at + extra);
      state = r.state;
      out.push(r.verdict);
    }
  }
  return out;
}

const last = (v: MetricVerdict[]) => v[v.length - 1]!;
// A garbage-collected heap: a saw-tooth of 6 MiB around a flat level, different per instance.
const sawTooth = (base: number) => (t: number, k: number) => base + ((t * 1.7 + k * 3) % 6) * MiB;

describe('memoryGrowth', () => {
  test('a canary that leaks fails, naming the growth and the limit', () => {
    const v = run('memoryGrowth', { instances: 1, rss: (t) => 50 * MiB + t * 5 * MiB, cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, { instances: 2, rss: sawTooth(50 * MiB), cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, 20);
    const fail = v.find((x) => x.verdict === 'fail');
    assert.ok(fail, JSON.stringify(last(v)));
    assert.equal(fail.final, true);
    assert.match(fail.reason, /memory grows 5\.00 MiB\/s per instance, above stable's/);
    assert.ok(fail.canary! > 4.9 * MiB && fail.canary! < 5.1 * MiB);
  });

  test('a healthy canary with a noisy heap passes against a noisy stable', () => {
    const v = run('memoryGrowth', { instances: 1, rss: sawTooth(48 * MiB), cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, { instances: 2, rss: sawTooth(50 * MiB), cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, 30);
    assert.ok(v.every((x) => x.verdict !== 'fail'), JSON.stringify(v.find((x) => x.verdict === 'fail')));
    assert.equal(last(v).verdict, 'pass');
  });

  test('growing no faster than a stable that grows too passes (factor 2)', () => {
    const grow = (rate: number) => (t: number) => 50 * MiB + t * rate;
    const ok = run('memoryGrowth', { instances: 1, rss: grow(3 * MiB), cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, { instances: 1, rss: grow(2 * MiB), cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, 20);
    assert.equal(last(ok).verdict, 'pass');
    const bad = run('memoryGrowth', { instances: 1, rss: grow(5 * MiB), cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, { instances: 1, rss: grow(2 * MiB), cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, 20);
    assert.equal(last(bad).verdict, 'fail');
  });

  test('inconclusive until enough warm samples; a fresh instance is not judged on its warm-up', () => {
    // Grows fast for its first 2 s after readiness (heap sizing), then flat.
    const rss = (t: number) => 40 * MiB + Math.min(t, 2) * 10 * MiB;
    const v = run('memoryGrowth', { instances: 1, rss, cpuMsPerRequest: 0.1, requestsPerSecond: 100, readyAtMs: 0 }, { instances: 1, rss: () => 50 * MiB, cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, 20);
    assert.equal(v[0]!.verdict, 'inconclusive');
    assert.match(v[0]!.reason, /waiting for 5 samples/);
    assert.ok(v.every((x) => x.verdict !== 'fail'));
    assert.equal(last(v).verdict, 'pass');
  });

  test('an agent that sends no samples gets an inconclusive that says so', () => {
    const r = judgeResource(newResourceState(), { canary: [], stable: [] }, { name: 'mem', metric: 'memoryGrowth' }, 0);
    assert.equal(r.verdict.verdict, 'inconclusive');
    assert.match(r.verdict.reason, /no CPU and memory samples of its instances/);
  });

  test('one sample over the limit is confirmed before failing', () => {
    let state = newResourceState();
    const flat = (rss: number, at: number): ResourceSample => ({ id: 'c', readyAtMs: -60_000, sampledAtMs: at, cpuSeconds: 0, rssBytes: rss, requests: 0 });
    const stable = (at: number): ResourceSample => ({ ...flat(50 * MiB, at), id: 's' });
    const verdicts: string[] = [];
    for (let s = 0; s <= 12; s++) {
      const rss = s < 10 ? 50 * MiB : 50 * MiB + (s - 9) * 60 * MiB;
      const r = judgeResource(state, { canary: [flat(rss, s * 1000)], stable: [stable(s * 1000)] }, { name: 'mem', metric: 'memoryGrowth' }, s * 1000);
      state = r.state;
      verdicts.push(r.verdict.verdict);
    }
    assert.deepEqual(verdicts.slice(9), ['pass', 'inconclusive', 'inconclusive', 'fail']);
  });

  test('without a stable version only max judges', () => {
    const v = run('memoryGrowth', { instances: 1, rss: (t) => 50 * MiB + t * 2 * MiB, cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, null, 20, { max: 1 * MiB });
    assert.equal(last(v).verdict, 'fail');
    assert.match(last(v).reason, /above the limit 1\.00 MiB\/s/);
  });
});

describe('cpuPerRequest', () => {
  test('a canary using far more CPU per request fails', () => {
    const v = run('cpuPerRequest', { instances: 1, rss: () => 50 * MiB, cpuMsPerRequest: 5, requestsPerSecond: 100 }, { instances: 2, rss: () => 50 * MiB, cpuMsPerRequest: 0.2, requestsPerSecond: 100 }, 15);
    const fail = v.find((x) => x.verdict === 'fail');
    assert.ok(fail, JSON.stringify(last(v)));
    assert.match(fail.reason, /uses 5\.0\d\d ms CPU per request, above stable's 0\.2\d\d ms CPU per request/);
  });

  test('a canary within the noise floor or the factor passes', () => {
    // 3x the stable but only 0.2 ms more: the noise floor (0.5 ms) lets it pass.
    const small = run('cpuPerRequest', { instances: 1, rss: () => 50 * MiB, cpuMsPerRequest: 0.3, requestsPerSecond: 100 }, { instances: 2, rss: () => 50 * MiB, cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, 15);
    assert.equal(last(small).verdict, 'pass');
    // 1.5x a heavy stable: within the factor 2.
    const heavy = run('cpuPerRequest', { instances: 1, rss: () => 50 * MiB, cpuMsPerRequest: 15, requestsPerSecond: 100 }, { instances: 2, rss: () => 50 * MiB, cpuMsPerRequest: 10, requestsPerSecond: 100 }, 15);
    assert.equal(last(heavy).verdict, 'pass');
    const stricter = run('cpuPerRequest', { instances: 1, rss: () => 50 * MiB, cpuMsPerRequest: 15, requestsPerSecond: 100 }, { instances: 2, rss: () => 50 * MiB, cpuMsPerRequest: 10, requestsPerSecond: 100 }, 15, { factor: 1.2 });
    assert.equal(last(stricter).verdict, 'fail');
  });

  test('too few requests is inconclusive, never a pass', () => {
    const v = run('cpuPerRequest', { instances: 1, rss: () => 50 * MiB, cpuMsPerRequest: 0.1, requestsPerSecond: 5 }, { instances: 1, rss: () => 50 * MiB, cpuMsPerRequest: 0.1, requestsPerSecond: 100 }, 20);
    assert.ok(v.every((x) => x.verdict === 'inconclusive'), JSON.stringify(last(v)));
    assert.match(last(v).reason, /200 requests to warm instances of the canary/);
  });

  test('a restart (new readiness) does not count the CPU counter jump as requests served', () => {
    let state = newResourceState();
    const s = (at: number, requests: number): ResourceSample => ({ id: 's', readyAtMs: -60_000, sampledAtMs: at, cpuSeconds: requests * 0.0002, rssBytes: 50 * MiB, requests });
    let v: MetricVerdict | null = null;
    for (let i = 0; i <= 10; i++) {
      const restarted = i >= 5;
      // The restarted canary's router counter starts again at 0 while its CPU counter goes on.
      const c: ResourceSample = { id: 'c', readyAtMs: restarted ? 4500 : -60_000, sampledAtMs: i * 1000, cpuSeconds: i * 0.02, rssBytes: 50 * MiB, requests: restarted ? (i - 5) * 100 : i * 100 };
      const r = judgeResource(state, { canary: [c], stable: [s(i * 1000, i * 100)] }, { name: 'cpu', metric: 'cpuPerRequest' }, i * 1000);
      state = r.state;
      v = r.verdict;
    }
    assert.notEqual(v!.verdict, 'fail', v!.reason);
  });
});

test('config: defaults, and a bad value names the field', () => {
  assert.equal(resolveResourceConfig({ name: 'm', metric: 'cpuPerRequest' }).noiseFloor, 0.5);
  assert.equal(resolveResourceConfig({ name: 'm', metric: 'memoryGrowth', factor: undefined }).factor, 2);
  assert.throws(() => resolveResourceConfig({ name: 'm', metric: 'memoryGrowth', factor: 0.5 }), /m: factor must be at least 1/);
});
