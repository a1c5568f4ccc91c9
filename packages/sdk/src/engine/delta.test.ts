// applyDelta: Unleash's delta events applied to a state, in order, the input left as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDelta, type DeltaEvent } from './delta.js';
import type { ClientFeatures } from './types.js';

const f = (name: string, enabled = true) => ({ name, enabled, strategies: [{ name: 'default' }] });
const seg = (id: number, values: string[]) => ({ id, constraints: [{ contextName: 'appName', operator: 'IN' as const, values }] });

test('applyDelta: a hydration replaces flags and segments', () => {
  const before: ClientFeatures = { version: 2, features: [f('old')], segments: [seg(9, ['x'])] };
  const after = applyDelta(before, [{ eventId: 1, type: 'hydration', features: [f('a'), f('b')], segments: [seg(1, ['y'])] }]);
  assert.deepEqual(after, { version: 2, features: [f('a'), f('b')], segments: [seg(1, ['y'])] });
});

test('applyDelta: updates replace in place or append, removals delete, in event order', () => {
  const before: ClientFeatures = { version: 1, features: [f('a'), f('b'), f('c')], segments: [seg(1, ['x']), seg(2, ['z'])] };
  const events: DeltaEvent[] = [
    { eventId: 1, type: 'feature-updated', feature: f('b', false) },
    { eventId: 2, type: 'feature-updated', feature: f('d') },
    { eventId: 3, type: 'feature-removed', featureName: 'a', project: 'default' },
    { eventId: 4, type: 'segment-updated', segment: seg(1, ['new']) },
    { eventId: 5, type: 'segment-removed', segmentId: 2 },
    { eventId: 6, type: 'feature-removed', featureName: 'not-there' },
  ];
  const copy = structuredClone(before);
  const after = applyDelta(before, events);
  assert.deepEqual(after.features, [f('b', false), f('c'), f('d')]);
  assert.deepEqual(after.segments, [seg(1, ['new'])]);
  assert.deepEqual(before, copy);
});

test('applyDelta: an event of an unknown type is skipped; no state to start from is an empty one', () => {
  const after = applyDelta(undefined, [{ eventId: 1, type: 'feature-renamed' } as unknown as DeltaEvent, { eventId: 2, type: 'feature-updated', feature: f('a') }]);
  assert.deepEqual(after, { version: 1, features: [f('a')], segments: [] });
});
