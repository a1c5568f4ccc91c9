// Unleash's client specification, every case through Rollgate's engine (one test per case).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from './evaluator.js';
import { loadSpec, plainVariant } from './spec.testkit.js';
import { ruleProblems } from './validate.js';

const files = loadSpec();

for (const f of files) {
  const engine = compile(f.state);
  for (const c of f.cases) {
    test(`spec ${f.file} ${c.kind}: ${c.description}`, () => {
      if (c.kind === 'isEnabled') assert.equal(engine.isEnabled(c.toggleName, c.context), c.expected);
      else assert.deepEqual(plainVariant(engine.getVariant(c.toggleName, c.context)), plainVariant(c.expected as object));
    });
  }
}

// The bulk evaluation (OFREP's) gives, flag by flag, what isEnabled and getVariant give.
for (const f of files) {
  test(`spec ${f.file} evaluateAll: the same value and variant as isEnabled and getVariant, for every case's context`, () => {
    // A fixed random source: contexts without an id fall back to random stickiness.
    const engine = compile(f.state, { random: () => 0.5 });
    for (const c of f.cases) {
      for (const r of engine.evaluateAll(c.context)) {
        assert.equal(r.value, engine.isEnabled(r.name, c.context), r.name);
        assert.deepEqual(r.variant, engine.getVariant(r.name, c.context), r.name);
      }
    }
  });
}

test('spec: all 279 cases of the 22 files are run', () => {
  assert.equal(files.length, 22);
  assert.equal(files.reduce((n, f) => n + f.cases.length, 0), 279);
});

// The specification's deliberately invalid inputs, and only those, are rule problems.
const DELIBERATE: Record<string, string[]> = {
  '06-remote-address-strategy.json': ['features[2].strategies[0].parameters.IPs'], // "192.invalid"
  '13-constraint-operators.json': ['features[19].strategies[0].constraints[0].operator'], // NOT_A_VALID_OPERATOR
  '14-constraint-semver-operators.json': ['features[10].strategies[0].constraints[0].value'], // v2.0.0
  '15-global-constraints.json': ['features[3].strategies[0].segments[0]'], // segment 404
  '17-dependent-features.json': [
    'features[6].dependencies[0]', // parent.with.cycle ⇄ child.with.cycle
    'features[8].dependencies[0].feature', // a transitive dependency
    'features[23].dependencies[0].feature', // parent.not.exist
  ],
  '21-regex-constraint-operators.json': [
    'features[1].strategies[0].constraints[0].value', // "(regex"
    'features[16].strategies[0].constraints[0].value', // lookahead
    'features[17].strategies[0].constraints[0].value', // backreference
  ],
  '22-cidr-constraint-operators.json': [
    'features[2].strategies[0].constraints[0].values[0]', // 127.invalid
    'features[3].strategies[0].constraints[0].values[0]', // 127.invalid
    'features[6].strategies[0].constraints[0].values[0]', // bad::cidr
  ],
};

for (const f of files) {
  test(`spec ${f.file} ruleProblems: ${DELIBERATE[f.file] ? 'only its deliberately invalid inputs' : 'none'}`, () => {
    assert.deepEqual(ruleProblems(f.state).map((p) => p.path), DELIBERATE[f.file] ?? []);
  });
}
