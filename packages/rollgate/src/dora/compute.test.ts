import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { DeploymentRecord, DeploymentStatus, ReleaseRecord } from '../core/domain.js';
import type { IncidentRecord } from '../core/incidents.js';
import { computeDora, median, type DoraInput } from './compute.js';
import { changeFailureRateTier, deploymentFrequencyTier, leadTimeTier, recoveryTimeTier } from './tiers.js';
import { isSince, parseSince } from './window.js';

const HOUR = 3600;
const DAY = 86_400;

function dep(id: string, releaseId: string, status: DeploymentStatus, finishedAt: string | null, over: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return {
    id,
    app: 'shop',
    env: 'production',
    kind: 'deploy',
    releaseId,
    version: releaseId,
    previousReleaseId: null,
    previousVersion: null,
    strategy: { rolling: {} } as DeploymentRecord['strategy'],
    status,
    state: {} as DeploymentRecord['state'],
    message: '',
    requestedBy: 'test',
    createdAt: finishedAt ?? '2024-01-01T00:00:00Z',
    startedAt: null,
    finishedAt,
    updatedAt: finishedAt ?? '2024-01-01T00:00:00Z',
    ...over,
  };
}

function rel(id: string, commitTime: string | null): ReleaseRecord {
  return { id, app: 'shop', version: id, contentHash: 'x', artifactDir: '/x', commitSha: null, commitTime, createdAt: '2023-12-01T00:00:00Z', createdBy: 'test', prunedAt: null };
}

function inc(id: string, openedAt: string, resolvedAt: string | null, over: Partial<IncidentRecord> = {}): IncidentRecord {
  return {
    id,
    app: 'shop',
    env: 'production',
    production: true,
    deploymentId: null,
    source: 'alert',
    title: id,
    severity: 'major',
    status: resolvedAt ? 'resolved' : 'open',
    openedAt,
    resolvedAt,
    resolvedBy: null,
    resolvedByDeploymentId: null,
    resolution: null,
    fingerprint: null,
    labels: {},
    createdAt: openedAt,
    updatedAt: openedAt,
    ...over,
  };
}

const since = new Date('2024-01-01T00:00:00Z');
const until = new Date('2024-01-11T00:00:00Z'); // 10 days
const isProduction = (env: string): boolean => env === 'production';

/** The worked example: every figure below is computed by hand in the comments. */
function example(): DoraInput {
  return {
    since,
    until,
    isProduction,
    releases: [rel('r0', '2023-12-19T00:00:00Z'), rel('r1', '2024-01-01T00:00:00Z'), rel('r2', '2024-01-02T00:00:00Z'), rel('r3', null), rel('r4', '2024-01-05T00:00:00Z'), rel('r5', null)],
    // r4's changes read from git: 1 day, 2 days and 12 hours before its deploy on 01-06.
    commitTimes: new Map([['r4', ['2024-01-05T00:00:00Z', '2024-01-04T00:00:00Z', '2024-01-05T12:00:00Z']]]),
    deployments: [
      dep('d0', 'r0', 'succeeded', '2023-12-20T00:00:00Z'), // before the window
      dep('d1', 'r1', 'succeeded', '2024-01-01T02:00:00Z'), // lead 2h
      dep('d2', 'r2', 'rolled_back', '2024-01-02T06:00:00Z'), // failed (and an incident names it: still once)
      dep('k1', 'r1', 'succeeded', '2024-01-02T07:00:00Z', { kind: 'rollback' }), // rollbacks ship no change
      dep('d3', 'r2', 'succeeded', '2024-01-03T00:00:00Z'), // r2's first production deploy: lead 1 day; fixed i1
      dep('d4', 'r3', 'succeeded', '2024-01-04T00:00:00Z'), // no commit time
      dep('s1', 'r4', 'succeeded', '2024-01-05T06:00:00Z', { env: 'staging' }), // not production
      dep('d5', 'r4', 'succeeded', '2024-01-06T00:00:00Z'), // caused i3; lead 1d, 2d, 12h
      dep('d6', 'r1', 'succeeded', '2024-01-07T00:00:00Z'), // redeploy of r1: no new change; fixed i3
      dep('d7', 'r5', 'progressing', null), // still running
      dep('x1', 'r1', 'succeeded', '2024-01-08T00:00:00Z', { app: 'other' }), // another app
    ],
    incidents: [
      inc('i0', '2023-12-30T00:00:00Z', '2024-01-01T05:00:00Z', { resolvedByDeploymentId: 'd1' }), // before the window; d1 is rework
      inc('i1', '2024-01-02T06:00:00Z', '2024-01-03T00:00:00Z', { deploymentId: 'd2', source: 'rollback', resolvedByDeploymentId: 'd3' }), // 18h
      inc('i2', '2024-01-02T12:00:00Z', '2024-01-02T13:00:00Z'), // 1h
      inc('i3', '2024-01-06T01:00:00Z', '2024-01-06T03:00:00Z', { deploymentId: 'd5', resolvedByDeploymentId: 'd6' }), // 2h
      inc('i4', '2024-01-08T00:00:00Z', null), // open
      inc('i5', '2024-01-03T00:00:00Z', '2024-01-09T00:00:00Z', { env: 'staging', production: false }), // not production
    ],
  };
}

