/** The pure parts behind watch, --wait, deployment show and logs filters. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentView } from '../api/contract.js';
import type { DeploymentEventRecord } from '../core/domain.js';
import { actionGoal } from './action-wait.js';
import { actionRows, buildReport, reportText, stepRows } from './deployment-report.js';
import { besidesStatus, withoutTook } from './line-text.js';
import { keepLine, parseGrep, parseLogSince } from './log-filter.js';
import { UsageError } from './exit.js';

let seq = 0;
const ev = (kind: string, at: string, message: string): DeploymentEventRecord => ({ id: ++seq, deploymentId: 'd', at, kind, message, data: null });

function view(over: Partial<DeploymentView>): DeploymentView {
  return {
    id: 'd',
    app: 'web',
    env: 'staging',
    kind: 'deploy',
    releaseId: 'r',
    version: 'v2',
    previousReleaseId: 'r1',
    previousVersion: 'v1',
    strategy: { canary: {} } as DeploymentView['strategy'],
    status: 'paused',
    state: { pausedByUser: false } as DeploymentView['state'],
    message: 'step 2/4: pause: paused until promoted',
    requestedBy: 'user:ann',
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: null,
    timeline: [],
    step: 'step 2/4: pause',
    candidateWeight: 30,
    ...over,
  } as DeploymentView;
}

describe('deployment show', () => {
  test('each completed step runs from the end of the one before; the rest is the step in progress or the end', () => {
    const timeline = [
      ev('created', '2026-01-01T00:00:00.000Z', 'deploy of v2 to staging requested by user:ann'),
      ev('started', '2026-01-01T00:00:01.000Z', 'deploying v2'),
      ev('step', '2026-01-01T00:00:05.000Z', 'completed step 1/4: set weight 30%'),
      ev('promote', '2026-01-01T00:01:00.000Z', 'promotion requested by user:bob'),
      ev('step', '2026-01-01T00:01:01.000Z', 'completed step 2/4: pause'),
    ];
    const rows = stepRows(view({ timeline, status: 'succeeded', finishedAt: '2026-01-01T00:01:31.000Z', step: null }));
    assert.deepEqual(rows.map((r) => [r.step, r.durationMs]), [
      ['step 1/4: set weight 30%', 4000],
      ['step 2/4: pause', 56_000],
      ['last step (full traffic)', 30_000],
    ]);
    const live = stepRows(view({ timeline, step: 'step 3/4: set weight 60%' }), Date.parse('2026-01-01T00:01:11.000Z'));
    assert.deepEqual(live.at(-1), { step: 'step 3/4: set weight 60%', startedAt: '2026-01-01T00:01:01.000Z', endedAt: null, durationMs: 10_000 });
    // Without the audit trail, who did what comes from the timeline.
    assert.deepEqual(actionRows(view({ timeline }), null).map((a) => [a.actor, a.action]), [
      ['user:ann', 'created'],
      ['user:bob', 'promote'],
    ]);
  });
});

describe('deployment show text', () => {
  test('the analysis verdict with its evidence (canary vs stable per metric) and the outcome', () => {
    const analysis = {
      phase: 'background',
      verdict: 'fail' as const,
      reason: 'error-rate: canary fails more often',
      startedAt: '2026-01-01T00:00:01.000Z',
      at: '2026-01-01T00:00:30.000Z',
      metrics: [{ name: 'error-rate', verdict: 'fail' as const, reason: 'canary 12% vs stable 0.1%', canary: 0.12, stable: 0.001 }],
    };
    const v = view({ status: 'rolled_back', finishedAt: '2026-01-01T00:00:31.000Z', message: 'analysis failed: error-rate', state: { pausedByUser: false, analysis } as unknown as DeploymentView['state'] });
    const text = reportText(buildReport(v, null, 'your role may not read the audit trail'), Date.parse('2026-01-01T00:01:00.000Z'));
    assert.match(text, /outcome: rolled back after 31s — analysis failed: error-rate/);
    assert.match(text, /analysis \(background\): fail — error-rate: canary fails more often/);
    assert.match(text, /✗ error-rate\s+canary\s+0\.1200\s+stable\s+0\.0010/);
    assert.match(text, /your role may not read the audit trail/);
  });
});

describe('--wait goals', () => {
  const answered = view({ timeline: [ev('promote', '2026-01-01T00:01:00.000Z', 'promotion requested by user:bob')] });
  test('promote: done at the next hold or the end; a bad end is not ok', () => {
    const g = actionGoal('promote', answered);
    assert.equal(g.done(answered), false, 'the answer itself is not the outcome');
    assert.equal(g.done(view({ status: 'progressing', message: 'completed step 2/4: pause' })), false);
    const next = view({ message: 'step 4/4: pause: paused until promoted' });
    assert.equal(g.done(next), true);
    assert.equal(g.ok(next), true);
    const bad = view({ status: 'rolled_back', message: 'analysis failed' });
    assert.equal(g.done(bad), true);
    assert.equal(g.ok(bad), false);
  });
  test('pause waits for the hold by the user; abort and fail for their end', () => {
    const p = actionGoal('pause', answered);
    assert.equal(p.done(view({ state: { pausedByUser: true } as DeploymentView['state'] })), false);
    assert.equal(p.done(view({ state: { pausedByUser: true } as DeploymentView['state'], message: 'paused by user at step 2/4: pause (rollgate resume)' })), true);
    const a = actionGoal('abort', answered);
    assert.equal(a.done(view({ status: 'progressing' })), false);
    assert.equal(a.ok(view({ status: 'aborted' })), true);
    assert.equal(a.ok(view({ status: 'succeeded' })), false, 'it ended before the abort took effect');
    assert.equal(actionGoal('fail', answered).ok(view({ status: 'rolled_back' })), true);
  });
});

describe('logs filters and line text', () => {
  const line = (at: string, text: string) => ({ at, instance: 'i', version: 'v1', stream: 'stdout' as const, text });
  test('--since is a duration back or an ISO time; --grep a substring or /regex/flags', () => {
    const now = Date.parse('2026-01-01T01:00:00.000Z');
    assert.equal(parseLogSince('10m', now), '2026-01-01T00:50:00.000Z');
    assert.equal(parseLogSince('2026-01-01T00:30:00Z', now), '2026-01-01T00:30:00.000Z');
    assert.throws(() => parseLogSince('soon', now), UsageError);
    const since = parseLogSince('10m', now);
    assert.equal(keepLine(line('2026-01-01T00:49:59.000Z', 'old'), { since }), false);
    assert.equal(keepLine(line('2026-01-01T00:50:00.000Z', 'new'), { since }), true);
    assert.equal(parseGrep('GET /a')('GET /a 200'), true);
    assert.equal(parseGrep('/^err/i')('ERROR: x'), true);
    assert.equal(parseGrep('/^err/')('ERROR: x'), false);
    assert.throws(() => parseGrep('/(/'), UsageError);
  });
  test('one duration per line, no message that repeats the status', () => {
    assert.equal(withoutTook('v2 serves all traffic in production (took 12s)'), 'v2 serves all traffic in production');
    assert.equal(besidesStatus('running', 'running'), '');
    assert.equal(besidesStatus('running', 'building'), 'building');
  });
});
