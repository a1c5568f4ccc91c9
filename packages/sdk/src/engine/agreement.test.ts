// Property tests: Rollgate's engine and the real unleash-client agree on random states and
// contexts — gradual rollouts at random percentages, variants with random weights, and the
// constraint operators on random values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compile } from './evaluator.js';
import { plainVariant } from './spec.testkit.js';
import type { ClientFeatures, Constraint, Context, Feature, Strategy, Variant } from './types.js';
import { referenceFor, STATIC_CONTEXT } from './unleash-reference.testkit.js';

const id = fc.string({ minLength: 1, maxLength: 12 });
const percentage = fc.integer({ min: 0, max: 100 });

const variantsArb = (stickiness: fc.Arbitrary<string | undefined>) =>
  fc.tuple(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 5 }), stickiness).map(([weights, s]) =>
    weights.map((weight, i): Variant => ({ name: `v${i}`, weight, ...(s ? { stickiness: s } : {}), payload: { type: 'string', value: `p${i}` } })),
  );

const strategyArb: fc.Arbitrary<Strategy> = fc.oneof(
  fc.record({ percentage, groupId: id, stickiness: fc.constantFrom('default', 'userId', 'sessionId', 'custom'), variants: fc.option(variantsArb(fc.constantFrom(undefined, 'custom', 'sessionId')), { nil: undefined }) })
    .map(({ percentage: p, groupId, stickiness, variants }): Strategy => ({ name: 'flexibleRollout', parameters: { rollout: String(p), groupId, stickiness }, ...(variants ? { variants } : {}) })),
  fc.record({ name: fc.constantFrom('gradualRolloutUserId', 'gradualRolloutSessionId'), percentage, groupId: id })
    .map(({ name, percentage: p, groupId }): Strategy => ({ name, parameters: { percentage: String(p), groupId } })),
);

const stateArb: fc.Arbitrary<ClientFeatures> = fc
  .array(fc.record({ strategies: fc.array(strategyArb, { minLength: 1, maxLength: 3 }), variants: fc.option(variantsArb(fc.constantFrom(undefined, 'default', 'custom', 'sessionId')), { nil: undefined }) }), { minLength: 1, maxLength: 4 })
  .map((flags) => ({
    version: 1,
    features: flags.map((f, i): Feature => ({ name: `flag-${i}`, enabled: true, strategies: f.strategies, variants: f.variants ?? [] })),
  }));

// Every context has a sessionId and the custom field, so no evaluation falls back to a random id.
const contextArb: fc.Arbitrary<Context> = fc.record({ userId: fc.option(id, { nil: undefined }), sessionId: id, custom: id })
  .map(({ userId, sessionId, custom }) => ({ ...(userId !== undefined ? { userId } : {}), sessionId, properties: { custom } }));

test('agreement: random rollouts and variant weights give the same isEnabled and getVariant as unleash-client', async () => {
  await fc.assert(
    fc.asyncProperty(stateArb, fc.array(contextArb, { minLength: 1, maxLength: 15 }), async (state, contexts) => {
      const reference = await referenceFor(state);
      try {
        const engine = compile(state);
        for (const c of contexts) {
          const context = { ...STATIC_CONTEXT, ...c };
          for (const f of state.features) {
            assert.equal(engine.isEnabled(f.name, context), reference.isEnabled(f.name, context), `${f.name} isEnabled`);
            assert.deepEqual(plainVariant(engine.getVariant(f.name, context)), plainVariant(reference.getVariant(f.name, context)), `${f.name} getVariant`);
          }
        }
      } finally {
        reference.destroy();
      }
    }),
    { numRuns: 60 },
  );
});

// unleash-client (Node) hashes the low byte of each UTF-16 unit; Unleash's other SDKs and this
// engine hash UTF-8. Given the UTF-8 bytes as one character each, unleash-client hashes UTF-8 too.
const asBytes = (s: string) => Array.from(new TextEncoder().encode(s), (b) => String.fromCharCode(b)).join('');

