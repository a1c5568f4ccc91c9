import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlagRecord, FlagStateRecord } from '../store/flags-types.js';
import type { FlagUsageRecord } from '../store/flag-metrics-types.js';
import { decided, staleFlags } from './stale.js';

const now = new Date('2026-12-01T00:00:00Z');
const daysAgo = (n: number) => new Date(now.getTime() - n * 86_400_000).toISOString();
const flag = (name: string, over: Partial<FlagRecord> = {}): FlagRecord => ({ app: 'shop', name, kind: 'release', owner: 'ana', description: '', lifetimeDays: 40, archived: false, archivedAt: null, archivedBy: null, createdAt: daysAgo(10), createdBy: 'ana', updatedAt: daysAgo(10), ...over });
const state = (name: string, env: string, s: FlagStateRecord['state'], updated = 60): FlagStateRecord => ({ app: 'shop', env, name, state: s, updatedAt: daysAgo(updated), updatedBy: 'ana' });
const used = (name: string, lastDays: number): FlagUsageRecord => ({ app: 'shop', env: 'production', name, variant: null, yes: 1, no: 0, firstSeenAt: daysAgo(90), lastSeenAt: daysAgo(lastDays) });
const ON = { enabled: true, strategies: [{ name: 'default' }] };

test('decided: off, or on for every context; a constraint, a partial rollout or a split is not', () => {
  assert.equal(decided({ enabled: false, strategies: [] }), 'off');
  assert.equal(decided(ON), 'on');
  assert.equal(decided({ enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '100' } }] }), 'on');
  assert.equal(decided({ enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '50' } }] }), null);
  assert.equal(decided({ enabled: true, strategies: [{ name: 'default', constraints: [{ contextName: 'plan', operator: 'IN', values: ['pro'] }] }] }), null);
  assert.equal(decided({ enabled: true, strategies: [{ name: 'default' }], variants: [{ name: 'a', weight: 500 }, { name: 'b', weight: 500 }] }), null);
});

test('past its lifetime, decided everywhere, or unused: each said with its reason', () => {
  const flags = [
    flag('old', { createdAt: daysAgo(50) }), // release of 40 days, 50 days old
    flag('done', { createdAt: daysAgo(90), lifetimeDays: null }),
    flag('quiet', { createdAt: daysAgo(90), lifetimeDays: null }),
    flag('busy', { createdAt: daysAgo(90), lifetimeDays: null }),
    flag('switch', { kind: 'kill-switch', createdAt: daysAgo(400), lifetimeDays: null }),
    flag('gone', { archived: true, createdAt: daysAgo(400) }),
  ];
  const states = [
    state('done', 'staging', ON),
    state('done', 'production', ON),
    state('busy', 'production', { enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '30' } }] }),
    state('switch', 'production', { enabled: false, strategies: [] }),
  ];
  const usage = [used('done', 1), used('busy', 1), used('switch', 2), used('old', 1), used('quiet', 45)];
  const out = staleFlags(flags, states, usage, 30, now);
  const why = Object.fromEntries(out.map((f) => [f.name, f.reasons.map((r) => r.reason)]));
  assert.deepEqual(why, { old: ['past-lifetime'], done: ['decided'], quiet: ['unused'] });
  assert.match(out.find((f) => f.name === 'done')!.reasons[0]!.detail, /^on for everyone in staging, production/);
  assert.match(out.find((f) => f.name === 'quiet')!.reasons[0]!.detail, /last evaluated 2026-10-17/);
});

test('a flag decided differently in two environments, or changed recently, is not decided', () => {
  const flags = [flag('split', { createdAt: daysAgo(90), lifetimeDays: null }), flag('fresh', { createdAt: daysAgo(90), lifetimeDays: null })];
  const states = [state('split', 'staging', ON), state('split', 'production', { enabled: false }), state('fresh', 'production', ON, 3)];
  const usage = [used('split', 1), used('fresh', 1)];
  assert.deepEqual(staleFlags(flags, states, usage, 30, now), []);
});
