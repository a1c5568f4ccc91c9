// How a flag rollout reads in the terminal: steps, the next one, and a guard's latest look or kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RolloutView } from './client-flag-rollouts.js';
import { rolloutLine } from './flag-rollout-text.js';

const NOW = Date.parse('2026-12-04T12:00:00Z');
const base: RolloutView = {
  id: 'fr_0123456789abcdef',
  app: 'shop',
  env: 'production',
  flag: 'new-checkout',
  variant: null,
  steps: [10, 50, 100],
  everyMs: 600_000,
  applied: 1,
  nextStepAt: '2026-12-04T12:05:00Z',
  remainingMs: null,
  status: 'running',
  reason: null,
  guard: null,
  startedBy: 'user:ana',
  createdAt: '2026-12-04T11:55:00Z',
  updatedAt: '2026-12-04T11:55:00Z',
  finishedAt: null,
  percent: 10,
  nextPercent: 50,
};
const look = { at: '2026-12-04T11:59:59Z', verdict: 'pass' as const, reason: 'ok', looks: 240, evidence: 'router' as const, treatmentRequests: 5912, controlRequests: 53020, treatmentErrors: 3, controlErrors: 27 };

test('an unguarded rollout: its step, the next, who started it; nothing about a guard', () => {
  const line = rolloutLine(base, NOW);
  assert.match(line, /^flag new-checkout rollout fr_0123456789abcdef in production: running, step 1 of 3 at 10%, next 50% at .* \(in 5m 00s\)/);
  assert.doesNotMatch(line, /guard/);
});

test('a guarded rollout shows what it compares, where its evidence comes from and its latest look', () => {
  const line = rolloutLine({ ...base, guard: { treatment: ['on'], control: ['off'], safe: 'off', look, killedAt: null } }, NOW);
  assert.match(line, /; guarded \(on vs off, router\): pass after 240 looks, 5912 vs 53020 requests, 3 vs 27 failed$/);
  assert.match(rolloutLine({ ...base, guard: { treatment: ['on'], control: ['off'], safe: 'off', look: null, killedAt: null } }, NOW), /guarded \(on vs off\): no look yet$/);
});

test('a rollout killed by its guard says so, with the reason and when', () => {
  const killed = { ...base, status: 'failed' as const, reason: 'killed by its guard: flag new-checkout: on vs off: error-rate: …', nextStepAt: null, finishedAt: '2026-12-04T11:58:00Z', guard: { treatment: ['on'], control: ['off'], safe: 'off' as const, look: { ...look, verdict: 'fail' as const }, killedAt: '2026-12-04T11:58:00Z' } };
  const line = rolloutLine(killed, NOW);
  assert.match(line, /: failed at step 1 of 3 at 10%: killed by its guard: flag new-checkout/);
  assert.match(line, /guarded \(on vs off, router\): killed /);
});
