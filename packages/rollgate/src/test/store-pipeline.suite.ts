/**
 * The Store contract for pipeline runs (stages, approvals, stage logs) and the notification
 * delivery log, run against every backend. Each test uses its own random names, so tests share
 * one database without seeing each other.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RollgateError } from '../core/errors.js';
import type { PipelineRunRecord, RunStatus } from '../core/pipeline.js';
import { stageKind, type PipelineSpec } from '../core/pipeline-spec.js';
import type { DeliveryAttempt } from '../notify/delivery-log.js';
import type { Notification } from '../notify/types.js';
import type { NewRun, NewStage, Store } from '../store/types.js';
import { rejectsWith, storeLifecycle } from './store.suite.js';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function uid(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/**
 * A spec as the loader produces it. The store keeps whatever it is given, so a literal (cast)
 * keeps this suite independent of the spec schema's details; it exercises what JSON text must
 * keep: key order, unicode, escapes, nesting, numbers, booleans, empty containers.
 */
const SPEC = {
  app: 'web',
  source: { git: { url: 'https://git.example/ü/web.git', branch: 'release/2024-05' } },
  release: { path: 'dist' },
  stages: [
    { name: 'build', run: { command: 'npm ci && npm run build -- --out "dist"\n', cwd: '.', env: { NODE_ENV: 'production', 'ÜBER': 'ß\t"x"' }, timeout: '30m', artifacts: [], retrySafe: false } },
    { name: 'test', needs: [], run: { command: "echo '\\u0000' ✓ 🚀", cwd: 'app/sub', env: {}, timeout: '1h30m', artifacts: ['reports/junit.xml'], retrySafe: true } },
    { name: 'quality', needs: ['build', 'test'], gate: { coverage: { file: 'coverage/lcov.info', minLines: 80.5 } } },
    { name: 'staging', deploy: { env: 'staging' } },
    { name: 'soak', verify: { env: 'staging', duration: '5m', onFailure: 'rollback' } },
    { name: 'approve', approval: { manual: { approvals: 2, roles: ['release-manager', 'sre'], expires: '24h', reasonRequired: true } } },
    { name: 'window', window: { timezone: 'Europe/Berlin', allow: [{ days: ['mon', 'tue'], from: '09:00', to: '17:00' }], freeze: [] } },
    { name: 'production', deploy: { env: 'production', strategy: 'canary' } },
  ],
} as unknown as PipelineSpec;

const STAGES: NewStage[] = SPEC.stages.map((s, index) => ({
  name: s.name,
  index,
  kind: stageKind(s),
}));

function newRun(extra: Partial<NewRun> = {}): NewRun {
  return {
    id: uid('run'),
    pipeline: uid('pipe'),
    app: uid('app'),
    spec: SPEC,
    trigger: 'cli',
    source: { kind: 'upload', commitSha: null, commitTime: null },
    version: null,
    createdBy: 'tester',
    ...extra,
  };
}

function notification(extra: Partial<Notification> = {}): Notification {
  return {
    id: uid('evt'),
    type: 'deployment.succeeded',
    sourceType: 'deployment.finished',
    app: 'web',
    env: 'production',
    version: '1.4.2',
    previousVersion: null,
    outcome: 'succeeded',
    summary: 'web 1.4.2 deployed to production ✓',
    link: null,
    at: '2024-05-01T10:00:00.000Z',
    deploymentId: 'dep-1',
    subjectId: null,
    data: { status: 'succeeded', nested: { a: [1, null, 'ü'] } },
    ...extra,
  };
}

function attempt(extra: Partial<DeliveryAttempt> = {}): DeliveryAttempt {
  return {
    deliveryId: uid('dlv'),
    attempt: 1,
    channel: uid('ch'),
    kind: 'webhook',
    target: 'http://127.0.0.1:9/in?***',
    notification: notification(),
    at: '2024-05-01T10:00:01.000Z',
    outcome: 'delivered',
    httpStatus: 200,
    error: null,
    durationMs: 12,
    retryInMs: null,
    nextAttemptAt: null,
    resendOf: null,
    ...extra,
  };
}

