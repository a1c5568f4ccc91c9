// The evaluator's own API beyond Unleash's two calls: bulk evaluation with OpenFeature reasons,
// options (host name, random source), shared frozen results, and that the engine is pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { compile } from './evaluator.js';
import type { ClientFeatures, Context } from './types.js';

const state: ClientFeatures = {
  version: 1,
  segments: [{ id: 1, constraints: [{ contextName: 'plan', operator: 'IN', values: ['pro'] }] }],
  features: [
    { name: 'off', enabled: false, strategies: [{ name: 'default' }] },
    { name: 'everyone', enabled: true, strategies: [] },
    { name: 'default-strategy', enabled: true, strategies: [{ name: 'default' }] },
    { name: 'full-rollout', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'default', groupId: 'g' } }] },
    { name: 'pro-only', enabled: true, strategies: [{ name: 'default', segments: [1] }] },
    { name: 'listed', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'alice, bob' } }] },
    { name: 'half', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'userId', groupId: 'half' } }] },
    { name: 'ab', enabled: true, strategies: [{ name: 'default' }], variants: [{ name: 'a', weight: 500 }, { name: 'b', weight: 500, overrides: [{ contextName: 'userId', values: ['carol'] }] }] },
    { name: 'single-variant', enabled: true, strategies: [{ name: 'default' }], variants: [{ name: 'only', weight: 1000, payload: { type: 'string', value: 'x' } }] },
    { name: 'child', enabled: true, strategies: [], dependencies: [{ feature: 'off' }] },
  ],
};

test('evaluateAll: every flag in the state\'s order, with isEnabled\'s and getVariant\'s answers', () => {
  const e = compile(state);
  const context = { userId: 'alice', properties: { plan: 'pro' } };
  const all = e.evaluateAll(context);
  assert.deepEqual(all.map((r) => r.name), state.features.map((f) => f.name));
  for (const r of all) {
    assert.equal(r.value, e.isEnabled(r.name, context));
    assert.deepEqual(r.variant, e.getVariant(r.name, context));
  }
  assert.deepEqual(e.names(), state.features.map((f) => f.name));
  assert.equal(e.evaluate('missing', context), undefined);
});

test('evaluateAll: reasons DISABLED, DEFAULT, STATIC, TARGETING_MATCH and SPLIT', () => {
  const e = compile(state);
  const reasons = (context: Context) => Object.fromEntries(e.evaluateAll(context).map((r) => [r.name, r.reason]));
  const pro = reasons({ userId: 'alice', properties: { plan: 'pro' } });
  assert.equal(pro.off, 'DISABLED');
  assert.equal(pro.everyone, 'STATIC');
  assert.equal(pro['default-strategy'], 'STATIC');
  assert.equal(pro['full-rollout'], 'STATIC');
  assert.equal(pro['pro-only'], 'TARGETING_MATCH');
  assert.equal(pro.listed, 'TARGETING_MATCH');
  assert.equal(pro.ab, 'SPLIT'); // a variant picked by weight
  assert.equal(pro['single-variant'], 'STATIC'); // one variant: no split
  assert.equal(pro.child, 'DEFAULT'); // on, but its parent is off
  const free = reasons({ userId: 'dave', properties: { plan: 'free' } });
  assert.equal(free['pro-only'], 'DEFAULT');
  assert.equal(free.listed, 'DEFAULT');
  assert.equal(reasons({ userId: 'carol' }).ab, 'TARGETING_MATCH'); // the override
  // A 50% rollout: SPLIT when in, DEFAULT when out; both happen across users.
  const half = new Set(Array.from({ length: 40 }, (_, i) => `${e.evaluate('half', { userId: `u${i}` })?.value}:${e.evaluate('half', { userId: `u${i}` })?.reason}`));
  assert.deepEqual([...half].sort(), ['false:DEFAULT', 'true:SPLIT']);
});

test('results are frozen and shared; the disabled variant has Unleash\'s shape', () => {
  const e = compile(state);
  const v = e.getVariant('single-variant', {});
  assert.ok(Object.isFrozen(v) && Object.isFrozen(v.payload));
  assert.equal(v, e.getVariant('single-variant', { userId: 'x' }));
  assert.deepEqual(e.getVariant('off', {}), { name: 'disabled', enabled: false, feature_enabled: false });
  assert.deepEqual(e.getVariant('everyone', {}), { name: 'disabled', enabled: false, feature_enabled: true });
  assert.deepEqual(e.getVariant('nope', {}), { name: 'disabled', enabled: false, feature_enabled: false });
});

test('applicationHostname matches the host name given at compile time, case-insensitively; none given, never', () => {
  const s: ClientFeatures = { version: 1, features: [{ name: 'h', enabled: true, strategies: [{ name: 'applicationHostname', parameters: { hostNames: 'web-1, API-2' } }] }] };
  assert.equal(compile(s, { hostname: 'api-2' }).isEnabled('h', {}), true);
  assert.equal(compile(s, { hostname: 'web-3' }).isEnabled('h', {}), false);
  assert.equal(compile(s).isEnabled('h', {}), false);
});

test('random stickiness and gradualRolloutRandom draw from the random source given', () => {
  const s: ClientFeatures = { version: 1, features: [
    { name: 'r', enabled: true, strategies: [{ name: 'gradualRolloutRandom', parameters: { percentage: '30' } }] },
    { name: 'f', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '30', stickiness: 'random', groupId: 'f' } }] },
  ] };
  assert.equal(compile(s, { random: () => 0.25 }).isEnabled('r', {}), true); // 26 <= 30
  assert.equal(compile(s, { random: () => 0.5 }).isEnabled('r', {}), false); // 51 > 30
  const draws = new Set(Array.from({ length: 30 }, (_, i) => compile(s, { random: () => i / 30 }).isEnabled('f', {})));
  assert.deepEqual([...draws].sort(), [false, true]);
});

test('a strategy marked disabled is skipped (Unleash\'s server never sends one to its SDKs)', () => {
  const s: ClientFeatures = { version: 1, features: [{ name: 'd', enabled: true, strategies: [{ name: 'default', disabled: true }, { name: 'userWithId', parameters: { userIds: 'u' } }] }] };
  const e = compile(s);
  assert.equal(e.isEnabled('d', { userId: 'u' }), true);
  assert.equal(e.isEnabled('d', { userId: 'v' }), false);
});

test('the engine is pure: no Node built-ins, Buffer or process in its runtime files (it runs in browsers)', () => {
  const dir = new URL('./', import.meta.url);
  const runtime = readdirSync(dir).filter((f) => f.endsWith('.js') && !f.endsWith('.test.js') && !f.endsWith('.testkit.js'));
  assert.ok(runtime.includes('evaluator.js') && runtime.includes('murmur.js'));
  for (const f of runtime) {
    const code = readFileSync(new URL(f, dir), 'utf8').replace(/\/\/.*$/gm, '');
    assert.doesNotMatch(code, /from ['"]node:|require\(|\bBuffer\b|\bprocess\.|from ['"](?!\.)/, f);
  }
});
