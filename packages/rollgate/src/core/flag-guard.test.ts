// The flag guard glue on simulated traffic through the real judge: a healthy treatment is not
// failed over many runs, a treatment failing 10% more is failed within a few looks, and the
// glue reads the right pairs (and says so when the router could not count the treatment).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlagMetrics, VersionMetrics } from './dataplane.js';
import { flagSnapshot, lookFlagGuard, newFlagGuard, type FlagGuardTarget } from './flag-guard.js';
import { Accumulator, BASE_SCENARIO, simulate, type Scenario } from './analysis/sim.js';

const TARGET: FlagGuardTarget = { flag: 'new-checkout', treatment: 'treatment', control: 'control' };

function report(treatment: VersionMetrics | null, control: VersionMetrics | null, extra: FlagMetrics['pairs'] = []): FlagMetrics {
  const pairs: FlagMetrics['pairs'] = [...extra];
  if (control) pairs.push({ flag: TARGET.flag, variant: 'control', metrics: control });
  if (treatment) pairs.push({ flag: TARGET.flag, variant: 'treatment', metrics: treatment });
  return { pairs, droppedPairs: 0, malformed: 0, appDropped: 0, maxPairs: 256 };
}

/** One simulated guard: the look (1-based) of the first fail, or null. */
function run(sc: Scenario, seed: number, baselineHasPairs: boolean): number | null {
  const t = new Accumulator();
  const c = new Accumulator();
  // Unrelated pairs of the same service must not be read.
  const noise = [{ flag: 'other', variant: 'treatment', metrics: new Accumulator().snapshot() }];
  let g = newFlagGuard(TARGET, baselineHasPairs ? report(t.snapshot(), c.snapshot(), noise) : report(null, null, noise));
  let look = 0;
  for (const tick of simulate(sc, seed)) {
    look++;
    t.add(tick.canary);
    if (tick.stable) c.add(tick.stable);
    const r = lookFlagGuard(g, report(t.snapshot(), c.snapshot(), noise));
    g = r.state;
    if (r.verdict === 'fail') {
      assert.match(r.reason, /^flag new-checkout: treatment vs control: error-rate/);
      return look;
    }
  }
  return null;
}

describe('flag guard on simulated traffic', () => {
  test('healthy treatment (10% of traffic, same error rate and latency as control): no false fail in 300 runs', () => {
    let fails = 0;
    for (let i = 0; i < 300; i++) if (run(BASE_SCENARIO, 20_000 + i, i % 2 === 0) !== null) fails++;
    // The defaults bound false fails at 0.004 per run: 300 runs see ~1.2 at most on average; 0 expected.
    assert.ok(fails <= 3, `${fails} of 300 healthy guards failed`);
  });

  test('treatment failing 10% more of its requests: failed within 2 s (8 looks) in every run', () => {
    const looks: number[] = [];
    for (let i = 0; i < 200; i++) {
      const l = run({ ...BASE_SCENARIO, canaryExtraErrors: 0.1 }, 30_000 + i, i % 2 === 0);
      assert.notEqual(l, null, `run ${i} never failed`);
      looks.push(l as number);
    }
    looks.sort((a, b) => a - b);
    console.log(`flag guard, treatment +10% errors: median ${looks[100]} looks, max ${looks.at(-1)}`);
    assert.ok((looks.at(-1) as number) <= 8, `slowest detection took ${looks.at(-1)} looks`);
  });

  test('a healthy pair at 50/50 passes once both have enough data', () => {
    const t = new Accumulator();
    const c = new Accumulator();
    let g = newFlagGuard(TARGET, undefined);
    let last = '';
    for (const tick of simulate({ ...BASE_SCENARIO, canaryShare: () => 0.5 }, 7)) {
      t.add(tick.canary);
      c.add(tick.stable!);
      const r = lookFlagGuard(g, report(t.snapshot(), c.snapshot()));
      g = r.state;
      last = r.verdict;
      assert.notEqual(r.verdict, 'fail', r.reason);
    }
    assert.equal(last, 'pass');
  });
});

describe('flag guard inputs', () => {
  test('snapshot: canary is the treatment pair, stable the control pair; absent pairs are undefined', () => {
    const a = new Accumulator().add({ counts: { requests: 10, errors: 1 }, buckets: { boundsMs: [], counts: [10] } }).snapshot();
    const b = new Accumulator().snapshot();
    const s = flagSnapshot(report(a, b), TARGET);
    assert.equal(s.canary, a);
    assert.equal(s.stable, b);
    assert.deepEqual(flagSnapshot(undefined, TARGET), { canary: undefined, stable: undefined });
  });

  test('no counters for the treatment: inconclusive, and a full table is named in the reason', () => {
    const full: FlagMetrics = { ...report(null, new Accumulator().snapshot()), maxPairs: 1, droppedPairs: 42 };
    const g = newFlagGuard(TARGET, undefined);
    const r = lookFlagGuard(g, full);
    assert.equal(r.verdict, 'inconclusive');
    assert.match(r.reason, /already has 1 flag variant pairs \(42 dropped\)/);
  });

  test('treatment sharing a variant with control, or an empty side, is refused', () => {
    assert.throws(() => newFlagGuard({ flag: 'f', treatment: 'x', control: 'x' }, undefined), /treatment \(x\) and control \(x\) must be non-empty and apart/);
    assert.throws(() => newFlagGuard({ flag: 'f', treatment: ['a', 'x'], control: ['x'] }, undefined), /must be non-empty and apart/);
    assert.throws(() => newFlagGuard({ flag: 'f', treatment: [], control: ['x'] }, undefined), /must be non-empty and apart/);
  });

  test('several names on a side are counted as one: their counters added up', () => {
    const a = new Accumulator().add({ counts: { requests: 10, errors: 1 }, buckets: { boundsMs: [], counts: [10] } }).snapshot();
    const b = new Accumulator().add({ counts: { requests: 5, errors: 2 }, buckets: { boundsMs: [], counts: [5] } }).snapshot();
    const r: FlagMetrics = { pairs: [{ flag: TARGET.flag, variant: 'blue', metrics: a }, { flag: TARGET.flag, variant: 'green', metrics: b }, { flag: 'other', variant: 'blue', metrics: a }], droppedPairs: 0, malformed: 0, appDropped: 0, maxPairs: 256 };
    const s = flagSnapshot(r, { flag: TARGET.flag, treatment: ['blue', 'green'], control: ['disabled', 'off'] });
    assert.equal(s.canary?.requests, 15);
    assert.equal(s.canary?.byClass['5xx'], 3);
    assert.equal(s.stable, undefined);
  });
});
