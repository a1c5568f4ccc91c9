/**
 * Detection power on simulated bench scenarios (issue 3, bench:rollback), judged by the
 * built-in defaults exactly as the executor runs them: one look per 250 ms tick, router-style
 * monotonic snapshots in, verdicts out. Seeded, so every run is the same; each scenario runs
 * over many seeds and the slowest one must meet the target:
 * - errors: stable ~900 req/s with 0.5% background errors, canary 10% of traffic failing 10%
 *   more: decided within 2 s (8 looks);
 * - latency: canary +200 ms on every request, stable a few ms: within 5 s (20 looks);
 * - crash-like: every canary request fails: within 1 look.
 * The figures (median/max looks, canary errors served before the verdict) are printed.
 * Not covered here: delays outside the judge (router polling, weight change), which the bench measures.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lookBuiltin, newBuiltinAnalysis, type BuiltinConfig, BUILTIN_DEFAULTS } from './index.js';
import { Accumulator, BASE_SCENARIO, simulate, type Scenario } from './sim.js';

interface Outcome {
  look: number | null;
  canaryErrors: number;
  metric: string | null;
}

/** Runs one simulated analysis through lookBuiltin; the look (1-based) of the first fail. */
function runAnalysis(sc: Scenario, seed: number, cfg: BuiltinConfig = BUILTIN_DEFAULTS): Outcome {
  const ca = new Accumulator();
  const sa = new Accumulator();
  let st = newBuiltinAnalysis({ canary: ca.snapshot(), stable: sc.noStable ? null : sa.snapshot() }, cfg);
  let look = 0;
  let canaryErrors = 0;
  for (const tick of simulate(sc, seed)) {
    look++;
    ca.add(tick.canary);
    canaryErrors += tick.canary.counts.errors;
    if (tick.stable) sa.add(tick.stable);
    const r = lookBuiltin(st, { canary: ca.snapshot(), stable: tick.stable ? sa.snapshot() : null }, cfg);
    st = r.state;
    if (r.analysis.verdict === 'fail') return { look, canaryErrors, metric: r.metrics.find((m) => m.verdict === 'fail')?.metric ?? null };
  }
  return { look: null, canaryErrors, metric: null };
}

function detect(name: string, sc: Scenario, seeds: number) {
  const out = Array.from({ length: seeds }, (_, i) => runAnalysis(sc, 10_000 + i));
  const looks = out.map((o) => o.look ?? Infinity).sort((a, b) => a - b);
  const errs = out.map((o) => o.canaryErrors).sort((a, b) => a - b);
  const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  const s = (looksN: number) => (looksN * sc.tickSeconds).toFixed(2);
  console.log(`${name}: ${seeds} runs, detected after median ${q(looks, 0.5)} looks (${s(q(looks, 0.5))} s), p90 ${q(looks, 0.9)}, max ${looks.at(-1)} (${s(looks.at(-1)!)} s); canary errors served before: median ${q(errs, 0.5)}, max ${errs.at(-1)}; by ${[...new Set(out.map((o) => o.metric))].join(',')}`);
  return { looks, errs, out };
}

describe('detection of bad canaries (defaults)', () => {
  test('errors: canary fails 10% more of its requests -> fail within 2 s', () => {
    const r = detect('errors', { ...BASE_SCENARIO, canaryExtraErrors: 0.1 }, 200);
    assert.ok(r.looks.at(-1)! <= 8, `slowest detection took ${r.looks.at(-1)} looks`);
    assert.ok(r.out.every((o) => o.metric === 'error-rate'));
  });

  test('latency: canary +200 ms -> fail within 5 s', () => {
    const r = detect('latency', { ...BASE_SCENARIO, canaryShiftMs: 200 }, 200);
    assert.ok(r.looks.at(-1)! <= 20, `slowest detection took ${r.looks.at(-1)} looks`);
    assert.ok(r.out.every((o) => o.metric === 'latency-p99'));
  });

  test('crash-like: every canary request fails -> first look', () => {
    const r = detect('all-errors', { ...BASE_SCENARIO, canaryExtraErrors: 1 }, 50);
    assert.equal(r.looks.at(-1), 1);
  });

  test('first deploy (no stable), 10% errors: the 5% absolute limit catches it', () => {
    const r = detect('no-stable errors', { ...BASE_SCENARIO, noStable: true, canaryShare: () => 0.1, errorRate: 0.1 }, 100);
    assert.ok(r.looks.every((l) => l < Infinity), 'every run must fail within 60 s');
  });

  test('low traffic (10 canary req/s): errors still caught, more slowly', () => {
    const r = detect('errors at 100 req/s total', { ...BASE_SCENARIO, totalRps: 100, canaryExtraErrors: 0.1 }, 100);
    assert.ok(r.looks.every((l) => l <= 80), 'every run must fail within 20 s');
  });
});
