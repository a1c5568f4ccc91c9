/** The idle-environment rule (pure): when a rollout goes on without traffic, and when it holds. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetricVerdict } from '../core/analysis/index.js';
import { idleDecision, type IdleInput } from './analysis-idle.js';

const waiting = (metric: string, final = false): MetricVerdict => ({ metric, verdict: 'inconclusive', final, reason: 'only 0 canary requests so far', canary: null, stable: null, details: {} });
const base: IdleInput = {
  elapsedMs: 130_000,
  canaryRequests: 0,
  version: 'v2',
  production: false,
  noTrafficAfter: undefined,
  verdict: 'inconclusive',
  metrics: [waiting('error-rate'), waiting('latency-p99'), waiting('request-rate')],
  trafficMetrics: new Set(['error-rate', 'latency-p99', 'request-rate']),
};

describe('idle environments', () => {
  test('outside production, no traffic for 2m (the default) lets the step proceed, recorded as not judged', () => {
    const d = idleDecision(base);
    assert.equal(d.kind, 'proceed');
    assert.match(d.kind === 'proceed' ? d.reason : '', /^not judged: no traffic to v2 in 2m10s; outside production, the step proceeds after noTrafficAfter 2m$/);
  });

  test('before the bound it waits and says when it will go on', () => {
    const d = idleDecision({ ...base, elapsedMs: 20_000 });
    assert.equal(d.kind, 'wait');
    assert.match(d.kind === 'wait' ? d.reason : '', /proceeds after noTrafficAfter 2m \(in 1m40s\)/);
  });

  test('production holds with no time limit and says why in full; noTrafficAfter opts in; never always holds', () => {
    const d = idleDecision({ ...base, production: true, elapsedMs: 3_600_000 });
    assert.equal(d.kind, 'wait');
    assert.match(d.kind === 'wait' ? d.reason : '', /in production the rollout waits for traffic to judge, with no time limit; send traffic, or `rollgate promote --skip-analysis`/);
    assert.equal(idleDecision({ ...base, production: true, noTrafficAfter: '1m' }).kind, 'proceed');
    assert.equal(idleDecision({ ...base, noTrafficAfter: 'never', elapsedMs: 3_600_000 }).kind, 'wait');
    assert.equal(idleDecision({ ...base, noTrafficAfter: '5m' }).kind, 'wait');
  });

  test('traffic, a failure, or an external metric waiting for its measurement is judged as before', () => {
    assert.equal(idleDecision({ ...base, canaryRequests: 50 }).kind, 'judge');
    assert.equal(idleDecision({ ...base, verdict: 'fail' }).kind, 'judge');
    assert.equal(idleDecision({ ...base, verdict: 'pass' }).kind, 'judge');
    assert.equal(idleDecision({ ...base, metrics: [...base.metrics, waiting('prom-errors')] }).kind, 'judge');
    assert.equal(idleDecision({ ...base, metrics: [waiting('error-rate', true)] }).kind, 'judge');
  });

  test('a trickle below what can be judged counts as too little traffic', () => {
    const d = idleDecision({ ...base, canaryRequests: 7 });
    assert.match(d.kind === 'proceed' ? d.reason : '', /too little traffic \(7 requests, 50 needed\) to v2/);
  });
});