test('agreement: non-ASCII stickiness values bucket by their UTF-8 bytes (unleash-client given those bytes)', async () => {
  await fc.assert(
    fc.asyncProperty(percentage, fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 2, maxLength: 4 }), fc.array(fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 20 }), async (p, weights, values) => {
      const state: ClientFeatures = {
        version: 1,
        features: [{
          name: 'utf8', enabled: true,
          strategies: [{ name: 'flexibleRollout', parameters: { rollout: String(p), groupId: 'g', stickiness: 'k' } }],
          variants: weights.map((weight, i) => ({ name: `v${i}`, weight, stickiness: 'k' })),
        }],
      };
      const reference = await referenceFor(state);
      try {
        const engine = compile(state);
        for (const v of values) {
          const mine = { ...STATIC_CONTEXT, properties: { k: v } };
          const theirs = { ...STATIC_CONTEXT, properties: { k: asBytes(v) } };
          assert.equal(engine.isEnabled('utf8', mine), reference.isEnabled('utf8', theirs));
          assert.deepEqual(plainVariant(engine.getVariant('utf8', mine)), plainVariant(reference.getVariant('utf8', theirs)));
        }
      } finally {
        reference.destroy();
      }
    }),
    { numRuns: 30 },
  );
});

// Constraint operators on random values: one flag per constraint, the same contexts for both.
const semverish = fc.oneof(
  fc.tuple(fc.nat(12), fc.nat(12), fc.nat(12), fc.option(fc.constantFrom('alpha', 'beta.2', 'rc.1', '1', 'alpha.10', '0a', '01'), { nil: undefined }), fc.constantFrom('', 'v', ' ', '='))
    .map(([a, b, c, pre, lead]) => `${lead}${a}.${b}.${c}${pre ? `-${pre}` : ''}`),
  fc.constantFrom('1.2', '1.2.3.4', 'x', '', '1.02.3', '1.2.3+build.5', '1.2.3-+'),
);
const numberish = fc.oneof(fc.double({ noNaN: true, min: -1e6, max: 1e6 }).map(String), fc.integer({ min: -20, max: 20 }).map(String), fc.constantFrom('', ' 7 ', '0x10', 'abc', '1e3', '-0'));
const dateish = fc.oneof(fc.date({ min: new Date('2000-01-01'), max: new Date('2040-01-01'), noInvalidDate: true }).map((d) => d.toISOString()), fc.constantFrom('2024-02-30', 'not a date', '2024-01-01'));
const wordish = fc.oneof(fc.constantFrom('Alpha', 'alpha', 'ALPHA beta', 'beta', 'a.b@c.com', 'user123', 'x\nfoo\ny', ''), fc.string({ maxLength: 8 }));
const ipish = fc.oneof(fc.ipV4(), fc.ipV6(), fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, n]) => `${ip}/${n}`), fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([ip, n]) => `${ip}/${n}`), fc.constantFrom('10.0.0.0/8', '10.1.2.3', '::1', '2001:db8::/32', '01.2.3.4', '1.2.3', 'x'));
const PATTERNS = ['^a', 'a$', '^[[:alpha:]]+$', '\\bbeta\\b', '(?i)^alpha', '^\\w+@\\w+\\.com$', '\\d{3}$', '^(?s)x.foo', '(?m)^foo$', 'a{2,}', '[^a-z]', '\\Qa.b\\E', '^.{2,4}$', '\\pL+', '[\\d\\s]', 'alpha|beta'];

const constraintKinds: fc.Arbitrary<{ constraint: Constraint; value: fc.Arbitrary<string> }> = fc.oneof(
  fc.record({ op: fc.constantFrom('SEMVER_EQ', 'SEMVER_GT', 'SEMVER_GTE', 'SEMVER_LT', 'SEMVER_LTE'), v: semverish }).map(({ op, v }) => ({ constraint: { contextName: 'f', operator: op as Constraint['operator'], value: v }, value: semverish })),
  fc.record({ op: fc.constantFrom('NUM_EQ', 'NUM_GT', 'NUM_GTE', 'NUM_LT', 'NUM_LTE'), v: numberish }).map(({ op, v }) => ({ constraint: { contextName: 'f', operator: op as Constraint['operator'], value: v }, value: numberish })),
  fc.record({ op: fc.constantFrom('DATE_AFTER', 'DATE_BEFORE'), v: dateish }).map(({ op, v }) => ({ constraint: { contextName: 'currentTime', operator: op as Constraint['operator'], value: v }, value: dateish })),
  fc.record({ op: fc.constantFrom('IN', 'NOT_IN', 'STR_CONTAINS', 'STR_STARTS_WITH', 'STR_ENDS_WITH'), vs: fc.array(wordish, { maxLength: 4 }), ci: fc.boolean() }).map(({ op, vs, ci }) => ({ constraint: { contextName: 'f', operator: op as Constraint['operator'], values: vs, caseInsensitive: ci }, value: wordish })),
  fc.record({ p: fc.constantFrom(...PATTERNS), ci: fc.boolean() }).map(({ p, ci }) => ({ constraint: { contextName: 'f', operator: 'REGEX' as const, value: p, caseInsensitive: ci }, value: wordish })),
  fc.array(ipish, { minLength: 1, maxLength: 3 }).map((vs) => ({ constraint: { contextName: 'f', operator: 'IN_CIDR' as const, values: vs }, value: ipish })),
);
const constraintArb: fc.Arbitrary<{ constraint: Constraint; values: string[] }> = constraintKinds.chain(({ constraint, value }) =>
  fc.record({ constraint: fc.boolean().map((inverted): Constraint => ({ ...constraint, inverted })), values: fc.array(value, { minLength: 1, maxLength: 8 }) }),
);

