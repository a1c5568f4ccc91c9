/**
 * The benchmark's flag sets, each in Unleash's client-features format (for Rollgate's engine and
 * unleash-client) and translated into flagd's flag format (JSON Logic targeting, fractional for
 * rollouts and weighted variants), and the contexts they are evaluated for, the same for all.
 */
import type { ClientFeatures, Constraint, Context, Feature } from '../engine/types.js';

export interface FlagSet {
  unleash: ClientFeatures;
  /** flagd's flag configuration document. */
  flagd: { flags: Record<string, unknown>; $evaluators?: Record<string, unknown> };
  names: string[];
  /** Whether a flag is read for its variant (getVariant, a string flag in flagd) or for on/off. */
  variants: boolean;
}

export interface BenchContext {
  unleash: Context;
  /** The same values, flat, as flagd reads them. */
  flagd: Record<string, string | number>;
}

/** Deterministic pseudo-random numbers (the same run every time). */
function prng(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const COUNTRIES = Array.from({ length: 100 }, (_, i) => `C${String(i).padStart(3, '0')}`);
const BLOCKED_PLANS = Array.from({ length: 100 }, (_, i) => `legacy-${i}`);

export function contexts(n: number): BenchContext[] {
  const rand = prng(42);
  const out: BenchContext[] = [];
  for (let i = 0; i < n; i++) {
    const flat = {
      userId: `user-${i}`,
      sessionId: `session-${Math.floor(rand() * 1e9)}`,
      // 9 in 10 contexts pass every constraint, so the targeting set evaluates all ten.
      country: rand() < 0.9 ? (COUNTRIES[Math.floor(rand() * 100)] as string) : 'ZZ',
      plan: rand() < 0.95 ? 'pro' : 'legacy-3',
      version: `${1 + Math.floor(rand() * 2)}.${Math.floor(rand() * 10)}.${Math.floor(rand() * 10)}`,
      age: String(18 + Math.floor(rand() * 50)),
      email: `u${i}@example.com`,
      region: rand() < 0.95 ? 'eu' : 'us',
      tier: String(1 + Math.floor(rand() * 5)),
    };
    const { userId, sessionId, ...properties } = flat;
    out.push({
      unleash: { userId, sessionId, appName: 'bench', environment: 'production', properties },
      flagd: { targetingKey: userId, ...flat, appName: 'bench', environment: 'production', age: Number(flat.age), tier: Number(flat.tier) },
    });
  }
  return out;
}

const ON_OFF = { on: true, off: false };
const bucketBy = { cat: [{ var: '$flagd.flagKey' }, { var: 'userId' }] };

/** (i) 50 boolean flags: 25 on for everyone (default), 25 at 50% on userId (flexibleRollout). */
export function simpleSet(): FlagSet {
  const features: Feature[] = [];
  const flags: Record<string, unknown> = {};
  for (let i = 0; i < 50; i++) {
    const name = `simple-${i}`;
    if (i % 2 === 0) {
      features.push({ name, enabled: true, strategies: [{ name: 'default' }] });
      flags[name] = { state: 'ENABLED', variants: ON_OFF, defaultVariant: 'on' };
    } else {
      features.push({ name, enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'userId', groupId: name } }] });
      flags[name] = { state: 'ENABLED', variants: ON_OFF, defaultVariant: 'off', targeting: { fractional: [bucketBy, ['on', 50], ['off', 50]] } };
    }
  }
  return { unleash: { version: 1, features }, flagd: { flags }, names: features.map((f) => f.name), variants: false };
}

/**
 * (ii) 50 flags, each one strategy with 10 constraints (IN over 100 countries, NOT_IN over 100
 * plans, two semver bounds, two number bounds, a date, a regex, a suffix, a prefix) and a segment
 * (2 constraints), and three weighted variants on userId. flagd has no regex operator: the
 * pattern ^u[0-9]+@example\.com$ becomes a starts_with plus the ends_with it implies there.
 */
export function targetingSet(): FlagSet {
  const constraints: Constraint[] = [
    { contextName: 'country', operator: 'IN', values: COUNTRIES },
    { contextName: 'plan', operator: 'NOT_IN', values: BLOCKED_PLANS },
    { contextName: 'version', operator: 'SEMVER_GTE', value: '1.0.0' },
    { contextName: 'version', operator: 'SEMVER_LT', value: '3.0.0' },
    { contextName: 'age', operator: 'NUM_GTE', value: '18' },
    { contextName: 'age', operator: 'NUM_LT', value: '99' },
    { contextName: 'currentTime', operator: 'DATE_AFTER', value: '2020-01-01T00:00:00.000Z' },
    { contextName: 'email', operator: 'REGEX', value: '^u[0-9]+@example\\.com$' },
    { contextName: 'email', operator: 'STR_ENDS_WITH', values: ['@example.com'] },
    { contextName: 'userId', operator: 'STR_STARTS_WITH', values: ['user-'] },
  ];
  const segment = { id: 1, name: 'eu-tiers', constraints: [
    { contextName: 'region', operator: 'IN' as const, values: ['eu', 'uk'] },
    { contextName: 'tier', operator: 'NUM_LTE' as const, value: '5' },
  ] };
  const rule = {
    and: [
      { in: [{ var: 'country' }, COUNTRIES] },
      { '!': { in: [{ var: 'plan' }, BLOCKED_PLANS] } },
      { sem_ver: [{ var: 'version' }, '>=', '1.0.0'] },
      { sem_ver: [{ var: 'version' }, '<', '3.0.0'] },
      { '>=': [{ var: 'age' }, 18] },
      { '<': [{ var: 'age' }, 99] },
      { '>': [{ var: '$flagd.timestamp' }, Date.parse('2020-01-01T00:00:00.000Z') / 1000] },
      { starts_with: [{ var: 'email' }, 'u'] },
      { ends_with: [{ var: 'email' }, '@example.com'] },
      { starts_with: [{ var: 'userId' }, 'user-'] },
      { $ref: 'euTiers' },
    ],
  };
  const features: Feature[] = [];
  const flags: Record<string, unknown> = {};
  for (let i = 0; i < 50; i++) {
    const name = `targeting-${i}`;
    features.push({
      name,
      enabled: true,
      strategies: [{
        name: 'flexibleRollout',
        parameters: { rollout: '100', stickiness: 'userId', groupId: name },
        constraints,
        segments: [1],
        variants: [
          { name: 'red', weight: 333, weightType: 'variable', stickiness: 'userId', payload: { type: 'string', value: 'red' } },
          { name: 'green', weight: 333, weightType: 'variable', stickiness: 'userId', payload: { type: 'string', value: 'green' } },
          { name: 'blue', weight: 334, weightType: 'variable', stickiness: 'userId', payload: { type: 'string', value: 'blue' } },
        ],
      }],
    });
    flags[name] = {
      state: 'ENABLED',
      variants: { red: 'red', green: 'green', blue: 'blue', disabled: 'disabled' },
      defaultVariant: 'disabled',
      targeting: { if: [rule, { fractional: [bucketBy, ['red', 333], ['green', 333], ['blue', 334]] }, 'disabled'] },
    };
  }
  return {
    unleash: { version: 1, features, segments: [segment] },
    flagd: {
      flags,
      $evaluators: { euTiers: { and: [{ in: [{ var: 'region' }, ['eu', 'uk']] }, { '<=': [{ var: 'tier' }, 5] }] } },
    },
    names: features.map((f) => f.name),
    variants: true,
  };
}
