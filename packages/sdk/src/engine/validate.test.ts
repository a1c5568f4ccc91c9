// ruleProblems: a problem per invalid value, at its JSON path, with what is expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ClientFeatures, Constraint, Feature, Strategy, Variant } from './types.js';
import { ruleProblems } from './validate.js';

const withStrategy = (s: Strategy, extra: Partial<Feature> = {}): ClientFeatures => ({
  version: 1,
  features: [{ name: 'f', enabled: true, strategies: [s], ...extra }],
});
const withConstraint = (c: Constraint) => withStrategy({ name: 'default', constraints: [c] });
const paths = (state: ClientFeatures) => ruleProblems(state).map((p) => p.path);
const only = (state: ClientFeatures, path: string, message: RegExp) => {
  const problems = ruleProblems(state);
  assert.deepEqual(problems.map((p) => p.path), [path], JSON.stringify(problems));
  assert.match(problems[0]?.message ?? '', message);
};
const C = 'features[0].strategies[0].constraints[0]';

test('ruleProblems: a valid state with every operator, segments, variants and dependencies has none', () => {
  const state: ClientFeatures = {
    version: 1,
    segments: [{ id: 7, constraints: [{ contextName: 'region', operator: 'IN', values: ['eu'] }] }],
    features: [
      { name: 'parent', enabled: true, strategies: [{ name: 'default' }], variants: [{ name: 'a', weight: 500, weightType: 'variable' }, { name: 'b', weight: 500, weightType: 'fix' }] },
      {
        name: 'child', enabled: true, dependencies: [{ feature: 'parent', variants: ['a'] }],
        strategies: [{
          name: 'flexibleRollout', parameters: { rollout: '42', stickiness: 'anyField', groupId: 'child' }, segments: [7],
          constraints: [
            { contextName: 'a', operator: 'IN', values: [] }, { contextName: 'a', operator: 'NOT_IN', values: ['x'] },
            { contextName: 'a', operator: 'STR_CONTAINS', values: ['x'], caseInsensitive: true }, { contextName: 'a', operator: 'STR_STARTS_WITH', values: ['x'] },
            { contextName: 'a', operator: 'STR_ENDS_WITH', values: ['x'], inverted: true }, { contextName: 'n', operator: 'NUM_EQ', value: '12.5' },
            { contextName: 'n', operator: 'NUM_GT', value: '-3' }, { contextName: 'n', operator: 'NUM_GTE', value: '0' }, { contextName: 'n', operator: 'NUM_LT', value: '1e3' },
            { contextName: 'n', operator: 'NUM_LTE', value: '7' }, { contextName: 'currentTime', operator: 'DATE_AFTER', value: '2022-01-29T13:00:00.000Z' },
            { contextName: 'currentTime', operator: 'DATE_BEFORE', value: '2022-01-22T14:00:00.000+02:00' }, { contextName: 'v', operator: 'SEMVER_EQ', value: '1.2.3' },
            { contextName: 'v', operator: 'SEMVER_GT', value: '2.0.0-alpha.1' }, { contextName: 'v', operator: 'SEMVER_GTE', value: '1.0.0+build' },
            { contextName: 'v', operator: 'SEMVER_LT', value: '3.0.0' }, { contextName: 'v', operator: 'SEMVER_LTE', value: '3.0.0-rc' },
            { contextName: 'e', operator: 'REGEX', value: '^(?i)[[:alpha:]]+@\\w+\\.com$' }, { contextName: 'remoteAddress', operator: 'IN_CIDR', values: ['10.0.0.0/8', '2001:db8::/32', '127.0.0.1'] },
          ],
          variants: [{ name: 'x', weight: 1, stickiness: 'userId', payload: { type: 'json', value: '{"a":1}' } }, { name: 'y', weight: 3, payload: { type: 'number', value: '1.5' } }],
        }],
      },
      { name: 'addr', enabled: true, strategies: [{ name: 'remoteAddress', parameters: { IPs: '192.168.0.1, 10.0.0.0/8' } }, { name: 'gradualRolloutUserId', parameters: { percentage: 100, groupId: 'g' } }] },
    ],
  };
  assert.deepEqual(ruleProblems(state), []);
});

test('ruleProblems: an unknown operator, naming the operators there are', () => {
  only(withConstraint({ contextName: 'x', operator: 'MATCHES' as Constraint['operator'], value: 'y' }), `${C}.operator`, /unknown operator "MATCHES".*expected one of IN, NOT_IN/);
});

test('ruleProblems: invalid RE2 patterns (unclosed, lookahead, backreference, repeat over 1000)', () => {
  for (const value of ['(abc', 'a(?=b)', '(a)\\1', 'a{1001}', '[z-a]']) {
    only(withConstraint({ contextName: 'x', operator: 'REGEX', value }), `${C}.value`, /not a valid RE2 regular expression/);
  }
});

test('ruleProblems: invalid semantic versions, a leading v included', () => {
  for (const value of ['v1.2.3', '1.2', '01.2.3', 'latest', '']) {
    only(withConstraint({ contextName: 'v', operator: 'SEMVER_GTE', value }), `${C}.value`, /not a semantic version.*MAJOR\.MINOR\.PATCH/);
  }
});

