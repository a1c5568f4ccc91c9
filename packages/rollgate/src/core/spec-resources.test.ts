/** The resource analysis metrics in a spec: parsed with their options, bad ones named at their field. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from './spec-load.js';
import { RollgateError } from './errors.js';

const spec = (metric: string) => `
apps:
  shop:
    run: node server.js
    healthCheck: { path: /healthz }
environments:
  production:
    listen: 18081
    strategy:
      canary:
        steps: [{ setWeight: 10 }, { pause: {} }]
        analysis:
          metrics:
            - ${metric}
`;

function problemOf(text: string): { field: string; message: string } {
  try {
    parseSpec(text);
  } catch (e) {
    assert.ok(e instanceof RollgateError);
    return (e.details as { problems: { field: string; message: string }[] }).problems[0]!;
  }
  assert.fail('expected the spec to be rejected');
}

test('memoryGrowth and cpuPerRequest parse with their options', () => {
  const s = parseSpec(spec('{ name: mem, builtin: { metric: memoryGrowth, factor: 3, noiseFloor: 524288, max: 10485760 } }'));
  const canary = s.environments.production?.strategy;
  assert.ok(canary && 'canary' in canary && canary.canary.analysis !== false);
  assert.deepEqual(canary.canary.analysis.metrics?.[0]?.builtin, { metric: 'memoryGrowth', factor: 3, noiseFloor: 524288, max: 10485760, quantile: 0.99, compareToStable: true, tolerance: 1.2 });
  parseSpec(spec('{ name: cpu, builtin: { metric: cpuPerRequest } }'));
});

test('a bad option is named at its field, with what is expected', () => {
  const low = problemOf(spec('{ name: mem, builtin: { metric: memoryGrowth, factor: 0.5 } }'));
  assert.match(low.field, /metrics\[0\]\.builtin\.factor$/);
  assert.match(low.message, />=\s*1|at least 1|too small/i);
  const wrongMetric = problemOf(spec('{ name: e, builtin: { metric: errorRate, noiseFloor: 1 } }'));
  assert.match(wrongMetric.field, /builtin\.noiseFloor$/);
  assert.match(wrongMetric.message, /noiseFloor applies to memoryGrowth and cpuPerRequest only, not to errorRate/);
  const unknown = problemOf(spec('{ name: m, builtin: { metric: memoryLeak } }'));
  assert.match(unknown.field, /builtin\.metric$/);
  assert.match(unknown.message, /memoryGrowth/);
});
