import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { plan, planRevert, planRollback, type Plan, type PlanContext, type VersionCounts } from './index.js';
import { defaultStrategy, StrategySpec } from '../spec.js';
import type { DeploymentState } from '../../core/domain.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function freshState(now = T0): DeploymentState {
  const at = new Date(now).toISOString();
  return { stepIndex: 0, stepStartedAt: at, promoteRequested: false, promoteFull: false, pausedByUser: false, abortRequested: false, revert: null, skipAnalysis: false, analysis: null, scaleDownAt: null, oldScaledDown: false, lastProgressAt: at, lastReady: 0 };
}

/**
 * A tiny simulated data plane: instances asked for become ready one tick later; surplus ones
 * go away at once. Lets a planner run to completion and checks invariants at every tick.
 */
function simulate(strategy: StrategySpec, replicas: number, opts: { stable?: string | null; onTick?: (p: Plan, obs: Record<string, VersionCounts>) => void; promoteAtPause?: boolean } = {}) {
  const stable = opts.stable === undefined ? 'v1' : opts.stable;
  const observed: Record<string, VersionCounts> = stable ? { [stable]: { ready: replicas, total: replicas, failed: false } } : {};
  const state = freshState();
  let now = T0;
  for (let tick = 0; tick < 500; tick++) {
    const ctx: PlanContext = { strategy, replicas, stable, candidate: 'v2', state, observed: structuredClone(observed), now };
    const p = plan(ctx);
    opts.onTick?.(p, ctx.observed);
    // apply: scale each version toward desired; new instances ready next tick
    for (const v of new Set([...Object.keys(observed), ...Object.keys(p.desired.replicas)])) {
      const want = p.desired.replicas[v] ?? 0;
      const o = observed[v] ?? { ready: 0, total: 0, failed: false };
      if (want < o.total) observed[v] = { ready: Math.min(o.ready, want), total: want, failed: false };
      else observed[v] = { ready: o.total, total: want, failed: false }; // those started last tick are ready now
    }
    if (p.outcome.kind === 'complete') return { ticks: tick, final: p, observed };
    if (p.outcome.kind === 'advance') {
      state.stepIndex += 1;
      state.stepStartedAt = new Date(now).toISOString();
      state.promoteRequested = false;
    } else if (/promote/.test(p.outcome.reason) && opts.promoteAtPause !== false && p.outcome.waitMs === undefined) {
      state.promoteRequested = true;
    }
    now += 1000;
  }
  throw new Error('planner never completed');
}

function sumWeights(p: Plan): number {
  return Object.values(p.desired.routes.weights).reduce((a, b) => a + b, 0);
}

describe('first deployment', () => {
  for (const t of ['rolling', 'blueGreen', 'canary', 'recreate'] as const) {
    test(`${t}: starts all replicas then sends all traffic`, () => {
      const r = simulate(defaultStrategy(t), 3, { stable: null });
      assert.deepEqual(r.final.desired.routes.weights, { v2: 100 });
      assert.equal(r.observed.v2?.ready, 3);
    });
  }
});

