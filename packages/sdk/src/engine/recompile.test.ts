// recompile: the evaluator of a state after a delta compiles only the flags the delta replaced,
// answers as a fresh compile does, and compiles everything again when a segment changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDelta } from './delta.js';
import { compile, recompile, type Evaluator } from './evaluator.js';
import type { ClientFeatures, Feature } from './types.js';

const rollout = (name: string, percent: number, segments?: number[]): Feature => ({
  name,
  enabled: true,
  strategies: [{ name: 'flexibleRollout', parameters: { rollout: String(percent), stickiness: 'default', groupId: name }, ...(segments ? { segments } : {}) }],
});
const seg = (id: number, values: string[]) => ({ id, constraints: [{ contextName: 'plan', operator: 'IN' as const, values }] });
const compiledOf = (e: Evaluator, name: string) => e['features'].get(name);
const contexts = Array.from({ length: 200 }, (_v, i) => ({ userId: `u${i}`, plan: i % 3 ? 'pro' : 'free', hostname: 'other' }));
const answers = (e: Evaluator, names: string[]) => names.flatMap((n) => contexts.map((c) => e.isEnabled(n, c)));

test('recompile: only the flag a delta replaced is compiled again; the answers are a fresh compile\'s', () => {
  const before: ClientFeatures = { version: 2, features: [rollout('a', 10), rollout('b', 50), rollout('c', 90, [1])], segments: [seg(1, ['pro'])] };
  const prev = compile(before);
  const after = applyDelta(before, [{ eventId: 2, type: 'feature-updated', feature: rollout('b', 60) }]);
  const next = recompile(prev, after);
  assert.equal(compiledOf(next, 'a'), compiledOf(prev, 'a'), 'a unchanged: taken over');
  assert.equal(compiledOf(next, 'c'), compiledOf(prev, 'c'), 'c unchanged: taken over');
  assert.notEqual(compiledOf(next, 'b'), compiledOf(prev, 'b'), 'b replaced: compiled');
  assert.deepEqual(answers(next, ['a', 'b', 'c']), answers(compile(after), ['a', 'b', 'c']));
  assert.notDeepEqual(answers(next, ['b']), answers(prev, ['b']), 'the new rollout is in force');
  // A removed flag is gone from the new evaluator, the old one is left as it was.
  const removed = recompile(next, applyDelta(after, [{ eventId: 3, type: 'feature-removed', featureName: 'a' }]));
  assert.equal(removed.has('a'), false);
  assert.equal(next.has('a'), true);
});

test('recompile: a changed segment compiles every flag again (segments are folded into strategies); options are kept', () => {
  const before: ClientFeatures = { version: 2, features: [rollout('c', 100, [1]), { name: 'host', enabled: true, strategies: [{ name: 'applicationHostname', parameters: { hostNames: 'web-1' } }] }], segments: [seg(1, ['pro'])] };
  const prev = compile(before, { hostname: 'web-1' });
  const after = applyDelta(before, [{ eventId: 2, type: 'segment-updated', segment: seg(1, ['free']) }]);
  const next = recompile(prev, after);
  assert.notEqual(compiledOf(next, 'c'), compiledOf(prev, 'c'));
  assert.equal(prev.isEnabled('c', { userId: 'u', plan: 'pro' }), true);
  assert.equal(next.isEnabled('c', { userId: 'u', plan: 'pro' }), false);
  assert.equal(next.isEnabled('c', { userId: 'u', plan: 'free' }), true);
  assert.equal(next.isEnabled('host'), true, 'the hostname option is carried over');
  assert.deepEqual(answers(next, ['c', 'host']), answers(compile(after, { hostname: 'web-1' }), ['c', 'host']));
});