describe('computeDora', () => {
  test('the worked example, every metric by hand', () => {
    const r = computeDora({ ...example(), app: 'shop' });
    assert.deepEqual(r.window, { since: since.toISOString(), until: until.toISOString(), days: 10, app: 'shop', env: null });
    // d1 d3 d4 d5 d6 over 10 days
    assert.deepEqual(r.deploymentFrequency, { count: 5, perDay: 0.5, perWeek: 3.5, tier: 'high' });
    // [2h, 12h, 1d, 1d, 2d] → 1 day exactly, which is no longer elite (< 1 day)
    assert.deepEqual(r.leadTimeForChanges, { medianSeconds: DAY, samples: 5, fromGit: 3, releasesWithoutCommitTime: 1, tier: 'high' });
    // d1 d2 d3 d4 d5 d6: d2 rolled back (and named by i1), d5 named by i3 → 2 of 6
    assert.deepEqual(r.changeFailureRate, { rate: 2 / 6, failed: 2, total: 6, tier: 'low' });
    // i1 18h, i2 1h, i3 2h → 2h; i4 open
    assert.deepEqual(r.failedDeploymentRecoveryTime, { medianSeconds: 2 * HOUR, samples: 3, open: 1, tier: 'high' });
    // d1 (fixed i0), d3 (i1), d6 (i3) of 5
    assert.deepEqual(r.reworkRate, { rate: 3 / 5, rework: 3, total: 5 });
  });

  test('all apps: the other app counts too', () => {
    const r = computeDora(example());
    assert.equal(r.deploymentFrequency.count, 6);
    assert.equal(r.changeFailureRate.total, 7);
  });

  test('an explicit environment is measured whatever its production flag', () => {
    const r = computeDora({ ...example(), env: 'staging' });
    assert.equal(r.deploymentFrequency.count, 1);
    // s1 is r4's first staging deploy, 01-05T06:00: git times give 6h, 30h, -6h → 0 (skew clamps)
    assert.deepEqual(r.leadTimeForChanges.samples, 3);
    assert.equal(r.leadTimeForChanges.medianSeconds, 6 * HOUR);
    assert.deepEqual(r.failedDeploymentRecoveryTime, { medianSeconds: 6 * DAY, samples: 1, open: 0, tier: 'medium' });
  });

  test('without git times the release commit time is the one change', () => {
    const r = computeDora({ ...example(), app: 'shop', commitTimes: undefined });
    // [2h, 1d, 1d (r4 commit 01-05 → deploy 01-06)] → 1 day; nothing from git
    assert.equal(r.leadTimeForChanges.samples, 3);
    assert.equal(r.leadTimeForChanges.fromGit, 0);
    assert.equal(r.leadTimeForChanges.medianSeconds, DAY);
  });

  test('a release first deployed before the window brings no lead time into it', () => {
    const input = example();
    const r = computeDora({ ...input, app: 'shop', since: new Date('2024-01-06T12:00:00Z') });
    // only d6 (redeploy of r1, first deployed 01-01) finishes in [01-06T12, 01-11)
    assert.equal(r.deploymentFrequency.count, 1);
    assert.equal(r.leadTimeForChanges.samples, 0);
    assert.equal(r.leadTimeForChanges.medianSeconds, null);
    assert.equal(r.leadTimeForChanges.tier, null);
  });

  test('an incident resolved after the window end counts as open', () => {
    const r = computeDora({ ...example(), app: 'shop', until: new Date('2024-01-02T12:30:00Z') });
    // i1 opened 01-02T06 resolves 01-03 (after until) → open; i2 opened 12:00, resolves 13:00 → open
    assert.equal(r.failedDeploymentRecoveryTime.samples, 0);
    assert.equal(r.failedDeploymentRecoveryTime.open, 2);
    assert.equal(r.failedDeploymentRecoveryTime.medianSeconds, null);
  });

  test('even counts take the mean of the middle two', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([5]), 5);
    assert.equal(median([]), null);
    const r = computeDora({
      since,
      until,
      isProduction,
      deployments: [],
      releases: [],
      incidents: [inc('a', '2024-01-02T00:00:00Z', '2024-01-02T00:30:00Z'), inc('b', '2024-01-03T00:00:00Z', '2024-01-03T01:30:00Z')],
    });
    // 30 min and 90 min → 60 min, which is not under an hour
    assert.deepEqual(r.failedDeploymentRecoveryTime, { medianSeconds: HOUR, samples: 2, open: 0, tier: 'high' });
  });

  test('empty windows give nulls, never NaN', () => {
    for (const [s, u] of [
      [since, until],
      [until, until],
      [until, since],
    ] as const) {
      const r = computeDora({ since: s, until: u, isProduction, deployments: example().deployments, releases: [], incidents: [] });
      const text = JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? 'NOT-FINITE' : v));
      assert.ok(!text.includes('NOT-FINITE'), text);
      if (s.getTime() >= u.getTime()) {
        assert.equal(r.window.days, 0);
        assert.equal(r.deploymentFrequency.perDay, null);
        assert.equal(r.deploymentFrequency.count, 0);
      }
    }
    const empty = computeDora({ since, until, isProduction, deployments: [], releases: [], incidents: [] });
    assert.deepEqual(empty.deploymentFrequency, { count: 0, perDay: 0, perWeek: 0, tier: null });
    assert.deepEqual(empty.changeFailureRate, { rate: null, failed: 0, total: 0, tier: null });
    assert.deepEqual(empty.reworkRate, { rate: null, rework: 0, total: 0 });
    assert.deepEqual(empty.failedDeploymentRecoveryTime, { medianSeconds: null, samples: 0, open: 0, tier: null });
  });

  test('an aborted deployment counts only when an incident names it', () => {
    const base = { since, until, isProduction, releases: [], incidents: [] as IncidentRecord[] };
    const deployments = [dep('a', 'r1', 'aborted', '2024-01-02T00:00:00Z'), dep('b', 'r1', 'succeeded', '2024-01-03T00:00:00Z'), dep('c', 'r2', 'failed', '2024-01-04T00:00:00Z')];
    assert.deepEqual(computeDora({ ...base, deployments }).changeFailureRate, { rate: 0.5, failed: 1, total: 2, tier: 'low' });
    const named = computeDora({ ...base, deployments, incidents: [inc('i', '2024-01-02T00:00:00Z', null, { deploymentId: 'a' }), inc('j', '2024-01-02T00:10:00Z', null, { deploymentId: 'a' })] });
    assert.deepEqual(named.changeFailureRate, { rate: 2 / 3, failed: 2, total: 3, tier: 'low' });
  });
});

