/**
 * The Store contract for flag rollouts and scheduled changes, on every backend: one rollout in
 * progress per flag and environment (the database says so), the compare-and-set that makes a
 * step happen once (also between two transactions racing for it), what is due, and a step whose
 * transaction rolls back leaving nothing.
 */
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NewFlagRollout } from '../store/flag-rollouts-types.js';
import type { Store } from '../store/types.js';
import { storeLifecycle } from './store.suite.js';

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const rid = () => `fr_${randomBytes(8).toString('hex')}`;
const sid = () => `fs_${randomBytes(8).toString('hex')}`;

function rollout(app: string, over: Partial<NewFlagRollout> = {}): NewFlagRollout {
  return { id: rid(), app, env: 'production', flag: 'checkout', variant: null, steps: [1, 5, 25, 100], everyMs: 60_000, applied: 1, nextStepAt: '2030-01-01T00:01:00.000Z', status: 'running', startedBy: 'user:ana', ...over };
}

export function flagRolloutsStoreSuite(name: string, open: () => Promise<Store>, cleanup: () => Promise<void>): void {
  describe(name, () => {
    const current = storeLifecycle(open, cleanup);
    let store: Store;
    before(() => {
      store = current();
    });

    test('a rollout is stored whole; one in progress per flag and environment, then another once it ended', async () => {
      const app = uid('app');
      const q = store.flags.rollouts;
      const a = rollout(app);
      assert.equal(await q.insertRollout(a), true);
      const got = await q.getRollout(a.id);
      assert.deepEqual(
        got && { steps: got.steps, everyMs: got.everyMs, applied: got.applied, nextStepAt: got.nextStepAt, status: got.status, variant: got.variant, guard: got.guard, startedBy: got.startedBy, reason: got.reason, finishedAt: got.finishedAt },
        { steps: [1, 5, 25, 100], everyMs: 60_000, applied: 1, nextStepAt: '2030-01-01T00:01:00.000Z', status: 'running', variant: null, guard: null, startedBy: 'user:ana', reason: null, finishedAt: null },
      );
      assert.equal(await q.insertRollout(rollout(app)), false, 'a second one in progress is refused by the database');
      assert.equal(await q.insertRollout(rollout(app, { status: 'paused' })), false, 'paused counts as in progress');
      assert.equal(await q.insertRollout(rollout(app, { env: 'staging' })), true, 'another environment is another rollout');
      assert.equal(await q.insertRollout(rollout(app, { flag: 'search' })), true, 'another flag too');
      assert.equal((await q.activeRollout(app, 'production', 'checkout'))?.id, a.id);
      assert.equal(await q.updateRollout(a.id, { status: 'running', applied: 1 }, { status: 'aborted', reason: 'by user:bo', nextStepAt: null, finishedAt: '2030-01-01T00:00:30.000Z' }), true);
      assert.equal(await q.activeRollout(app, 'production', 'checkout'), null);
      const b = rollout(app);
      assert.equal(await q.insertRollout(b), true, 'once it ended, a new one may start');
      assert.deepEqual((await q.listRollouts({ app, env: 'production', flag: 'checkout' })).map((r) => [r.id, r.status]), [[b.id, 'running'], [a.id, 'aborted']], 'newest first');
      assert.deepEqual((await q.listRollouts({ app, active: true })).map((r) => r.flag + '/' + r.env).sort(), ['checkout/production', 'checkout/staging', 'search/production']);
    });

    test('compare and set: a stale step count or status changes nothing; of two transactions racing for one step, one wins', async () => {
      const app = uid('app');
      const q = store.flags.rollouts;
      const r = rollout(app);
      await q.insertRollout(r);
      assert.equal(await q.updateRollout(r.id, { status: 'running', applied: 0 }, { applied: 1 }), false, 'a stale count');
      assert.equal(await q.updateRollout(r.id, { status: 'paused', applied: 1 }, { status: 'running' }), false, 'a stale status');
      assert.equal((await q.getRollout(r.id))?.applied, 1, 'unchanged');
      const claim = () => store.flags.change((tx) => tx.rollouts.updateRollout(r.id, { status: 'running', applied: 1 }, { applied: 2, nextStepAt: '2030-01-01T00:02:00.000Z' }));
      const won = await Promise.all([claim(), claim(), claim()]);
      assert.deepEqual(won.filter(Boolean).length, 1, `exactly one claim wins: ${JSON.stringify(won)}`);
      assert.equal((await q.getRollout(r.id))?.applied, 2);
    });

    test('a claimed step whose transaction fails leaves the rollout as it was', async () => {
      const app = uid('app');
      const r = rollout(app);
      await store.flags.rollouts.insertRollout(r);
      await assert.rejects(
        store.flags.change(async (tx) => {
          assert.equal(await tx.rollouts.updateRollout(r.id, { status: 'running', applied: 1 }, { applied: 2 }), true);
          throw new Error('the flag refused the step');
        }),
        /refused/,
      );
      assert.equal((await store.flags.rollouts.getRollout(r.id))?.applied, 1);
    });

    test('what is due: running rollouts whose next step time has come, pending schedules whose time has come; the earliest of both', async () => {
      const app = uid('app');
      const q = store.flags.rollouts;
      const due = rollout(app, { nextStepAt: '2001-01-01T00:00:05.000Z' });
      const later = rollout(app, { flag: 'later', nextStepAt: '2001-01-01T00:10:00.000Z' });
      const paused = rollout(app, { flag: 'paused', status: 'paused', nextStepAt: null });
      for (const r of [due, later, paused]) await q.insertRollout(r);
      const mine = async (at: string) => (await q.dueRollouts(at)).filter((r) => r.app === app).map((r) => r.id);
      assert.deepEqual(await mine('2001-01-01T00:00:05.000Z'), [due.id]);
      assert.deepEqual(await mine('2001-01-01T00:20:00.000Z'), [due.id, later.id], 'oldest due first; paused never');
      const s = await q.insertSchedule({ id: sid(), app, env: 'production', flag: 'checkout', action: 'percent', percent: 30, at: '2001-01-01T00:00:01.000Z', createdBy: 'user:ana' });
      assert.deepEqual([s.status, s.percent, s.appliedAt], ['pending', 30, null]);
      assert.ok(((await q.nextDue()) ?? '9') <= '2001-01-01T00:00:01.000Z', 'the earliest thing due');
      assert.deepEqual((await q.dueSchedules('2001-01-01T00:00:01.000Z')).filter((x) => x.app === app).map((x) => x.id), [s.id]);
      assert.equal(await q.updateSchedule(s.id, 'pending', { status: 'applied', appliedAt: '2001-01-01T00:00:02.000Z', lateMs: 1000, message: 'late' }), true);
      assert.equal(await q.updateSchedule(s.id, 'pending', { status: 'cancelled', cancelledBy: 'user:bo' }), false, 'applied once: no cancel after');
      const after = await q.getSchedule(s.id);
      assert.deepEqual([after?.status, after?.lateMs, after?.message, after?.cancelledBy], ['applied', 1000, 'late', null]);
      assert.deepEqual((await q.listSchedules({ app, pending: true })).length, 0);
      assert.deepEqual((await q.listSchedules({ app })).map((x) => x.id), [s.id]);
      for (const r of [due, later]) await q.updateRollout(r.id, { status: 'running', applied: 1 }, { status: 'completed', nextStepAt: null });
    });
  });
}
