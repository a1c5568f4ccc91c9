/**
 * The behaviour every MetricSource owes the engine, run against each implementation (as Hono
 * runs one suite against each of its routers). Each implementation's test file calls
 * `metricSourceSuite` with a setup that starts whatever real thing the source talks to.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { MeasureContext, Measurement, MetricSource, MetricValue } from './types.js';

export interface SuiteSetup<Q> {
  source: MetricSource<Q>;
  /** Context of every query (the suite adds the signal). */
  ctx: Omit<MeasureContext, 'signal'>;
  okQuery: Q;
  /** The value okQuery must give, or a check of it. */
  okValue: MetricValue | ((v: MetricValue) => boolean);
  /** A query that must come back as an error (with a reason), not a throw. */
  errorQuery: Q;
  /** Context for errorQuery, when the error comes from the context rather than the query. */
  errorCtx?: Omit<MeasureContext, 'signal'>;
  /** A query that would run for `slowNaturalMs` but whose own timeout is far shorter. */
  slowQuery?: Q;
  slowNaturalMs?: number;
  /** Context for slowQuery, when the slowness comes from the context (e.g. a hung agent). */
  slowCtx?: Omit<MeasureContext, 'signal'>;
  teardown: () => Promise<void>;
}

function isMeasurement(m: unknown): m is Measurement {
  return typeof m === 'object' && m !== null && 'value' in m && 'error' in m && typeof (m as Measurement).at === 'string';
}

async function measure<Q>(source: MetricSource<Q>, q: Q, ctx: Omit<MeasureContext, 'signal'>, signal: AbortSignal = new AbortController().signal): Promise<Measurement> {
  const m = await source.measure(q, { ...ctx, signal });
  assert.ok(isMeasurement(m), `measure() must resolve to a Measurement, got ${JSON.stringify(m)}`);
  assert.ok(!Number.isNaN(Date.parse(m.at)), 'at is an ISO time');
  return m;
}

function assertError(m: Measurement, what: string): void {
  assert.equal(m.value, null, `${what}: an error has no value (got ${JSON.stringify(m.value)})`);
  assert.equal(typeof m.error, 'string', `${what}: an error says why (got ${JSON.stringify(m)})`);
  assert.ok((m.error as string).length >= 10, `${what}: the reason is a sentence a user can act on: ${m.error}`);
}

export function metricSourceSuite<Q>(name: string, setup: () => Promise<SuiteSetup<Q>>): void {
  describe(`MetricSource contract: ${name}`, { timeout: 60_000 }, () => {
    let s: SuiteSetup<Q>;
    before(async () => {
      s = await setup();
    });
    after(async () => {
      await s?.teardown();
    });

    test('the ok query gives the expected value and no error', async () => {
      const m = await measure(s.source, s.okQuery, s.ctx);
      assert.equal(m.error, null, `unexpected error: ${m.error}`);
      assert.notEqual(m.value, null);
      if (typeof s.okValue === 'function') assert.ok(s.okValue(m.value as MetricValue), `value ${JSON.stringify(m.value)} is not the expected one`);
      else assert.equal(m.value, s.okValue);
    });

    test('the error query comes back as an error with a reason, without throwing', async () => {
      const m = await measure(s.source, s.errorQuery, s.errorCtx ?? s.ctx);
      assertError(m, 'error query');
    });

    test('the slow query is cut at its timeout and reported as an error', async (t) => {
      if (s.slowQuery === undefined) return t.skip(`${name} has no query that can be slow`);
      const started = performance.now();
      const m = await measure(s.source, s.slowQuery, s.slowCtx ?? s.ctx);
      const took = performance.now() - started;
      assertError(m, 'slow query');
      assert.match(m.error as string, /timed out/);
      // A bound, not a speed: it ended long before the work would have.
      assert.ok(took < (s.slowNaturalMs ?? 30_000) / 2, `the slow query ran ${Math.round(took)}ms: not bounded by its timeout`);
    });

    test('an aborted signal stops the measurement with an error', async () => {
      const pre = new AbortController();
      pre.abort(new Error('rollout ended'));
      const m1 = await measure(s.source, s.slowQuery ?? s.okQuery, (s.slowQuery && s.slowCtx) || s.ctx, pre.signal);
      assertError(m1, 'already aborted');
      assert.match(m1.error as string, /aborted/);
      if (s.slowQuery === undefined) return;
      const ctrl = new AbortController();
      const started = performance.now();
      const pending = measure(s.source, s.slowQuery, s.slowCtx ?? s.ctx, ctrl.signal);
      setTimeout(() => ctrl.abort(new Error('rollout ended')), 50);
      const m2 = await pending;
      assertError(m2, 'aborted while running');
      assert.match(m2.error as string, /aborted: rollout ended/);
      assert.ok(performance.now() - started < (s.slowNaturalMs ?? 30_000) / 2, 'abort stopped it');
    });
  });
}
