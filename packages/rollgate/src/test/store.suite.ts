/**
 * The Store contract, run against every backend (SQLite file, PostgreSQL). Each test uses
 * its own app/environment names, so tests share one database without seeing each other.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentRecord, DeploymentState, DeploymentStatus, EventRecord, ReleaseRecord } from '../core/domain.js';
import { RollgateError } from '../core/errors.js';
import type { ChaosRecord, NewIncident } from '../core/incidents.js';
import { StrategySpec } from '../core/spec.js';
import type { Store } from '../store/types.js';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

type NewDeployment = Omit<DeploymentRecord, 'createdAt' | 'updatedAt'>;

function uid(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

function state(overrides: Partial<DeploymentState> = {}): DeploymentState {
  return {
    stepIndex: 0,
    stepStartedAt: '2024-05-01T10:00:00.000Z',
    promoteRequested: false,
    promoteFull: false,
    pausedByUser: false,
    abortRequested: false,
    revert: null,
    skipAnalysis: false,
    analysis: null,
    scaleDownAt: null,
    oldScaledDown: false,
    lastReady: 0,
    lastProgressAt: '2024-05-01T10:00:00.000Z',
    ...overrides,
  };
}

const CANARY: StrategySpec = StrategySpec.parse({
  canary: {
    steps: [{ setWeight: 20 }, { pause: {} }, { setHeaderRoute: { header: 'x-beta', value: 'ü' } }, { setWeight: 100 }],
    scaleDownDelay: '30s',
  },
});

export async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<RollgateError> {
  let err: unknown;
  await assert.rejects(p, (e) => {
    err = e;
    return true;
  });
  assert.ok(err instanceof RollgateError, `expected a RollgateError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (re) assert.match(err.message, re);
  return err;
}

/** Opens the store before a suite's tests and closes it (then cleans up) after them. */
export function storeLifecycle(open: () => Promise<Store>, cleanup: () => Promise<void>): () => Store {
  let store: Store | undefined;
  before(async () => {
    store = await open();
  });
  after(async () => {
    try {
      await store?.close();
    } finally {
      await cleanup();
    }
  });
  return () => store!;
}