test('ruleProblems: invalid IPs and CIDR ranges, each at its index', () => {
  const state = withConstraint({ contextName: 'remoteAddress', operator: 'IN_CIDR', values: ['10.0.0.0/8', '10.0.0.0/33', '300.1.1.1', '2001:db8::/129', 'fe80::1%eth0'] });
  assert.deepEqual(paths(state), [`${C}.values[1]`, `${C}.values[2]`, `${C}.values[3]`]);
  only(withStrategy({ name: 'remoteAddress', parameters: { IPs: '10.0.0.1, 10.0.0.256' } }), 'features[0].strategies[0].parameters.IPs', /"10\.0\.0\.256" is not an IP address/);
});

test('ruleProblems: invalid dates and numbers', () => {
  for (const value of ['yesterday', '2024-13-01T00:00:00Z', '31/01/2024']) {
    only(withConstraint({ contextName: 'currentTime', operator: 'DATE_AFTER', value }), `${C}.value`, /not a date.*ISO 8601/);
  }
  for (const value of ['twelve', '', '0x10', '1,5']) {
    only(withConstraint({ contextName: 'n', operator: 'NUM_LT', value }), `${C}.value`, /not a number|needs a number/);
  }
});

test('ruleProblems: a list operator without a list of values', () => {
  only(withConstraint({ contextName: 'x', operator: 'IN' }), `${C}.values`, /IN needs a list of values/);
});

test('ruleProblems: variant weights that do not add up', () => {
  const variants = (vs: Variant[]) => ({ version: 1, features: [{ name: 'f', enabled: true, strategies: [], variants: vs }] });
  only(variants([{ name: 'a', weight: 600, weightType: 'fix' }, { name: 'b', weight: 500, weightType: 'fix' }, { name: 'c', weight: 0, weightType: 'variable' }]), 'features[0].variants', /fix weights add up to 1100/);
  only(variants([{ name: 'a', weight: -5 }, { name: 'b', weight: 10 }]), 'features[0].variants[0].weight', /whole number from 0 to 1000/);
  only(variants([{ name: 'a', weight: 1001 }]), 'features[0].variants[0].weight', /whole number from 0 to 1000/);
  only(variants([{ name: 'a', weight: 2.5 }, { name: 'b', weight: 1 }]), 'features[0].variants[0].weight', /whole number/);
  only(variants([{ name: 'a', weight: 300, weightType: 'fix' }, { name: 'b', weight: 300, weightType: 'variable' }]), 'features[0].variants', /add up to 600.*must add up to 1000/);
  only(variants([{ name: 'a', weight: 0 }, { name: 'b', weight: 0 }]), 'features[0].variants', /add up to 0/);
  // Without weightType (client-features as the spec writes them) any positive total is Unleash's.
  assert.deepEqual(paths(variants([{ name: 'a', weight: 33 }, { name: 'b', weight: 33 }])), []);
});

test('ruleProblems: duplicate variant names, in flag and strategy variants', () => {
  only({ version: 1, features: [{ name: 'f', enabled: true, variants: [{ name: 'a', weight: 1 }, { name: 'a', weight: 1 }] }] }, 'features[0].variants[1].name', /duplicate variant name "a" \(also features\[0\]\.variants\[0\]\)/);
  only(withStrategy({ name: 'default', variants: [{ name: 'x', weight: 1 }, { name: 'x', weight: 2 }] }), 'features[0].strategies[0].variants[1].name', /duplicate variant name/);
});

test('ruleProblems: bad payloads for their type', () => {
  const one = (type: 'json' | 'number', value: string) => ({ version: 1, features: [{ name: 'f', enabled: true, variants: [{ name: 'a', weight: 1, payload: { type, value } }] }] });
  only(one('json', '{nope'), 'features[0].variants[0].payload.value', /not valid JSON/);
  only(one('number', 'ten'), 'features[0].variants[0].payload.value', /not a number/);
});

const feature = (name: string, parents: string[] = []): Feature => ({ name, enabled: true, strategies: [], dependencies: parents.map((feature) => ({ feature })) });

test('ruleProblems: a dependency on a flag not in the state', () => {
  only({ version: 1, features: [feature('a', ['ghost'])] }, 'features[0].dependencies[0].feature', /"ghost" is not in the state/);
});

test('ruleProblems: dependency cycles, a self-dependency included, each reported once', () => {
  only({ version: 1, features: [feature('a', ['a'])] }, 'features[0].dependencies[0]', /cycle a → a/);
  only({ version: 1, features: [feature('a', ['b']), feature('b', ['c']), feature('c', ['a'])] }, 'features[0].dependencies[0]', /cycle a → b → c → a/);
});

test('ruleProblems: a parent that has parents itself (Unleash allows one level)', () => {
  only({ version: 1, features: [feature('a'), feature('b', ['a']), feature('c', ['b'])] }, 'features[2].dependencies[0].feature', /itself depends on other flags/);
});