describe('DORA 2024 tiers', () => {
  test('deployment frequency: elite ≥ 1/day, high ≥ 1/week, medium ≥ 1/month', () => {
    assert.equal(deploymentFrequencyTier(1), 'elite');
    assert.equal(deploymentFrequencyTier(0.99), 'high');
    assert.equal(deploymentFrequencyTier(1 / 7), 'high');
    assert.equal(deploymentFrequencyTier(1 / 7.01), 'medium');
    assert.equal(deploymentFrequencyTier(1 / 30), 'medium');
    assert.equal(deploymentFrequencyTier(1 / 31), 'low');
    assert.equal(deploymentFrequencyTier(0), 'low');
  });
  test('lead time: elite < 1 day, high < 1 week, medium < 1 month', () => {
    assert.equal(leadTimeTier(DAY - 1), 'elite');
    assert.equal(leadTimeTier(DAY), 'high');
    assert.equal(leadTimeTier(7 * DAY - 1), 'high');
    assert.equal(leadTimeTier(7 * DAY), 'medium');
    assert.equal(leadTimeTier(30 * DAY - 1), 'medium');
    assert.equal(leadTimeTier(30 * DAY), 'low');
  });
  test('change failure rate: nearest 2024 cluster (5% elite, 10% medium, 20% high, 40% low)', () => {
    assert.equal(changeFailureRateTier(0), 'elite');
    assert.equal(changeFailureRateTier(0.075), 'elite');
    assert.equal(changeFailureRateTier(0.0751), 'medium');
    assert.equal(changeFailureRateTier(0.15), 'medium');
    assert.equal(changeFailureRateTier(0.2), 'high');
    assert.equal(changeFailureRateTier(0.3), 'high');
    assert.equal(changeFailureRateTier(0.3001), 'low');
    assert.equal(changeFailureRateTier(1), 'low');
  });
  test('recovery: elite < 1 hour, high < 1 day, medium < 1 week', () => {
    assert.equal(recoveryTimeTier(HOUR - 1), 'elite');
    assert.equal(recoveryTimeTier(HOUR), 'high');
    assert.equal(recoveryTimeTier(DAY - 1), 'high');
    assert.equal(recoveryTimeTier(DAY), 'medium');
    assert.equal(recoveryTimeTier(7 * DAY - 1), 'medium');
    assert.equal(recoveryTimeTier(7 * DAY), 'low');
  });
});