export function storeSuite(name: string, open: () => Promise<Store>, cleanup: () => Promise<void>): void {
  describe(name, () => {
    const current = storeLifecycle(open, cleanup);
    let store: Store;
    before(() => {
      store = current();
    });

    /** A fresh app and environment, with two releases. */
    async function service(): Promise<{ app: string; env: string; r1: ReleaseRecord; r2: ReleaseRecord }> {
      const app = uid('app');
      const env = uid('env');
      await store.upsertApp(app, { run: 'node server.js' });
      await store.upsertEnvironment(env, { listen: 8080 });
      const r1 = await store.createRelease(release(app, '1.0.0'));
      const r2 = await store.createRelease(release(app, '2.0.0'));
      return { app, env, r1, r2 };
    }

    function release(app: string, version: string, contentHash = `sha256:${version}`): Omit<ReleaseRecord, 'createdAt' | 'prunedAt'> {
      return { id: uid('rel'), app, version, contentHash, artifactDir: `/data/releases/${app}/${version}`, commitSha: null, commitTime: null, createdBy: 'tester' };
    }

    function deployment(app: string, env: string, r: ReleaseRecord, status: DeploymentStatus = 'pending', extra: Partial<NewDeployment> = {}): NewDeployment {
      return {
        id: uid('dep'),
        app,
        env,
        kind: 'deploy',
        releaseId: r.id,
        version: r.version,
        previousReleaseId: null,
        previousVersion: null,
        strategy: CANARY,
        status,
        state: state(),
        message: 'waiting',
        requestedBy: 'tester',
        startedAt: null,
        finishedAt: null,
        ...extra,
      };
    }

    test('migrations are idempotent: a second open and migrate() change nothing', async () => {
      await store.setSetting('suite.migrate', 'kept');
      const second = await open();
      try {
        await second.migrate();
        await second.migrate();
        assert.equal(second.dialect, store.dialect);
        assert.equal(await second.getSetting('suite.migrate'), 'kept');
      } finally {
        await second.close();
      }
      await store.migrate();
      assert.equal(await store.getSetting('suite.migrate'), 'kept');
    });

    test('settings: missing is null, set upserts', async () => {
      const key = uid('key');
      assert.equal(await store.getSetting(key), null);
      await store.setSetting(key, 'one');
      assert.equal(await store.getSetting(key), 'one');
      await store.setSetting(key, 'two ✓');
      assert.equal(await store.getSetting(key), 'two ✓');
    });

    test('apps and environments: upsert, get, list; spec JSON round-trips', async () => {
      const app = uid('app');
      const spec = { run: 'node s.js', replicas: 3, env: { A: '1', 'Ü': 'ß' }, nested: { a: [1, null, { b: true }] }, none: null };
      const created = await store.upsertApp(app, spec);
      assert.equal(created.name, app);
      assert.deepEqual(created.spec, spec);
      assert.match(created.createdAt, ISO_UTC);
      assert.deepEqual(await store.getApp(app), created);
      assert.equal(await store.getApp(uid('missing')), null);

      const updated = await store.upsertApp(app, { run: 'other' });
      assert.deepEqual(updated.spec, { run: 'other' });
      assert.equal(updated.createdAt, created.createdAt, 'createdAt survives an upsert');
      assert.ok(updated.updatedAt >= created.updatedAt);

      const envA = uid('a-env');
      const envB = uid('b-env');
      await store.upsertEnvironment(envB, { listen: 9000 });
      await store.upsertEnvironment(envA, { listen: '127.0.0.1:9001', config: {} });
      assert.deepEqual((await store.getEnvironment(envA))?.spec, { listen: '127.0.0.1:9001', config: {} });
      const names = (await store.listEnvironments()).map((e) => e.name);
      assert.ok(names.indexOf(envA) >= 0 && names.indexOf(envA) < names.indexOf(envB), 'environments are listed by name');
      assert.ok((await store.listApps()).some((a) => a.name === app));
    });

    test('releases: round-trip, by version, newest first, immutable', async () => {
      const app = uid('app');
      await store.upsertApp(app, {});
      const withCommit = { ...release(app, '1.0.0'), commitSha: 'a'.repeat(40), commitTime: '2024-04-30T08:00:00.000Z' };
      const r1 = await store.createRelease(withCommit);
      assert.deepEqual({ ...r1, createdAt: undefined }, { ...withCommit, createdAt: undefined, prunedAt: null });
      assert.match(r1.createdAt, ISO_UTC);
      assert.deepEqual(await store.getRelease(r1.id), r1);
      assert.deepEqual(await store.getReleaseByVersion(app, '1.0.0'), r1);
      assert.equal(await store.getReleaseByVersion(app, '9.9.9'), null);
      assert.equal(await store.getRelease(uid('nope')), null);

      // Same content again (a retried deploy): the existing release, not a new one.
      const again = await store.createRelease({ ...release(app, '1.0.0'), contentHash: r1.contentHash });
      assert.deepEqual(again, r1);
      // Other content under the same version: refused.
      const err = await rejectsWith(store.createRelease(release(app, '1.0.0', 'sha256:other')), 'conflict', /immutable.*new version/);
      assert.equal(err.status, 409);
      // An id already taken by another release: refused.
      await rejectsWith(store.createRelease({ ...release(app, '1.0.1'), id: r1.id }), 'conflict', new RegExp(r1.id));
      // A release of an app the store does not know.
      await rejectsWith(store.createRelease(release(uid('ghost'), '1.0.0')), 'not_found');

      const r2 = await store.createRelease(release(app, '2.0.0'));
      const r3 = await store.createRelease(release(app, '1.5.0'));
      assert.deepEqual((await store.listReleases(app)).map((r) => r.id), [r3.id, r2.id, r1.id]);
      assert.deepEqual((await store.listReleases(app, 2)).map((r) => r.id), [r3.id, r2.id]);
      assert.deepEqual(await store.listReleases(uid('none')), []);
    });

    test('releases: pruning marks the record once and keeps it listed; restoring clears the mark', async () => {
      const app = uid('app');
      await store.upsertApp(app, {});
      const r = await store.createRelease(release(app, '1.0.0'));
      assert.equal(await store.markReleasePruned(r.id), true);
      assert.equal(await store.markReleasePruned(r.id), false, 'a second prune (another replica) does nothing');
      assert.equal(await store.markReleasePruned(uid('nope')), false);
      const pruned = await store.getRelease(r.id);
      assert.match(pruned?.prunedAt ?? '', ISO_UTC);
      assert.deepEqual((await store.listReleases(app)).map((x) => [x.id, x.prunedAt !== null]), [[r.id, true]]);
      const back = await store.restoreRelease(r.id, '/data/releases/elsewhere');
      assert.equal(back.prunedAt, null);
      assert.equal(back.artifactDir, '/data/releases/elsewhere');
    });

    test('deployments: every field round-trips, nulls included', async () => {
      const { app, env, r1, r2 } = await service();
      const input = deployment(app, env, r2, 'progressing', {
        kind: 'rollback',
        previousReleaseId: r1.id,
        previousVersion: r1.version,
        state: state({ stepIndex: 2, scaleDownAt: '2024-05-01T10:05:00.000Z', promoteRequested: true }),
        startedAt: '2024-05-01T10:00:01.000Z',
      });
      const created = await store.createDeployment(input);
      assert.deepEqual({ ...created, createdAt: undefined, updatedAt: undefined }, { ...input, createdAt: undefined, updatedAt: undefined });
      assert.match(created.createdAt, ISO_UTC);
      assert.match(created.updatedAt, ISO_UTC);
      assert.deepEqual(await store.getDeployment(created.id), created);
      assert.equal(await store.getDeployment(uid('dep')), null);

      const plain = await store.createDeployment(deployment(app, uid('other-env-not-known'), r1)).catch((e: unknown) => e);
      assert.ok(plain instanceof RollgateError && plain.code === 'not_found', 'an unknown environment is refused');
    });

    test('updateDeployment patches only what is given, and not_found for unknown ids', async () => {
      const { app, env, r1 } = await service();
      const d = await store.createDeployment(deployment(app, env, r1));
      const a = await store.updateDeployment(d.id, { message: 'step 1' });
      assert.equal(a.message, 'step 1');
      assert.equal(a.status, 'pending');
      assert.deepEqual(a.state, d.state);
      assert.ok(a.updatedAt >= d.updatedAt);

      const next = state({ stepIndex: 1, pausedByUser: true, revert: { status: 'aborted', reason: 'user asked', at: '2024-05-01T10:00:01.000Z', keepCandidate: false }, lastReady: 3 });
      const b = await store.updateDeployment(d.id, { status: 'paused', state: next, startedAt: '2024-05-01T10:00:00.000Z' });
      assert.equal(b.status, 'paused');
      assert.deepEqual(b.state, next);
      assert.equal(b.message, 'step 1');
      assert.equal(b.startedAt, '2024-05-01T10:00:00.000Z');
      assert.deepEqual(await store.getDeployment(d.id), b);

      const c = await store.updateDeployment(d.id, { status: 'succeeded', finishedAt: '2024-05-01T10:09:00.000Z', startedAt: null });
      assert.equal(c.finishedAt, '2024-05-01T10:09:00.000Z');
      assert.equal(c.startedAt, null);
      assert.equal(c.createdAt, d.createdAt);

      await rejectsWith(store.updateDeployment(uid('dep'), { message: 'x' }), 'not_found');
    });

    test('one active deployment per service; finished ones do not block', async () => {
      const { app, env, r1, r2 } = await service();
      const first = await store.createDeployment(deployment(app, env, r1, 'pending'));
      const err = await rejectsWith(store.createDeployment(deployment(app, env, r2)), 'deployment_in_progress');
      assert.equal(err.status, 409);
      assert.deepEqual(err.details, { deploymentId: first.id });
      assert.ok(err.message.includes(first.id) && err.message.includes('(pending)') && err.message.includes(`rollgate abort ${app} --env ${env}`), err.message);

      // Another environment of the same app is another service.
      const env2 = uid('env');
      await store.upsertEnvironment(env2, {});
      const other = await store.createDeployment(deployment(app, env2, r1, 'progressing'));
      assert.equal((await store.getActiveDeployment(app, env))?.id, first.id);
      assert.equal((await store.getActiveDeployment(app, env2))?.id, other.id);
      const active = (await store.listActiveDeployments()).map((d) => d.id);
      assert.ok(active.includes(first.id) && active.includes(other.id));

      // Paused still counts as active.
      await store.updateDeployment(first.id, { status: 'paused' });
      await rejectsWith(store.createDeployment(deployment(app, env, r2)), 'deployment_in_progress', /\(paused\)/);

      for (const end of ['succeeded', 'failed', 'aborted', 'rolled_back'] as const) {
        const current = await store.getActiveDeployment(app, env);
        assert.ok(current);
        await store.updateDeployment(current.id, { status: end, finishedAt: new Date().toISOString() });
        assert.equal(await store.getActiveDeployment(app, env), null);
        assert.ok(!(await store.listActiveDeployments()).some((d) => d.id === current.id));
        await store.createDeployment(deployment(app, env, r2, 'progressing'));
      }

      // Re-activating a finished deployment while another is active is refused the same way.
      const blocking = await store.getActiveDeployment(app, env);
      assert.ok(blocking);
      await rejectsWith(store.updateDeployment(first.id, { status: 'progressing' }), 'deployment_in_progress', new RegExp(blocking.id));
      assert.equal((await store.getDeployment(first.id))?.status, 'succeeded');
    });

    test('a retried createDeployment with the same id returns the same deployment', async () => {
      const { app, env, r1, r2 } = await service();
      const input = deployment(app, env, r1);
      const d = await store.createDeployment(input);
      assert.deepEqual(await store.createDeployment(input), d);
      await store.updateDeployment(d.id, { status: 'succeeded' });
      await rejectsWith(store.createDeployment({ ...deployment(app, env, r2), id: d.id }), 'conflict', new RegExp(d.id));
    });

    test('concurrent createDeployment for one service: exactly one wins', async () => {
      const { app, env, r1 } = await service();
      const inputs = Array.from({ length: 10 }, () => deployment(app, env, r1));
      const results = await Promise.allSettled(inputs.map((d) => store.createDeployment(d)));
      const won = results.filter((r): r is PromiseFulfilledResult<DeploymentRecord> => r.status === 'fulfilled');
      assert.equal(won.length, 1, `exactly one must succeed, got ${won.length}`);
      const winner = won[0]!.value;
      for (const r of results) {
        if (r.status === 'fulfilled') continue;
        assert.ok(r.reason instanceof RollgateError, String(r.reason));
        assert.equal(r.reason.code, 'deployment_in_progress', r.reason.message);
        assert.deepEqual(r.reason.details, { deploymentId: winner.id });
      }
      const all = await store.listDeployments({ app, env });
      assert.deepEqual(all.map((d) => d.id), [winner.id]);
    });

    test('listDeployments: newest first, filtered by app and env, limited', async () => {
      const { app, env, r1, r2 } = await service();
      const env2 = uid('env');
      await store.upsertEnvironment(env2, {});
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const d = await store.createDeployment(deployment(app, env, i % 2 ? r2 : r1, 'succeeded'));
        ids.push(d.id);
      }
      const elsewhere = await store.createDeployment(deployment(app, env2, r1, 'failed'));
      assert.deepEqual((await store.listDeployments({ app, env })).map((d) => d.id), [...ids].reverse());
      assert.deepEqual((await store.listDeployments({ app, env, limit: 2 })).map((d) => d.id), [ids[3], ids[2]]);
      assert.deepEqual((await store.listDeployments({ app })).map((d) => d.id), [elsewhere.id, ...[...ids].reverse()]);
      assert.deepEqual((await store.listDeployments({ env: env2 })).map((d) => d.id), [elsewhere.id]);
      const latest = await store.listDeployments({ limit: 1 });
      assert.equal(latest.length, 1);
    });

    test('deployment timeline: ordered, JSON data and nulls, not_found for unknown deployment', async () => {
      const { app, env, r1 } = await service();
      const d = await store.createDeployment(deployment(app, env, r1));
      const e1 = await store.addDeploymentEvent(d.id, 'step', 'set weight 20', { weight: 20, versions: ['1.0.0'] });
      const e2 = await store.addDeploymentEvent(d.id, 'note', 'no data');
      const e3 = await store.addDeploymentEvent(d.id, 'note', 'null data', null);
      assert.ok(e1.id < e2.id && e2.id < e3.id);
      assert.equal(typeof e1.id, 'number');
      assert.match(e1.at, ISO_UTC);
      const list = await store.listDeploymentEvents(d.id);
      assert.deepEqual(list, [e1, e2, e3]);
      assert.deepEqual(list[0]?.data, { weight: 20, versions: ['1.0.0'] });
      assert.equal(list[1]?.data, null);
      assert.deepEqual(await store.listDeploymentEvents(uid('dep')), []);
      await rejectsWith(store.addDeploymentEvent(uid('dep'), 'step', 'x'), 'not_found');
    });

    test('service state: set, overwrite, list', async () => {
      const { app, env, r1, r2 } = await service();
      assert.equal(await store.getServiceState(app, env), null);
      await store.setServiceState(app, env, r1.id, null);
      const s1 = await store.getServiceState(app, env);
      assert.deepEqual({ ...s1, updatedAt: undefined }, { app, env, currentReleaseId: r1.id, previousReleaseId: null, updatedAt: undefined });
      assert.match(s1?.updatedAt ?? '', ISO_UTC);
      await store.setServiceState(app, env, r2.id, r1.id);
      const s2 = await store.getServiceState(app, env);
      assert.equal(s2?.currentReleaseId, r2.id);
      assert.equal(s2?.previousReleaseId, r1.id);
      assert.ok((await store.listServiceStates()).some((s) => s.app === app && s.env === env && s.currentReleaseId === r2.id));
      await store.setServiceState(app, env, null, null);
      assert.equal((await store.getServiceState(app, env))?.currentReleaseId, null);
      await rejectsWith(store.setServiceState(app, env, uid('rel'), null), 'not_found');
    });

    test('events: oldest first, afterId paging, ids increase under concurrency', async () => {
      const before = await store.listEvents(0, 1_000_000);
      const start = before.length ? before[before.length - 1]!.id : 0;
      const type = uid('type');
      const first = await store.appendEvent({ type, app: 'shop', env: 'production', deploymentId: 'dep-1', data: { weight: 50, v: ['a', null] } });
      const second = await store.appendEvent({ type });
      assert.equal(second.app, null);
      assert.equal(second.deploymentId, null);
      assert.equal(second.data, null);
      assert.match(first.at, ISO_UTC);
      // Appends racing each other: every id is distinct, and paging sees them all.
      const raced = await Promise.all(Array.from({ length: 20 }, (_, i) => store.appendEvent({ type, data: { i } })));
      assert.equal(new Set(raced.map((e) => e.id)).size, 20);

      const all = await store.listEvents(start);
      const mine = all.filter((e) => e.type === type);
      assert.equal(mine.length, 22);
      assert.deepEqual(mine[0], first);
      for (let i = 1; i < all.length; i++) assert.ok(all[i]!.id > all[i - 1]!.id, 'ids strictly increasing');

      // Resume with afterId in pages of 5: exactly the same events, none twice.
      const paged: number[] = [];
      let cursor = start;
      for (;;) {
        const page = await store.listEvents(cursor, 5);
        assert.ok(page.length <= 5);
        if (page.length === 0) break;
        paged.push(...page.map((e) => e.id));
        cursor = page[page.length - 1]!.id;
      }
      assert.deepEqual(paged, all.map((e) => e.id));
      assert.deepEqual(await store.listEvents(cursor), []);
    });

    test('events: the latest N after an id, oldest first', async () => {
      const type = uid('latest');
      const mine: EventRecord[] = [];
      for (let i = 0; i < 7; i++) mine.push(await store.appendEvent({ type, data: { i } }));
      const ids = mine.map((e) => e.id);
      const head = ids[ids.length - 1]!;
      // The newest 3 of everything: the last three appended, in id order.
      assert.deepEqual((await store.listLatestEvents(0, 3)).map((e) => e.id), ids.slice(4));
      assert.deepEqual(await store.listLatestEvents(0, 1), [mine[6]]);
      // Fewer than the limit after the id: all of them, oldest first.
      assert.deepEqual((await store.listLatestEvents(ids[3]!, 100)).map((e) => e.id), ids.slice(4));
      // The limit cuts from the old end, never the new one.
      assert.deepEqual((await store.listLatestEvents(ids[0]!, 2)).map((e) => e.id), ids.slice(5));
      assert.deepEqual(await store.listLatestEvents(head, 10), []);
      assert.deepEqual((await store.listLatestEvents(ids[0]!, 6)).map((e) => e.data), [1, 2, 3, 4, 5, 6].map((i) => ({ i })));
    });

    function incident(app: string, env: string, extra: Partial<NewIncident> = {}): NewIncident {
      return {
        id: uid('inc'),
        app,
        env,
        production: true,
        deploymentId: null,
        source: 'manual',
        title: 'checkout is down',
        severity: 'critical',
        openedAt: '2024-05-01T10:00:00.000Z',
        fingerprint: null,
        labels: {},
        ...extra,
      };
    }

    test('incidents: every field round-trips; one per deployment; one open per fingerprint', async () => {
      const app = uid('app');
      const env = uid('env');
      const input = incident(app, env, { source: 'alert', fingerprint: uid('fp'), labels: { alertname: 'HighErrorRate', 'ü': 'ß' }, production: false, severity: 'warning' });
      const { incident: created, created: isNew } = await store.createIncident(input);
      assert.equal(isNew, true);
      assert.deepEqual(
        { ...created, createdAt: undefined, updatedAt: undefined },
        { ...input, status: 'open', resolvedAt: null, resolvedBy: null, resolvedByDeploymentId: null, resolution: null, createdAt: undefined, updatedAt: undefined },
      );
      assert.match(created.createdAt, ISO_UTC);
      assert.deepEqual(await store.getIncident(created.id), created);
      assert.equal(await store.getIncident(uid('inc')), null);

      // The same fingerprint again (a redelivered alert) while open: the same incident.
      const again = await store.createIncident({ ...input, id: uid('inc') });
      assert.equal(again.created, false);
      assert.equal(again.incident.id, created.id);
      // Another source may use the same fingerprint text.
      const manual = await store.createIncident(incident(app, env, { fingerprint: input.fingerprint }));
      assert.equal(manual.created, true);

      // One incident per deployment, also under concurrency.
      const depId = uid('dep');
      const racing = await Promise.all(Array.from({ length: 6 }, () => store.createIncident(incident(app, env, { deploymentId: depId, source: 'rollback' }))));
      assert.equal(racing.filter((r) => r.created).length, 1);
      assert.equal(new Set(racing.map((r) => r.incident.id)).size, 1);

      // An id taken by another incident is refused.
      await rejectsWith(store.createIncident({ ...incident(app, env), id: created.id }), 'conflict', new RegExp(created.id));
    });

    test('incidents: resolve once; a resolved fingerprint may open again; list filters', async () => {
      const app = uid('app');
      const env = uid('env');
      const fp = uid('fp');
      const first = (await store.createIncident(incident(app, env, { source: 'alert', fingerprint: fp, openedAt: '2024-05-01T10:00:00.000Z' }))).incident;
      const resolution = { resolvedAt: '2024-05-01T10:30:00.000Z', resolvedBy: 'alertmanager', resolvedByDeploymentId: null, resolution: 'alert resolved' };
      const r1 = await store.resolveIncident(first.id, resolution);
      assert.ok(r1);
      assert.equal(r1.changed, true);
      assert.equal(r1.incident.status, 'resolved');
      assert.equal(r1.incident.resolvedAt, resolution.resolvedAt);
      assert.equal(r1.incident.resolvedBy, 'alertmanager');
      assert.equal(r1.incident.resolution, 'alert resolved');
      const r2 = await store.resolveIncident(first.id, { ...resolution, resolvedBy: 'someone-else' });
      assert.equal(r2?.changed, false);
      assert.equal(r2?.incident.resolvedBy, 'alertmanager', 'a second resolve changes nothing');
      assert.equal(await store.resolveIncident(uid('inc'), resolution), null);

      // Firing again after resolution: a new incident with the same fingerprint.
      const second = await store.createIncident(incident(app, env, { source: 'alert', fingerprint: fp, openedAt: '2024-05-02T10:00:00.000Z' }));
      assert.equal(second.created, true);
      const dep = uid('dep');
      const third = (await store.createIncident(incident(app, env, { source: 'deployment_failed', deploymentId: dep, openedAt: '2024-05-03T10:00:00.000Z' }))).incident;
      const fix = uid('dep');
      const fixed = await store.resolveIncident(third.id, { resolvedAt: '2024-05-03T11:00:00.000Z', resolvedBy: `deployment:${fix}`, resolvedByDeploymentId: fix, resolution: 'fixed by a later deployment' });
      assert.equal(fixed?.incident.resolvedByDeploymentId, fix);
      const other = uid('env');
      await store.createIncident(incident(app, other));

      const ids = (l: { id: string }[]) => l.map((i) => i.id);
      assert.deepEqual(ids(await store.listIncidents({ app, env })), [third.id, second.incident.id, first.id], 'newest first');
      assert.deepEqual(ids(await store.listIncidents({ app, env, limit: 1 })), [third.id]);
      assert.deepEqual(ids(await store.listIncidents({ app, env, status: 'open' })), [second.incident.id]);
      assert.deepEqual(ids(await store.listIncidents({ app, env, status: 'resolved' })), [third.id, first.id]);
      assert.deepEqual(ids(await store.listIncidents({ app, env, sources: ['rollback', 'deployment_failed'] })), [third.id]);
      assert.deepEqual(await store.listIncidents({ app, env, sources: [] }), []);
      assert.deepEqual(ids(await store.listIncidents({ deploymentId: dep })), [third.id]);
      assert.deepEqual(ids(await store.listIncidents({ fingerprint: fp })), [second.incident.id, first.id]);
      assert.deepEqual(ids(await store.listIncidents({ app, env, since: '2024-05-02T00:00:00.000Z' })), [third.id, second.incident.id]);
      assert.equal((await store.listIncidents({ app })).length, 4);
    });

    function chaos(app: string, env: string, extra: Partial<ChaosRecord> = {}): ChaosRecord {
      return {
        id: uid('chaos'),
        app,
        env,
        version: 'v2',
        kind: 'fault',
        errorRate: 0.125,
        latencyMs: 200,
        status: 'active',
        startedAt: '2024-05-01T10:00:00.000Z',
        endsAt: '2024-05-01T10:01:00.000Z',
        stoppedAt: null,
        actor: 'tester',
        detail: null,
        ...extra,
      };
    }

    test('chaos: round-trip; one active fault per version; stop and expire only active ones', async () => {
      const app = uid('app');
      const env = uid('env');
      const input = chaos(app, env, { errorRate: 0.123456789 });
      const created = await store.createChaos(input);
      assert.deepEqual(created, input);
      assert.deepEqual(await store.getChaos(created.id), created);
      assert.equal(await store.getChaos(uid('chaos')), null);

      await rejectsWith(store.createChaos(chaos(app, env)), 'conflict', /already has an active fault/);
      await rejectsWith(store.createChaos({ ...chaos(app, env, { version: 'v9' }), id: created.id }), 'conflict');
      // Kills are not limited; another version may have its own fault.
      const kill = await store.createChaos(chaos(app, env, { kind: 'kill', errorRate: 0, latencyMs: 0, status: 'expired', detail: 'killed demo-1' }));
      const v3 = await store.createChaos(chaos(app, env, { version: 'v3', endsAt: '2024-05-01T10:05:00.000Z' }));
      assert.deepEqual((await store.listChaos({ app, env })).map((c) => c.id), [v3.id, kill.id, created.id]);
      assert.deepEqual((await store.listChaos({ app, env, status: 'active' })).map((c) => c.id), [v3.id, created.id]);
      assert.deepEqual((await store.listChaos({ app, env, limit: 1 })).map((c) => c.id), [v3.id]);

      const patched = await store.updateActiveChaos(created.id, { detail: 'agent confirmed' });
      assert.equal(patched?.detail, 'agent confirmed');
      assert.equal(await store.updateActiveChaos(kill.id, { status: 'stopped' }), null, 'only active ones are patched');

      // Expiry: only those past endsAt, each exactly once.
      const expired = await store.expireChaos('2024-05-01T10:02:00.000Z');
      assert.deepEqual(expired.filter((c) => c.app === app).map((c) => [c.id, c.status, c.stoppedAt]), [[created.id, 'expired', created.endsAt]]);
      assert.deepEqual((await store.expireChaos('2024-05-01T10:02:00.000Z')).filter((c) => c.app === app), []);

      // Stop one version, then everything left.
      const v2again = await store.createChaos(chaos(app, env, { endsAt: '2099-01-01T00:00:00.000Z' }));
      const stoppedV3 = await store.stopActiveChaos(app, env, 'v3', '2024-05-01T10:03:00.000Z', 'stopped by tester');
      assert.deepEqual(stoppedV3.map((c) => [c.id, c.status, c.stoppedAt, c.detail]), [[v3.id, 'stopped', '2024-05-01T10:03:00.000Z', 'stopped by tester']]);
      const rest = await store.stopActiveChaos(app, env, null, '2024-05-01T10:04:00.000Z', 'stopped');
      assert.deepEqual(rest.map((c) => c.id), [v2again.id]);
      assert.deepEqual(await store.stopActiveChaos(app, env, null, '2024-05-01T10:04:00.000Z', 'stopped'), []);
      assert.deepEqual(await store.listChaos({ app, env, status: 'active' }), []);
    });
  });
}