export function pipelineStoreSuite(name: string, open: () => Promise<Store>, cleanup: () => Promise<void>): void {
  describe(name, () => {
    const current = storeLifecycle(open, cleanup);
    let store: Store;
    before(() => {
      store = current();
    });

    test('createRun: the run starts queued with its stages pending; every field round-trips; the spec JSON exactly', async () => {
      const input = newRun({
        trigger: 'git-push',
        source: { kind: 'git', url: 'https://git.example/web.git', ref: 'main', commitSha: 'a'.repeat(40), commitTime: '2024-04-30T08:00:00.000Z' },
        version: '1.4.2',
      });
      const run = await store.createRun(input, STAGES);
      assert.deepEqual(
        { ...run, seq: undefined, createdAt: undefined, updatedAt: undefined },
        {
          ...input,
          seq: undefined,
          status: 'queued',
          message: 'queued',
          releaseId: null,
          releaseVersion: null,
          cancelRequested: false,
          startedAt: null,
          finishedAt: null,
          createdAt: undefined,
          updatedAt: undefined,
        },
      );
      assert.equal(typeof run.seq, 'number');
      assert.match(run.createdAt, ISO_UTC);
      assert.equal(run.updatedAt, run.createdAt);
      const got = await store.getRun(run.id);
      assert.deepEqual(got, run);
      // Exactly: same text once serialised again (key order, escapes and unicode kept).
      assert.equal(JSON.stringify(got?.spec), JSON.stringify(SPEC));
      assert.equal(await store.getRun(uid('run')), null);

      const stages = await store.listStages(run.id);
      assert.deepEqual(
        stages.map((s) => ({ ...s, updatedAt: undefined })),
        STAGES.map((s) => ({
          runId: run.id,
          name: s.name,
          index: s.index,
          kind: s.kind,
          status: 'pending',
          attempt: 0,
          message: '',
          startedAt: null,
          finishedAt: null,
          waitingSince: null,
          result: null,
          deploymentId: null,
          updatedAt: undefined,
        })),
      );
      assert.deepEqual(await store.listStages(uid('run')), []);
    });

    test('createRun: a taken id is a conflict and changes nothing; a run may have no stages', async () => {
      const first = await store.createRun(newRun(), STAGES.slice(0, 2));
      await rejectsWith(store.createRun(newRun({ id: first.id }), STAGES), 'conflict', new RegExp(first.id));
      assert.equal((await store.listStages(first.id)).length, 2, 'the failed create added no stages');
      assert.deepEqual(await store.getRun(first.id), first);

      // A stage named twice rolls the whole run back: one transaction.
      const dup = newRun();
      await rejectsWith(store.createRun(dup, [STAGES[0]!, { ...STAGES[1]!, name: STAGES[0]!.name }]), 'invalid_input', /twice/);
      assert.equal(await store.getRun(dup.id), null);

      const bare = await store.createRun(newRun(), []);
      assert.deepEqual(await store.listStages(bare.id), []);
    });

    test('listRuns: newest first, filtered by pipeline, app and status, limited', async () => {
      const pipeline = uid('pipe');
      const app = uid('app');
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await store.createRun(newRun({ pipeline, app }), STAGES.slice(0, 1))).id);
      const other = await store.createRun(newRun({ app }), []);
      await store.updateRun(ids[1]!, { status: 'succeeded' });
      await store.updateRun(ids[2]!, { status: 'failed' });
      const list = (f: Parameters<Store['listRuns']>[0]) => store.listRuns(f).then((l) => l.map((r) => r.id));

      assert.deepEqual(await list({ pipeline }), [...ids].reverse());
      assert.deepEqual(await list({ pipeline, limit: 2 }), [ids[3], ids[2]]);
      assert.deepEqual(await list({ app }), [other.id, ...[...ids].reverse()]);
      assert.deepEqual(await list({ pipeline, status: 'succeeded' }), [ids[1]]);
      assert.deepEqual(await list({ app, status: 'queued' }), [other.id, ids[3], ids[0]]);
      assert.deepEqual(await list({ pipeline: uid('none') }), []);
      const seqs = (await store.listRuns({ pipeline })).map((r) => r.seq);
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! < seqs[i - 1]!, 'seq orders the queue');
      assert.equal((await store.listRuns({ limit: 1 })).length, 1);
    });

    test('listActiveRuns: queued, running and waiting runs, oldest first', async () => {
      const pipeline = uid('pipe');
      const statuses: RunStatus[] = ['waiting', 'succeeded', 'queued', 'failed', 'running', 'cancelled', 'queued'];
      const runs: PipelineRunRecord[] = [];
      for (const status of statuses) {
        const r = await store.createRun(newRun({ pipeline }), []);
        runs.push(status === 'queued' ? r : await store.updateRun(r.id, { status }));
      }
      const active = (await store.listActiveRuns()).filter((r) => r.pipeline === pipeline);
      assert.deepEqual(
        active.map((r) => [r.id, r.status]),
        runs.filter((r) => ['queued', 'running', 'waiting'].includes(r.status)).map((r) => [r.id, r.status]),
      );
      const all = await store.listActiveRuns();
      for (let i = 1; i < all.length; i++) assert.ok(all[i]!.seq > all[i - 1]!.seq, 'oldest first');
    });

    test('updateRun patches only what is given (nulls included); not_found for unknown ids', async () => {
      const run = await store.createRun(newRun(), STAGES.slice(0, 1));
      const a = await store.updateRun(run.id, { status: 'running', message: 'building', startedAt: '2024-05-01T10:00:00.000Z' });
      assert.equal(a.status, 'running');
      assert.equal(a.message, 'building');
      assert.equal(a.startedAt, '2024-05-01T10:00:00.000Z');
      assert.equal(a.cancelRequested, false);
      assert.ok(a.updatedAt >= run.updatedAt);

      const b = await store.updateRun(run.id, { releaseId: 'rel-1', releaseVersion: '1.4.2', cancelRequested: true });
      assert.deepEqual({ ...b, updatedAt: undefined }, { ...a, releaseId: 'rel-1', releaseVersion: '1.4.2', cancelRequested: true, updatedAt: undefined });
      assert.deepEqual(await store.getRun(run.id), b);

      const c = await store.updateRun(run.id, { status: 'cancelled', finishedAt: '2024-05-01T10:09:00.000Z', releaseId: null, releaseVersion: null, startedAt: null, cancelRequested: false });
      assert.deepEqual(
        [c.status, c.finishedAt, c.releaseId, c.releaseVersion, c.startedAt, c.cancelRequested, c.message, c.createdAt, c.seq],
        ['cancelled', '2024-05-01T10:09:00.000Z', null, null, null, false, 'building', run.createdAt, run.seq],
      );
      assert.deepEqual(await store.getRun(run.id), c);

      // A git source learns its commit once checked out.
      const source = { kind: 'git' as const, url: 'https://git.example/shop.git', ref: 'main', commitSha: 'a'.repeat(40), commitTime: '2024-05-01T09:59:00+02:00' };
      const d = await store.updateRun(run.id, { source });
      assert.deepEqual(d.source, source);
      assert.deepEqual((await store.getRun(run.id))?.source, source);

      await rejectsWith(store.updateRun(uid('run'), { message: 'x' }), 'not_found', /pipeline run run-/);
    });

    test('updateStage: patches round-trip (JSON result, nulls); stages keep pipeline order; not_found for unknown ones', async () => {
      const run = await store.createRun(newRun(), STAGES);
      const result = { exitCode: 0, gate: { passed: true, score: 0.875, notes: ['ü', null] }, approvals: [] };
      const a = await store.updateStage(run.id, 'quality', {
        status: 'succeeded',
        attempt: 1,
        message: 'coverage 87.5% ≥ 80.5%',
        startedAt: '2024-05-01T10:00:00.000Z',
        finishedAt: '2024-05-01T10:01:00.000Z',
        result,
      });
      assert.deepEqual({ ...a, updatedAt: undefined }, {
        runId: run.id,
        name: 'quality',
        index: 2,
        kind: 'gate',
        status: 'succeeded',
        attempt: 1,
        message: 'coverage 87.5% ≥ 80.5%',
        startedAt: '2024-05-01T10:00:00.000Z',
        finishedAt: '2024-05-01T10:01:00.000Z',
        waitingSince: null,
        result,
        deploymentId: null,
        updatedAt: undefined,
      });
      assert.match(a.updatedAt, ISO_UTC);

      const w = await store.updateStage(run.id, 'staging', { status: 'waiting', waitingSince: '2024-05-01T10:02:00.000Z', deploymentId: 'dep-9', result: 7 });
      assert.deepEqual([w.status, w.waitingSince, w.deploymentId, w.result, w.attempt], ['waiting', '2024-05-01T10:02:00.000Z', 'dep-9', 7, 0]);
      // Explicit nulls clear; an absent field is kept.
      const x = await store.updateStage(run.id, 'staging', { waitingSince: null, deploymentId: null, result: null });
      assert.deepEqual([x.status, x.waitingSince, x.deploymentId, x.result], ['waiting', null, null, null]);
      const y = await store.updateStage(run.id, 'quality', { message: 'again' });
      assert.deepEqual(y.result, result, 'a patch without result keeps it');

      const stages = await store.listStages(run.id);
      assert.deepEqual(stages.map((s) => s.name), STAGES.map((s) => s.name));
      assert.deepEqual(stages[2], y);
      assert.deepEqual(stages[3], x);

      await rejectsWith(store.updateStage(run.id, 'nope', { message: 'x' }), 'not_found', /stage "nope"/);
      await rejectsWith(store.updateStage(uid('run'), 'build', { message: 'x' }), 'not_found');
    });

    test('approvals: oldest first, filtered; one decision per actor and attempt; unknown stage is not_found', async () => {
      const run = await store.createRun(newRun(), STAGES);
      const a1 = await store.addApproval({ runId: run.id, stage: 'approve', attempt: 1, actor: 'alice', decision: 'approve', reason: 'looks good ✓' });
      assert.deepEqual({ ...a1, at: undefined }, { runId: run.id, stage: 'approve', attempt: 1, actor: 'alice', decision: 'approve', reason: 'looks good ✓', at: undefined });
      assert.match(a1.at, ISO_UTC);
      const b1 = await store.addApproval({ runId: run.id, stage: 'approve', attempt: 1, actor: 'bob', decision: 'reject', reason: null });
      const a2 = await store.addApproval({ runId: run.id, stage: 'approve', attempt: 2, actor: 'alice', decision: 'approve', reason: null });
      const other = await store.addApproval({ runId: run.id, stage: 'window', attempt: 1, actor: 'alice', decision: 'approve', reason: null });

      const err = await rejectsWith(
        store.addApproval({ runId: run.id, stage: 'approve', attempt: 1, actor: 'alice', decision: 'reject', reason: 'changed my mind' }),
        'conflict',
      );
      assert.equal(err.message, `alice already decided on stage approve of run ${run.id}`);
      assert.equal(err.status, 409);

      assert.deepEqual(await store.listApprovals(run.id), [a1, b1, a2, other]);
      assert.deepEqual(await store.listApprovals(run.id, 'approve'), [a1, b1, a2]);
      assert.deepEqual(await store.listApprovals(run.id, 'approve', 1), [a1, b1]);
      assert.deepEqual(await store.listApprovals(run.id, 'approve', 3), []);
      assert.deepEqual(await store.listApprovals(uid('run')), []);

      await rejectsWith(store.addApproval({ runId: run.id, stage: 'nope', attempt: 1, actor: 'alice', decision: 'approve', reason: null }), 'not_found', /stage "nope"/);
      await rejectsWith(store.addApproval({ runId: uid('run'), stage: 'approve', attempt: 1, actor: 'alice', decision: 'approve', reason: null }), 'not_found');
    });

    test('approvals under concurrency: the same actor deciding twice at once, exactly one wins', async () => {
      const run = await store.createRun(newRun(), STAGES);
      for (let round = 1; round <= 5; round++) {
        const results = await Promise.allSettled([
          store.addApproval({ runId: run.id, stage: 'approve', attempt: round, actor: 'carol', decision: 'approve', reason: null }),
          store.addApproval({ runId: run.id, stage: 'approve', attempt: round, actor: 'carol', decision: 'reject', reason: 'no' }),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1, `round ${round}: exactly one must succeed`);
        const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        assert.ok(lost?.reason instanceof RollgateError, String(lost?.reason));
        assert.equal(lost.reason.code, 'conflict');
        assert.equal((await store.listApprovals(run.id, 'approve', round)).length, 1);
      }
    });

    test('stage logs: order, afterId paging, stage and attempt filters', async () => {
      const run = await store.createRun(newRun(), STAGES);
      assert.deepEqual(await store.appendStageLogs(run.id, 'build', 1, []), []);
      const b1 = await store.appendStageLogs(run.id, 'build', 1, [
        { stream: 'stdout', text: 'npm ci', at: '2024-05-01T10:00:00.000Z' },
        { stream: 'stderr', text: 'warn: ü "quoted"\ttab', at: '2024-05-01T10:00:00.001Z' },
        { stream: 'system', text: '', at: '2024-05-01T10:00:00.002Z' },
      ]);
      assert.deepEqual(
        b1.map((l) => ({ ...l, id: undefined })),
        [
          { id: undefined, runId: run.id, stage: 'build', attempt: 1, stream: 'stdout', text: 'npm ci', at: '2024-05-01T10:00:00.000Z' },
          { id: undefined, runId: run.id, stage: 'build', attempt: 1, stream: 'stderr', text: 'warn: ü "quoted"\ttab', at: '2024-05-01T10:00:00.001Z' },
          { id: undefined, runId: run.id, stage: 'build', attempt: 1, stream: 'system', text: '', at: '2024-05-01T10:00:00.002Z' },
        ],
      );
      const t1 = await store.appendStageLogs(run.id, 'test', 1, [{ stream: 'stdout', text: 'ok 1', at: '2024-05-01T10:00:01.000Z' }]);
      const b2 = await store.appendStageLogs(run.id, 'build', 2, [{ stream: 'stdout', text: 'retry', at: '2024-05-01T10:00:02.000Z' }]);
      const other = await store.createRun(newRun(), STAGES);
      await store.appendStageLogs(other.id, 'build', 1, [{ stream: 'stdout', text: 'elsewhere', at: '2024-05-01T10:00:00.000Z' }]);

      const all = [...b1, ...t1, ...b2];
      for (let i = 1; i < all.length; i++) assert.ok(all[i]!.id > all[i - 1]!.id, 'ids increase in append order');
      assert.deepEqual(await store.listStageLogs(run.id, {}), all);
      assert.deepEqual(await store.listStageLogs(run.id, { afterId: b1[1]!.id }), all.slice(2));
      assert.deepEqual(await store.listStageLogs(run.id, { afterId: b1[0]!.id, limit: 2 }), all.slice(1, 3));
      assert.deepEqual(await store.listStageLogs(run.id, { stage: 'build' }), [...b1, ...b2]);
      assert.deepEqual(await store.listStageLogs(run.id, { stage: 'build', attempt: 2 }), b2);
      assert.deepEqual(await store.listStageLogs(run.id, { attempt: 1 }), [...b1, ...t1]);
      assert.deepEqual(await store.listStageLogs(run.id, { afterId: b2[0]!.id }), []);
      assert.deepEqual(await store.listStageLogs(uid('run'), {}), []);
    });

    test('stage logs: a 5,000-line batch keeps its order; reads default to 1,000 lines; concurrent appends all land', async () => {
      const run = await store.createRun(newRun(), STAGES);
      const lines = Array.from({ length: 5_000 }, (_, i) => ({
        stream: (i % 7 === 0 ? 'stderr' : 'stdout') as 'stderr' | 'stdout',
        text: `line ${i} ${'x'.repeat(i % 50)}`,
        at: new Date(Date.UTC(2024, 4, 1, 10, 0, 0, i)).toISOString(),
      }));
      const out = await store.appendStageLogs(run.id, 'build', 1, lines);
      assert.equal(out.length, 5_000);
      assert.deepEqual(out.map((l) => [l.stream, l.text, l.at]), lines.map((l) => [l.stream, l.text, l.at]));
      for (let i = 1; i < out.length; i++) assert.ok(out[i]!.id > out[i - 1]!.id, `ids increase at ${i}`);

      const first = await store.listStageLogs(run.id, {});
      assert.equal(first.length, 1_000, 'default limit');
      assert.deepEqual(first, out.slice(0, 1_000));
      const paged = [];
      for (let after = 0; ; ) {
        const page = await store.listStageLogs(run.id, { afterId: after, limit: 1_500 });
        if (page.length === 0) break;
        paged.push(...page);
        after = page[page.length - 1]!.id;
      }
      assert.deepEqual(paged, out);

      // Two stages writing side by side: every line lands once, each stage's lines in order.
      const mk = (stage: string) => Array.from({ length: 600 }, (_, i) => ({ stream: 'stdout' as const, text: `${stage} ${i}`, at: '2024-05-01T11:00:00.000Z' }));
      await Promise.all(['test', 'quality'].map((s) => store.appendStageLogs(run.id, s, 1, mk(s))));
      for (const s of ['test', 'quality']) {
        const got = await store.listStageLogs(run.id, { stage: s, limit: 10_000 });
        assert.deepEqual(got.map((l) => l.text), mk(s).map((l) => l.text));
      }
    });

    test('deliveries: every field round-trips (nulls included); newest first; filters and limit', async () => {
      const channel = uid('ch');
      const n1 = notification();
      const n2 = notification({ type: 'incident.opened', app: null, env: null, version: null, outcome: null, deploymentId: null, subjectId: 'inc-1', data: {} });
      const d1 = uid('dlv');
      const d2 = uid('dlv');
      const rows: DeliveryAttempt[] = [
        attempt({ deliveryId: d1, channel, notification: n1, outcome: 'retrying', httpStatus: 503, error: 'HTTP 503', durationMs: 40, retryInMs: 1500, nextAttemptAt: '2024-05-01T10:00:02.500Z' }),
        attempt({ deliveryId: d2, channel, notification: n2, kind: 'slack', target: 'https://hooks.slack.test/***', outcome: 'dropped', attempt: 0, httpStatus: null, error: 'dropped: queue full', durationMs: 0 }),
        attempt({ deliveryId: d1, channel, notification: n1, attempt: 2, at: '2024-05-01T10:00:03.000Z', outcome: 'delivered' }),
        attempt({ deliveryId: uid('dlv'), channel, notification: n1, resendOf: d1, kind: 'cdevents', outcome: 'failed', httpStatus: 400, error: 'HTTP 400; not retried' }),
      ];
      for (const r of rows) await store.recordDelivery(r);
      const newest = [...rows].reverse();

      assert.deepEqual(await store.listDeliveries({ channel }), newest);
      assert.deepEqual(await store.listDeliveries({ channel, limit: 2 }), newest.slice(0, 2));
      assert.deepEqual(await store.listDeliveries({ deliveryId: d1 }), [rows[2], rows[0]]);
      assert.deepEqual(await store.listDeliveries({ deliveryId: d1, limit: 1 }), [rows[2]]);
      assert.deepEqual(await store.listDeliveries({ channel, outcome: 'dropped' }), [rows[1]]);
      assert.deepEqual(await store.listDeliveries({ notificationId: n1.id }), [rows[3], rows[2], rows[0]]);
      assert.deepEqual(await store.listDeliveries({ notificationId: n2.id, outcome: 'dropped' }), [rows[1]]);
      assert.deepEqual(await store.listDeliveries({ notificationId: n2.id, outcome: 'delivered' }), []);
      assert.deepEqual(await store.listDeliveries({ deliveryId: uid('dlv') }), []);
    });

    test('deliveries: at most 100 by default', async () => {
      const channel = uid('ch');
      for (let i = 0; i < 105; i++) await store.recordDelivery(attempt({ channel, attempt: i + 1 }));
      const list = await store.listDeliveries({ channel });
      assert.equal(list.length, 100);
      assert.deepEqual(list.map((a) => a.attempt), Array.from({ length: 100 }, (_, i) => 105 - i));
    });
  });
}
