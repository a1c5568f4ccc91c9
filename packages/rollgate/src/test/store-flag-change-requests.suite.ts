/**
 * The Store contract for flag change requests, on every backend: a request is stored whole (its
 * proposed and base states as JSON), listed newest first by app, environment, flag and status;
 * it leaves `open` once (of several transactions deciding it at once, one wins); a decision whose
 * transaction rolls back leaves it open; the database refuses an action or status it does not know.
 */
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NewFlagChangeRequest } from '../store/flag-change-requests-types.js';
import type { Store } from '../store/types.js';
import { storeLifecycle } from './store.suite.js';

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const cid = () => `cr_${randomBytes(8).toString('hex')}`;

function request(app: string, over: Partial<NewFlagChangeRequest> = {}): NewFlagChangeRequest {
  return {
    id: cid(),
    app,
    env: 'production',
    flag: 'checkout',
    action: 'rollout',
    proposedState: { enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '25', stickiness: 'default', groupId: 'checkout' } }] },
    rolloutPlan: null,
    baseState: { enabled: false, strategies: [] },
    baseRevision: 7,
    reason: 'ship it to a quarter',
    proposedBy: 'user:ana',
    expiresAt: '2030-01-02T00:00:00.000Z',
    ...over,
  };
}

export function flagChangeRequestsStoreSuite(name: string, open: () => Promise<Store>, cleanup: () => Promise<void>): void {
  describe(name, () => {
    const current = storeLifecycle(open, cleanup);
    let store: Store;
    before(() => {
      store = current();
    });

    test('a request is stored whole and listed newest first, by app, environment, flag and status', async () => {
      const app = uid('app');
      const q = store.flags.changeRequests;
      const a = request(app);
      const inserted = await q.insert(a);
      const got = await q.get(a.id);
      assert.deepEqual(got, inserted);
      assert.deepEqual(
        got && { action: got.action, proposedState: got.proposedState, baseState: got.baseState, baseRevision: got.baseRevision, status: got.status, proposedBy: got.proposedBy, expiresAt: got.expiresAt, decidedBy: got.decidedBy, appliedRevision: got.appliedRevision },
        { action: 'rollout', proposedState: a.proposedState, baseState: a.baseState, baseRevision: 7, status: 'open', proposedBy: 'user:ana', expiresAt: '2030-01-02T00:00:00.000Z', decidedBy: null, appliedRevision: null },
      );
      const never = await q.insert(request(app, { flag: 'search', action: 'archive', proposedState: null, baseState: null }));
      assert.equal((await q.get(never.id))?.baseState, null, 'never set there: null, not {}');
      const plan = { steps: [1, 5, 100], everyMs: 600_000, variant: null, guard: false };
      const stepped = await q.insert(request(app, { flag: 'stepped', action: 'steps', rolloutPlan: plan }));
      assert.deepEqual((await q.get(stepped.id))?.rolloutPlan, plan, 'a rollout plan whole');
      await new Promise((r) => setTimeout(r, 5));
      const b = await q.insert(request(app, { env: 'staging' }));
      assert.deepEqual((await q.list({ app })).map((r) => r.id).slice(0, 1), [b.id], 'newest first');
      assert.deepEqual((await q.list({ app, env: 'production' })).map((r) => r.id).sort(), [a.id, never.id, stepped.id].sort());
      assert.deepEqual((await q.list({ app, flag: 'search' })).map((r) => r.id), [never.id]);
      assert.equal(await q.decide(a.id, { status: 'rejected', decidedBy: 'user:bo', decisionReason: 'not now' }), true);
      assert.deepEqual((await q.list({ app, status: 'open' })).map((r) => r.id).sort(), [never.id, b.id, stepped.id].sort());
      const rejected = await q.get(a.id);
      assert.equal(rejected?.status, 'rejected');
      assert.equal(rejected?.decidedBy, 'user:bo');
      assert.equal(rejected?.decisionReason, 'not now');
      assert.ok(rejected?.decidedAt);
      assert.equal(await q.get('cr_0000000000000000'), null);
    });

    test('a request leaves open once: a decided one changes no more, and of transactions racing to decide it one wins', async () => {
      const app = uid('app');
      const q = store.flags.changeRequests;
      const r = await q.insert(request(app));
      const approve = (who: string) => store.flags.change((tx) => tx.changeRequests.decide(r.id, { status: 'approved', decidedBy: who, decisionReason: null, appliedRevision: 8 }));
      const won = await Promise.all([approve('user:bo'), approve('user:cy'), approve('user:di')]);
      assert.equal(won.filter(Boolean).length, 1, `exactly one decision wins: ${JSON.stringify(won)}`);
      const after = await q.get(r.id);
      assert.equal(after?.status, 'approved');
      assert.equal(after?.appliedRevision, 8);
      assert.equal(await q.decide(r.id, { status: 'cancelled', decidedBy: 'user:ana', decisionReason: null }), false, 'decided already');
      assert.equal((await q.get(r.id))?.status, 'approved');
    });

    test('a decision whose transaction fails leaves the request open', async () => {
      const app = uid('app');
      const r = await store.flags.changeRequests.insert(request(app));
      await assert.rejects(
        store.flags.change(async (tx) => {
          assert.equal(await tx.changeRequests.decide(r.id, { status: 'approved', decidedBy: 'user:bo', decisionReason: null, appliedRevision: 1 }), true);
          throw new Error('the state moved since it was proposed');
        }),
        /moved/,
      );
      const after = await store.flags.changeRequests.get(r.id);
      assert.equal(after?.status, 'open');
      assert.equal(after?.decidedBy, null);
    });

    test('the database refuses an action or a status it does not know', async () => {
      const app = uid('app');
      await assert.rejects(store.flags.changeRequests.insert(request(app, { action: 'delete' as never })));
      const r = await store.flags.changeRequests.insert(request(app));
      await assert.rejects(store.flags.changeRequests.decide(r.id, { status: 'merged' as never, decidedBy: 'user:bo', decisionReason: null }));
      assert.equal((await store.flags.changeRequests.get(r.id))?.status, 'open');
    });
  });
}