test('agreement: constraint operators (semver, number, date, string, regex, CIDR) on random values match unleash-client', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(constraintArb, { minLength: 1, maxLength: 6 }), async (cases) => {
      const state: ClientFeatures = {
        version: 1,
        features: cases.map((c, i) => ({ name: `c${i}`, enabled: true, strategies: [{ name: 'default', constraints: [c.constraint] }] })),
      };
      const reference = await referenceFor(state);
      try {
        const engine = compile(state);
        cases.forEach((c, i) => {
          for (const v of c.values) {
            const context: Context = c.constraint.contextName === 'currentTime' ? { ...STATIC_CONTEXT, currentTime: v } : { ...STATIC_CONTEXT, properties: { f: v } };
            assert.equal(engine.isEnabled(`c${i}`, context), reference.isEnabled(`c${i}`, context), `${JSON.stringify(c.constraint)} on ${JSON.stringify(v)}`);
          }
        });
      } finally {
        reference.destroy();
      }
    }),
    { numRuns: 150 },
  );
});

// Random RE2 patterns from a small grammar (classes, POSIX classes, escapes, groups, repeats,
// inline flags, and what RE2 refuses), against unleash-client's RE2 on random strings.
const atom = fc.constantFrom(
  'a', 'b', 'A', '.', '\\.', '\\d', '\\D', '\\w', '\\W', '\\s', '\\S', '\\b', '\\B', '[a-c]', '[^ab]', '[[:alpha:]]', '[[:digit:][:space:]]',
  '[[:^alpha:]]', '[]a]', '[a-]', '\\pL', '\\p{Lu}', '\\p{Greek}', '\\PN', '\\x41', '\\x{263a}', '\\Qa+b\\E', '\\A', '\\z', '^', '$', '-', ',', '{', '}',
  '(?:ab)', '(a|b)', '(?P<n>a)', '(?<m>b)', '(?i)', '(?s)', '(?m)', '(?U)', '(?i:a)', '(?=a)', '(?!a)', '(?<=a)', '\\1', '\\0', '\\012', '(', ')', '\\',
  '\\e', '\\Z', '[z-a]', '[[:foo:]]', 'é', '😊', '\\n', '\\t',
);
const quant = fc.constantFrom('', '', '', '*', '+', '?', '*?', '+?', '??', '{2}', '{1,3}', '{2,}', '{,2}', '{1001}', '**', '{3,1}');
const pattern = fc.array(fc.tuple(atom, quant).map(([a, q]) => a + q), { minLength: 1, maxLength: 5 }).map((parts) => parts.join(''));
const subject = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('ab', 'AB', 'a\nb', 'a+b', 'aab', '12 x', 'αβγ', 'é😊', '☺', 'a.b', '{}', '-,', 'Ab1'));

test('agreement: random RE2 patterns (valid and not) match what unleash-client matches', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.record({ p: pattern, ci: fc.boolean(), inverted: fc.boolean(), subjects: fc.array(subject, { minLength: 1, maxLength: 6 }) }), { minLength: 1, maxLength: 10 }), async (cases) => {
      const state: ClientFeatures = {
        version: 1,
        features: cases.map((c, i) => ({ name: `r${i}`, enabled: true, strategies: [{ name: 'default', constraints: [{ contextName: 'f', operator: 'REGEX' as const, value: c.p, caseInsensitive: c.ci, inverted: c.inverted }] }] })),
      };
      const reference = await referenceFor(state);
      try {
        const engine = compile(state);
        cases.forEach((c, i) => {
          for (const s of c.subjects) {
            const context = { ...STATIC_CONTEXT, properties: { f: s } };
            assert.equal(engine.isEnabled(`r${i}`, context), reference.isEnabled(`r${i}`, context), `${JSON.stringify(c)} on ${JSON.stringify(s)}`);
          }
        });
      } finally {
        reference.destroy();
      }
    }),
    { numRuns: 100 },
  );
});
