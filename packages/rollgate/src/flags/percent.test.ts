/** What a percentage does to a flag's state (pure): the flexibleRollout parameter, or one variant's share. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRollgateError } from '../core/errors.js';
import { percentOf, variantPercentOf, withPercent, withVariantPercent } from './percent.js';

test('withPercent adds a flexibleRollout strategy when there is none and keeps its other parameters when there is one', () => {
  const added = withPercent({ enabled: true }, 'f', 'production', 5);
  assert.deepEqual(added.strategies, [{ name: 'flexibleRollout', parameters: { rollout: '5', stickiness: 'default', groupId: 'f' }, constraints: [] }]);
  const moved = withPercent({ enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '5', stickiness: 'userId', groupId: 'g' } }] }, 'f', 'production', 25);
  assert.deepEqual(moved.strategies?.[0]?.parameters, { rollout: '25', stickiness: 'userId', groupId: 'g' });
  assert.equal(percentOf(moved), 25);
  assert.throws(() => withPercent({ enabled: true, strategies: [{ name: 'flexibleRollout' }, { name: 'flexibleRollout' }] }, 'f', 'production', 5), (e) => isRollgateError(e) && /2 flexibleRollout strategies/.test(e.message));
});

test("withVariantPercent gives the variant its share and the others the rest in proportion, adding up to exactly 1000", () => {
  const state = { enabled: true, variants: [{ name: 'control', weight: 600 }, { name: 'treatment', weight: 0 }, { name: 'other', weight: 300 }] };
  const s = withVariantPercent(state, 'f', 'production', 'treatment', 33);
  assert.deepEqual(s.variants?.map((v) => [v.name, v.weight, v.weightType]), [['control', 447, 'variable'], ['treatment', 330, 'variable'], ['other', 223, 'variable']]);
  assert.equal(s.variants?.reduce((a, v) => a + v.weight, 0), 1000);
  assert.equal(variantPercentOf(s, 'treatment'), 33);
  const all = withVariantPercent(s, 'f', 'production', 'treatment', 100);
  assert.deepEqual(all.variants?.map((v) => v.weight), [0, 1000, 0]);
  const back = withVariantPercent({ enabled: true, variants: [{ name: 'a', weight: 0 }, { name: 'b', weight: 0 }, { name: 'c', weight: 1000 }] }, 'f', 'production', 'c', 0);
  assert.deepEqual(back.variants?.map((v) => v.weight), [500, 500, 0], 'others with no weight share evenly');
});

test("withVariantPercent moves the variants of the one strategy that holds it, and refuses a missing or lonely variant", () => {
  const state = { enabled: true, strategies: [{ name: 'default' }, { name: 'flexibleRollout', parameters: { rollout: '100' }, variants: [{ name: 'blue', weight: 500 }, { name: 'green', weight: 500 }] }] };
  const s = withVariantPercent(state, 'f', 'production', 'green', 10);
  assert.deepEqual(s.strategies?.[1]?.variants?.map((v) => [v.name, v.weight]), [['blue', 900], ['green', 100]]);
  assert.equal(s.strategies?.[0]?.variants, undefined);
  assert.throws(() => withVariantPercent(state, 'f', 'production', 'red', 10), (e) => isRollgateError(e) && /has no variant red in production/.test(e.message));
  assert.throws(() => withVariantPercent({ enabled: true, variants: [{ name: 'solo', weight: 1000 }] }, 'f', 'production', 'solo', 10), (e) => isRollgateError(e) && /the only variant/.test(e.message));
});
