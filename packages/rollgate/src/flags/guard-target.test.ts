// What a guarded rollout compares, from the flag's state: on/off, variants against disabled, or
// one variant against its control (named, the only other one, or one called control).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlagState } from '../store/flags-types.js';
import { guardFor } from './guard-target.js';

const state = (variants: string[], strategyVariants: string[] = []): FlagState => ({
  enabled: true,
  strategies: [{ name: 'flexibleRollout', parameters: { rollout: '10' }, ...(strategyVariants.length ? { variants: strategyVariants.map((name) => ({ name, weight: 500 })) } : {}) }],
  variants: variants.map((name) => ({ name, weight: 1000 / variants.length })),
});

test('percentage rollout: on vs off without variants; every variant vs disabled/off with them', () => {
  assert.deepEqual(guardFor(null, 'f', null, undefined), { treatment: ['on'], control: ['off'], safe: 'off', look: null, killedAt: null });
  const g = guardFor(state(['blue'], ['green']), 'f', null, undefined);
  assert.deepEqual([g.treatment, g.control, g.safe], [['blue', 'green'], ['disabled', 'off'], 'off']);
});

test('a variant: against the named control, the only other variant, or one called control', () => {
  assert.deepEqual(guardFor(state(['a', 'b']), 'f', 'b', undefined).control, ['a']);
  assert.deepEqual(guardFor(state(['control', 'b', 'c']), 'f', 'b', undefined).control, ['control']);
  assert.deepEqual(guardFor(state(['x', 'b', 'c']), 'f', 'b', 'c'), { treatment: ['b'], control: ['c'], safe: 'variant-zero', look: null, killedAt: null });
});

test('a variant without a control that can be told, or a control that is not a variant: a clear error', () => {
  assert.throws(() => guardFor(state(['x', 'b', 'c']), 'f', 'b', undefined), /control: flag f has variants x, c beside b; say which one the guard compares it with \(--control NAME\)/);
  assert.throws(() => guardFor(state(['b']), 'f', 'b', undefined), /has no other variant beside b/);
  assert.throws(() => guardFor(state(['a', 'b']), 'f', 'b', 'zz'), /control: flag f has no variant "zz" \(it has a, b\)/);
});