describe('canary', () => {
  const strategy: StrategySpec = StrategySpec.parse({ canary: { steps: [{ setWeight: 10 }, { pause: { duration: '5s' } }, { setHeaderRoute: { header: 'X-Beta', value: 'yes' } }, { setWeight: 50 }, { pause: {} }], scaleDownDelay: '30s' } });

  test('walks the steps in order with the weights written', () => {
    const weights: number[] = [];
    simulate(strategy, 4, {
      onTick: (p) => {
        assert.equal(sumWeights(p), 100);
        if (weights.at(-1) !== p.candidateWeight) weights.push(p.candidateWeight);
      },
    });
    assert.deepEqual(weights, [10, 50, 100]);
  });

  test('stable keeps full size throughout; canary size follows weight', () => {
    simulate(strategy, 4, {
      onTick: (p) => {
        assert.equal(p.desired.replicas.v1, 4);
        if (p.candidateWeight === 10) assert.equal(p.desired.replicas.v2, 1);
      },
    });
  });

  test('header route is kept once set, lower-cased', () => {
    let seen = false;
    simulate(strategy, 2, {
      onTick: (p) => {
        if (p.candidateWeight === 50 && p.candidateWeight < 100) {
          assert.deepEqual(p.desired.routes.headerRoutes, [{ header: 'x-beta', value: 'yes', version: 'v2' }]);
          seen = true;
        }
      },
    });
    assert.ok(seen);
  });

  test('a timed pause waits its duration and reports the time left', () => {
    const ctx: PlanContext = { strategy, replicas: 2, stable: 'v1', candidate: 'v2', state: { ...freshState(), stepIndex: 1 }, observed: { v1: { ready: 2, total: 2, failed: false }, v2: { ready: 1, total: 1, failed: false } }, now: T0 + 2000 };
    const p = plan(ctx);
    assert.equal(p.outcome.kind, 'wait');
    assert.equal(p.outcome.kind === 'wait' && p.outcome.waitMs, 3000);
    assert.equal(plan({ ...ctx, now: T0 + 5000 }).outcome.kind, 'advance');
  });

  test('an open pause holds until promoted', () => {
    const state = { ...freshState(), stepIndex: 4 };
    const ctx: PlanContext = { strategy, replicas: 2, stable: 'v1', candidate: 'v2', state, observed: { v1: { ready: 2, total: 2, failed: false }, v2: { ready: 1, total: 1, failed: false } }, now: T0 + 3_600_000 };
    assert.equal(plan(ctx).outcome.kind, 'wait');
    assert.equal(plan({ ...ctx, state: { ...state, promoteRequested: true } }).outcome.kind, 'advance');
  });

  test('full promotion jumps to scaling the canary up', () => {
    const ctx: PlanContext = { strategy, replicas: 3, stable: 'v1', candidate: 'v2', state: { ...freshState(), stepIndex: 0, promoteFull: true }, observed: { v1: { ready: 3, total: 3, failed: false }, v2: { ready: 1, total: 1, failed: false } }, now: T0 };
    const p = plan(ctx);
    assert.equal(p.desired.replicas.v2, 3);
    assert.match(p.step, /scale v2 to 3/);
  });
});

describe('blue-green', () => {
  test('green is up at full size before any traffic moves; then all at once', () => {
    const s: StrategySpec = StrategySpec.parse({ blueGreen: { autoPromote: true, autoPromotionDelay: '0s', scaleDownDelay: '30s', previewPort: 9999 } });
    const seenWeights = new Set<number>();
    simulate(s, 3, {
      onTick: (p, obs) => {
        seenWeights.add(p.candidateWeight);
        if (p.candidateWeight === 100) assert.equal(obs.v2?.ready, 3, 'switch only with green fully ready');
        if (p.candidateWeight === 0) assert.deepEqual(p.desired.routes.preview, { port: 9999, version: 'v2' });
        assert.equal(p.desired.replicas.v1, 3, 'blue stays warm');
      },
    });
    assert.deepEqual([...seenWeights].sort(), [0, 100]);
  });

  test('without autoPromote it waits for promotion', () => {
    const s: StrategySpec = StrategySpec.parse({ blueGreen: { autoPromote: false, autoPromotionDelay: '0s', scaleDownDelay: '30s' } });
    const ctx: PlanContext = { strategy: s, replicas: 1, stable: 'v1', candidate: 'v2', state: { ...freshState(), stepIndex: 1 }, observed: { v1: { ready: 1, total: 1, failed: false }, v2: { ready: 1, total: 1, failed: false } }, now: T0 + 86_400_000 };
    const p = plan(ctx);
    assert.equal(p.outcome.kind, 'wait');
    assert.match(p.outcome.kind === 'wait' ? p.outcome.reason : '', /promot/);
  });
});