describe('since', () => {
  const now = new Date('2024-04-01T00:00:00Z');
  test('look-backs and dates', () => {
    assert.equal(parseSince('90d', now).toISOString(), '2024-01-02T00:00:00.000Z');
    assert.equal(parseSince('2w', now).toISOString(), '2024-03-18T00:00:00.000Z');
    assert.equal(parseSince('36h', now).toISOString(), '2024-03-30T12:00:00.000Z');
    assert.equal(parseSince('2024-01-31', now).toISOString(), '2024-01-31T00:00:00.000Z');
    assert.equal(parseSince('2024-01-31T10:00:00+02:00', now).toISOString(), '2024-01-31T08:00:00.000Z');
  });
  test('bad values say what to write', () => {
    for (const bad of ['0d', '90', 'yesterday', '2024-13-45', '-5d', '5y']) {
      assert.equal(isSince(bad), false, bad);
      assert.throws(() => parseSince(bad, now), /since: .*(e\.g\. 90d|not in the past)/, bad);
    }
    assert.throws(() => parseSince('2030-01-01', now), /not in the past/);
  });
});

describe('properties', () => {
  const STATUSES: DeploymentStatus[] = ['pending', 'progressing', 'paused', 'succeeded', 'failed', 'aborted', 'rolled_back'];
  const arbInput = fc.record({
    deps: fc.array(
      fc.record({
        id: fc.integer({ min: 0, max: 15 }),
        release: fc.integer({ min: 0, max: 5 }),
        status: fc.constantFrom(...STATUSES),
        kind: fc.constantFrom('deploy' as const, 'rollback' as const),
        env: fc.constantFrom('production', 'staging'),
        at: fc.option(fc.integer({ min: -2, max: 12 }), { nil: null }),
      }),
      { maxLength: 40 },
    ),
    incs: fc.array(
      fc.record({
        dep: fc.option(fc.integer({ min: 0, max: 20 }), { nil: null }),
        fixedBy: fc.option(fc.integer({ min: 0, max: 20 }), { nil: null }),
        opened: fc.integer({ min: -2, max: 12 }),
        hours: fc.option(fc.integer({ min: 0, max: 400 }), { nil: null }),
      }),
      { maxLength: 30 },
    ),
  });
  const day = (n: number): string => new Date(since.getTime() + n * DAY * 1000).toISOString();

  test('change failure rate is in [0,1] and counts each deployment at most once', () => {
    fc.assert(
      fc.property(arbInput, ({ deps, incs }) => {
        // Ids may repeat in the generated list: a record seen twice must still count once.
        const deployments = deps.map((d) => dep(`d${d.id}`, `r${d.release}`, d.status, d.at === null ? null : day(d.at), { kind: d.kind, env: d.env }));
        const incidents = incs.map((x, n) =>
          inc(`i${n}`, day(x.opened), x.hours === null ? null : new Date(Date.parse(day(x.opened)) + x.hours * HOUR * 1000).toISOString(), {
            deploymentId: x.dep === null ? null : `d${x.dep}`,
            resolvedByDeploymentId: x.fixedBy === null ? null : `d${x.fixedBy}`,
          }),
        );
        const r = computeDora({ since, until, isProduction, deployments, releases: [], incidents });
        const cfr = r.changeFailureRate;
        const distinct = new Set(deployments.filter((d) => d.kind === 'deploy' && d.env === 'production' && d.finishedAt !== null && d.finishedAt >= day(0) && d.finishedAt < day(10)).map((d) => d.id));
        assert.ok(cfr.failed <= cfr.total);
        assert.ok(cfr.total <= distinct.size);
        if (cfr.total === 0) assert.equal(cfr.rate, null);
        else assert.ok(cfr.rate !== null && cfr.rate >= 0 && cfr.rate <= 1);
        assert.ok(r.reworkRate.rework <= r.reworkRate.total);
        assert.equal(r.reworkRate.total, r.deploymentFrequency.count);
        for (const m of [r.leadTimeForChanges.medianSeconds, r.failedDeploymentRecoveryTime.medianSeconds]) assert.ok(m === null || (Number.isFinite(m) && m >= 0));
      }),
      { numRuns: 300 },
    );
  });
});
