import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Usage } from './usage.js';

test('counts per flag and variant, taken as one bucket; a failed report is put back, nothing lost', () => {
  const u = new Usage();
  assert.equal(u.take(), null, 'nothing evaluated: no bucket');
  u.count('a', true);
  u.count('a', false);
  u.count('b', true, 'blue');
  u.count('b', true, 'blue');
  const first = u.take()!;
  assert.deepEqual(first.toggles, { a: { yes: 1, no: 1, variants: {} }, b: { yes: 2, no: 0, variants: { blue: 2 } } });
  u.count('b', false, 'disabled');
  u.restore(first);
  const second = u.take()!;
  assert.deepEqual(second.toggles, { a: { yes: 1, no: 1, variants: {} }, b: { yes: 2, no: 1, variants: { blue: 2, disabled: 1 } } });
  assert.equal(second.start, first.start, 'the restored bucket keeps its start');
});