test('ruleProblems: a strategy referring to an unknown segment, and duplicate segment ids', () => {
  only({ version: 1, segments: [{ id: 1, constraints: [] }], features: [{ name: 'f', enabled: true, strategies: [{ name: 'default', segments: [1, 2] }] }] }, 'features[0].strategies[0].segments[1]', /segment 2 is not in the state/);
  only({ version: 1, segments: [{ id: 1, constraints: [] }, { id: 1, constraints: [] }], features: [] }, 'segments[1].id', /duplicate segment id 1/);
});

test('ruleProblems: a segment\'s own constraints are checked at their path', () => {
  only({ version: 1, segments: [{ id: 1, constraints: [{ contextName: 'v', operator: 'SEMVER_EQ', value: 'one' }] }], features: [] }, 'segments[0].constraints[0].value', /not a semantic version/);
});

test('ruleProblems: duplicate flag names', () => {
  only({ version: 1, features: [feature('a'), feature('b'), feature('a')] }, 'features[2].name', /duplicate flag name "a" \(also features\[0\]\)/);
});

test('ruleProblems: a rollout percentage outside 0..100 or not a number; unknown stickiness is fine', () => {
  for (const rollout of ['101', '-1', 'half', '']) {
    only(withStrategy({ name: 'flexibleRollout', parameters: { rollout, stickiness: 'whatever', groupId: 'g' } }), 'features[0].strategies[0].parameters.rollout', /percentage from 0 to 100/);
  }
  only(withStrategy({ name: 'gradualRolloutSessionId', parameters: { percentage: 150, groupId: 'g' } }), 'features[0].strategies[0].parameters.percentage', /percentage from 0 to 100/);
  assert.deepEqual(paths(withStrategy({ name: 'flexibleRollout', parameters: { rollout: '0', stickiness: 'tenantId', groupId: 'g' } })), []);
});

// Properties: valid pieces give no problems; one invalid value gives one problem, at its path.
const validConstraint: fc.Arbitrary<Constraint> = fc.oneof(
  fc.record({ contextName: fc.constantFrom('a', 'b'), operator: fc.constantFrom('IN', 'NOT_IN', 'STR_CONTAINS') as fc.Arbitrary<Constraint['operator']>, values: fc.array(fc.string(), { maxLength: 3 }) }),
  fc.record({ contextName: fc.constant('n'), operator: fc.constantFrom('NUM_EQ', 'NUM_LT') as fc.Arbitrary<Constraint['operator']>, value: fc.integer().map(String) }),
  fc.record({ contextName: fc.constant('v'), operator: fc.constantFrom('SEMVER_EQ', 'SEMVER_LT') as fc.Arbitrary<Constraint['operator']>, value: fc.tuple(fc.nat(99), fc.nat(99), fc.nat(99)).map((t) => t.join('.')) }),
  fc.record({ contextName: fc.constant('currentTime'), operator: fc.constant('DATE_AFTER' as const), value: fc.date({ min: new Date('1990-01-01'), max: new Date('2090-01-01'), noInvalidDate: true }).map((d) => d.toISOString()) }),
  fc.record({ contextName: fc.constant('remoteAddress'), operator: fc.constant('IN_CIDR' as const), values: fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { maxLength: 3 }) }),
);
const invalidValue: fc.Arbitrary<Constraint> = fc.oneof(
  fc.constantFrom('x', '1.2', 'v1.0.0').map((value): Constraint => ({ contextName: 'v', operator: 'SEMVER_GT', value })),
  fc.constantFrom('abc', '').map((value): Constraint => ({ contextName: 'n', operator: 'NUM_GTE', value })),
  fc.constantFrom('(', 'a(?!b)', '\\2').map((value): Constraint => ({ contextName: 'r', operator: 'REGEX', value })),
  fc.constantFrom('soon', '2020-02-31x').map((value): Constraint => ({ contextName: 'currentTime', operator: 'DATE_BEFORE', value })),
);

const stateOf = (constraints: Constraint[][]): ClientFeatures => ({
  version: 1,
  features: constraints.map((cs, i) => ({ name: `f${i}`, enabled: true, strategies: [{ name: 'default', constraints: cs }] })),
});

test('ruleProblems (property): states of valid constraints have no problems', () => {
  fc.assert(fc.property(fc.array(fc.array(validConstraint, { maxLength: 4 }), { maxLength: 5 }), (cs) => {
    assert.deepEqual(ruleProblems(stateOf(cs)), []);
  }));
});

test('ruleProblems (property): one invalid value anywhere gives exactly one problem, at its path', () => {
  fc.assert(fc.property(fc.array(fc.array(validConstraint, { maxLength: 4 }), { minLength: 1, maxLength: 5 }), invalidValue, fc.nat(), fc.nat(), (cs, bad, fi, ci) => {
    const f = fi % cs.length;
    const list = cs[f] as Constraint[];
    const at = ci % (list.length + 1);
    list.splice(at, 0, bad);
    assert.deepEqual(paths(stateOf(cs)), [`features[${f}].strategies[0].constraints[${at}].value`]);
  }));
});
