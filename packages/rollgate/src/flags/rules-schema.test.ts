/**
 * The edge check against Unleash's own client specification: every specification state parses
 * (the check is no stricter than the format), except the one that carries an operator the format
 * does not have, which is refused at that very path. Plus the path renaming of rules-check.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renamer } from './rules-check.js';
import { ClientFeaturesSchema, FeatureSchema, pathText } from './rules-schema.js';

const SPECS = '/work/shared/conformance/unleash-client-spec/specifications';

describe('rules schema', () => {
  test('every state of the Unleash client specification parses, but the one with an invalid operator', () => {
    const files = readdirSync(SPECS).filter((f) => /^\d\d-.*\.json$/.test(f));
    assert.ok(files.length >= 20);
    let checked = 0;
    for (const f of files) {
      const doc = JSON.parse(readFileSync(join(SPECS, f), 'utf8')) as { state?: { features?: unknown } };
      if (!doc.state?.features) continue; // the delta-API files hold events, not a state
      const r = ClientFeaturesSchema.safeParse(doc.state);
      checked++;
      if (f.startsWith('13-')) {
        assert.equal(r.success, false, f);
        const paths = r.error!.issues.map((i) => pathText(i.path));
        assert.ok(paths.every((p) => /^features\[\d+\]\.strategies\[0\]\.constraints\[0\]\.operator$/.test(p)), paths.join(', '));
      } else assert.ok(r.success, `${f}: ${JSON.stringify(r.error?.issues.slice(0, 3))}`);
    }
    assert.ok(checked >= 18, `states checked: ${checked}`);
  });

  test('bounds: names, weights, lists and the size of one feature', () => {
    const bad = (v: unknown) => !FeatureSchema.safeParse(v).success;
    assert.ok(bad({ name: '', enabled: true }));
    assert.ok(bad({ name: 'x'.repeat(256), enabled: true }));
    assert.ok(!bad({ name: 'x'.repeat(255), enabled: true }));
    assert.ok(bad({ name: 'a\u202eb', enabled: true }), 'bidi override');
    assert.ok(bad({ name: 'a\nb', enabled: true }));
    assert.ok(bad({ name: 'f', enabled: true, variants: [{ name: 'v', weight: -1 }] }));
    assert.ok(bad({ name: 'f', enabled: true, strategies: Array.from({ length: 101 }, () => ({ name: 'default' })) }));
    assert.ok(bad({ name: 'f', enabled: true, strategies: [{ name: 'default', constraints: [{ contextName: 'c', operator: 'IN', values: Array.from({ length: 10_001 }, () => 'v') }] }] }));
    assert.ok(bad({ name: 'f', enabled: 'yes' }));
    assert.ok(bad({ name: 'f', enabled: true, extra: 1 }), 'strict');
  });

  test('problem paths are renamed to the caller\'s own', () => {
    const r = renamer({ features: new Map([[3, ''], [4, 'features[0]']]), segments: new Map([[1, 'segments[0]']]) });
    assert.equal(r('features[3].strategies[0].constraints[1].value'), 'strategies[0].constraints[1].value');
    assert.equal(r('features[3]'), '');
    assert.equal(r('features[4].dependencies[0]'), 'features[0].dependencies[0]');
    assert.equal(r('segments[1].constraints[0]'), 'segments[0].constraints[0]');
    assert.equal(r('features[7].name'), 'features[7].name', 'unmapped paths stay');
    assert.equal(pathText(['features', 2, 'strategies', 0, 'parameters', 'rollout']), 'features[2].strategies[0].parameters.rollout');
  });
});