describe('rolling', () => {
  test('keeps availability and surge bounds for any replicas/maxSurge/maxUnavailable', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }), fc.boolean(), (R, surgeN, unavN, asPercent) => {
        const surge = asPercent ? `${surgeN * 25}%` : surgeN;
        const unav = asPercent ? `${unavN * 25}%` : unavN;
        const s: StrategySpec = StrategySpec.parse({ rolling: { maxSurge: surge, maxUnavailable: unav } });
        const surgeC = typeof surge === 'number' ? surge : Math.ceil((R * surgeN * 25) / 100);
        const unavC = typeof unav === 'number' ? unav : Math.floor((R * unavN * 25) / 100);
        const effSurge = surgeC === 0 && unavC === 0 ? 1 : surgeC;
        const r = simulate(s, R, {
          onTick: (p, obs) => {
            const total = (p.desired.replicas.v1 ?? 0) + (p.desired.replicas.v2 ?? 0);
            assert.ok(total <= R + effSurge, `total ${total} > ${R}+${effSurge}`);
            // what will still be ready after this tick's removals
            const readyAfter = Math.min(obs.v1?.ready ?? 0, p.desired.replicas.v1 ?? 0) + Math.min(obs.v2?.ready ?? 0, p.desired.replicas.v2 ?? 0);
            assert.ok(readyAfter >= Math.min(R - unavC, (obs.v1?.ready ?? 0) + (obs.v2?.ready ?? 0)), `availability ${readyAfter} < ${R - unavC}`);
          },
        });
        assert.equal(r.observed.v2?.ready, R);
        assert.equal(r.observed.v1?.total ?? 0, 0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('recreate', () => {
  test('stops the old version before starting the new one', () => {
    let stoppedFirst = false;
    simulate(defaultStrategy('recreate'), 2, {
      onTick: (p, obs) => {
        if ((p.desired.replicas.v2 ?? 0) > 0) {
          assert.equal(obs.v1?.total ?? 0, 0);
          stoppedFirst = true;
        }
      },
    });
    assert.ok(stoppedFirst);
  });
});

describe('revert and rollback', () => {
  const base = { strategy: defaultStrategy('canary'), replicas: 2, stable: 'v1', candidate: 'v2', state: freshState(), now: T0 };

  test('revert sends all traffic to stable at once and removes the candidate', () => {
    const p = planRevert({ ...base, observed: { v1: { ready: 2, total: 2, failed: false }, v2: { ready: 1, total: 1, failed: false } } });
    assert.deepEqual(p.desired.routes.weights, { v1: 100 });
    assert.equal(p.desired.replicas.v2, 0);
    assert.equal(p.outcome.kind, 'wait');
  });

  test('revert keeps the candidate while stable has nothing ready', () => {
    const p = planRevert({ ...base, observed: { v1: { ready: 0, total: 2, failed: false }, v2: { ready: 2, total: 2, failed: false } } });
    assert.equal(p.desired.replicas.v2, 2);
    assert.equal(p.desired.replicas.v1, 2);
  });

  test('rollback to a warm release moves traffic in one step', () => {
    const p = planRollback({ ...base, stable: 'v2', candidate: 'v1', observed: { v1: { ready: 2, total: 2, failed: false }, v2: { ready: 2, total: 2, failed: false } } });
    assert.deepEqual(p.desired.routes.weights, { v1: 100 });
    assert.equal(p.desired.replicas.v2, 0);
  });

  test('rollback to a cold release starts it first and keeps traffic where it is', () => {
    const p = planRollback({ ...base, stable: 'v2', candidate: 'v1', observed: { v2: { ready: 2, total: 2, failed: false } } });
    assert.deepEqual(p.desired.routes.weights, { v2: 100 });
    assert.equal(p.desired.replicas.v1, 2);
  });
});
