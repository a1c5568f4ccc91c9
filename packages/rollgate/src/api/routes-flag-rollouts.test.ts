/**
 * Flag rollouts and scheduled changes against the real server (agent process, runServer, SQLite
 * and PostgreSQL): a rollout with 1s steps goes through every step, each an audited change by the
 * platform; pause stops it, resume goes on; abort; a user's change pauses it; a scheduled enable
 * fires; bad input is refused naming what is wrong, and changes nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { FLAG_CHANGED, type FlagChangedData } from '../flags/changes.js';
import type { RolloutView } from '../flags/rollouts.js';
import type { FlagScheduleRecord } from '../store/flag-rollouts-types.js';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';
import { assertStepsOnce, RolloutApi } from '../test/flag-rollouts-kit.js';
import { withPostgres } from '../test/pg.js';
import { until } from '../test/split-platform.js';

function rolloutSuite(name: string, databaseUrl: () => string | undefined): void {
  describe(name, () => {
    let p: FlagsPlatform;
    let api: RolloutApi;

    before(async () => {
      p = await startFlagsPlatform(databaseUrl());
      api = new RolloutApi(p.server.url, p.server.token!);
    });
    after(async () => {
      await p?.stop();
    });

    test('a rollout with 1s steps goes 1 -> 5 -> 25 -> 100: each step one audited change by the platform, with before and after, and announced', async () => {
      await api.createFlag('steps');
      const events = (await p.store.listLatestEvents(0, 1)).at(-1)?.id ?? 0;
      const started = await api.start('production', 'steps', { steps: [1, 5, 25, 100], every: '1s' });
      assert.equal(started.status, 201, JSON.stringify(started.json));
      const r = started.json as unknown as RolloutView;
      assert.deepEqual([r.status, r.applied, r.percent, r.nextPercent, r.startedBy], ['running', 1, 1, 5, 'user:admin']);
      assert.deepEqual(await api.delivered('production', 'steps'), { enabled: true, percent: '1' }, 'the first step is applied at start, and turns the flag on');
      const done = await api.waitFor('production', 'steps', 'the rollout to complete', (x) => x.status === 'completed');
      assert.deepEqual([done.applied, done.percent, done.nextStepAt], [4, 100, null]);
      assert.deepEqual(await api.delivered('production', 'steps'), { enabled: true, percent: '100' });
      assertStepsOnce(await api.steps(r.id), done);
      const changed = (await p.store.listEvents(events, 1000)).filter((e) => e.type === FLAG_CHANGED && (e.data as FlagChangedData).flag === 'steps');
      assert.deepEqual(changed.map((e) => (e.data as FlagChangedData).action), ['flag.rollout.start', 'flag.rollout.step', 'flag.rollout.step', 'flag.rollout.step']);
      const revisions = changed.map((e) => (e.data as FlagChangedData).revision!);
      assert.deepEqual([...revisions].sort((a, b) => a - b), revisions, 'each step moved the revision on');
      const all = await api.trail();
      const startAt = all.findIndex((e) => e.action === 'flag.rollout.start' && (e.after as { id?: string })?.id === r.id);
      assert.equal(all[startAt]?.actor, 'user:admin', 'who started it is on the trail');
      assert.equal((all[startAt + 1]?.after as { rollout?: string; step?: number } | undefined)?.step, 1, 'then the first step, by the platform');
    });

    test('pause stops the clock (no step while paused); resume goes on from the next step; each step still once', async () => {
      await api.createFlag('paused');
      const r = (await api.start('production', 'paused', { steps: [10, 20, 30], every: '1s' })).json as unknown as RolloutView;
      const paused = await api.ok<RolloutView>('POST', `${api.flagPath('production', 'paused')}/rollouts/pause`);
      assert.equal(paused.status, 'paused');
      assert.match(paused.reason ?? '', /paused by user:admin/);
      assert.equal((await api.call('POST', `${api.flagPath('production', 'paused')}/rollouts/pause`)).status, 409, 'paused already');
      const at = paused.applied;
      await sleep(2500);
      const still = await api.latest('production', 'paused');
      assert.deepEqual([still.status, still.applied], ['paused', at], 'no step was taken while paused');
      assert.equal((await api.delivered('production', 'paused'))?.percent, String(r.steps[at - 1]));
      const resumed = await api.ok<RolloutView>('POST', `${api.flagPath('production', 'paused')}/rollouts/resume`);
      assert.equal(resumed.status, 'running');
      assert.ok(resumed.nextStepAt, 'the next step has its time again');
      const done = await api.waitFor('production', 'paused', 'the resumed rollout to complete', (x) => x.status === 'completed');
      assertStepsOnce(await api.steps(r.id), done);
      assert.equal((await api.call('POST', `${api.flagPath('production', 'paused')}/rollouts/resume`)).status, 404, 'nothing in progress to resume');
    });

    test('abort: back to 0% by default (as Argo does), to a given percentage, or kept where it is; a new rollout may then start', async () => {
      await api.createFlag('aborted');
      const path = `${api.flagPath('production', 'aborted')}/rollouts`;
      await api.ok('POST', path, { steps: [20, 60, 100], every: '1h' });
      const a = await api.ok<RolloutView>('POST', `${path}/abort`, {});
      assert.equal(a.status, 'aborted');
      assert.match(a.reason ?? '', /aborted by user:admin; the percentage was set to 0%/);
      assert.deepEqual(await api.delivered('production', 'aborted'), { enabled: true, percent: '0' });
      assert.equal((await api.call('POST', `${path}/abort`, {})).status, 404, 'nothing left to abort');

      await api.ok('POST', path, { steps: [20, 60, 100], every: '1h' });
      assert.equal((await api.ok<RolloutView>('POST', `${path}/abort`, { keep: true })).status, 'aborted');
      assert.equal((await api.delivered('production', 'aborted'))?.percent, '20', 'kept');

      await api.ok('POST', path, { steps: [30, 60, 100], every: '1h' });
      await api.ok('POST', `${path}/abort`, { to: 5 });
      assert.equal((await api.delivered('production', 'aborted'))?.percent, '5');
      const history = await api.rollouts('production', 'aborted');
      assert.deepEqual(history.map((h) => h.status), ['aborted', 'aborted', 'aborted'], 'newest first, all kept');
      const entries = (await api.trail()).filter((e) => e.action === 'flag.rollout.abort' && e.target === 'flag/shop/production/aborted');
      assert.equal(entries.length, 3, 'each abort on the trail');
    });

    test('a manual change of the percentage (or turning the flag off) while a rollout runs pauses it: the user took over', async () => {
      await api.createFlag('taken');
      const path = `${api.flagPath('production', 'taken')}/rollouts`;
      const r = await api.ok<RolloutView>('POST', path, { steps: [10, 50, 100], every: '1h' });
      await api.ok('POST', `${api.flagPath('production', 'taken')}/rollout`, { percent: 30 });
      const paused = await api.latest('production', 'taken');
      assert.equal(paused.id, r.id);
      assert.equal(paused.status, 'paused');
      assert.match(paused.reason ?? '', /the user took over: user:admin set the rollout to 30%/);
      assert.equal((await api.delivered('production', 'taken'))?.percent, '30', "the user's percentage stands");
      const all = await api.trail();
      const pauseAt = all.findIndex((e) => e.action === 'flag.rollout.pause' && (e.after as { id?: string })?.id === r.id);
      assert.ok(pauseAt > 0, 'the pause is on the trail');
      assert.deepEqual([all[pauseAt - 1]?.action, all[pauseAt - 1]?.actor, all[pauseAt]?.actor], ['flag.rollout', 'user:admin', `system (rollout ${r.id} started by user:admin)`], "right after the user's change");

      await api.ok('POST', `${path}/resume`);
      await api.ok('POST', `${api.flagPath('production', 'taken')}/disable`);
      const off = await api.latest('production', 'taken');
      assert.equal(off.status, 'paused');
      assert.match(off.reason ?? '', /turned the flag off/);

      await api.ok('POST', `${path}/resume`);
      await api.ok('POST', `${api.flagPath('production', 'taken')}/enable`);
      assert.equal((await api.latest('production', 'taken')).status, 'running', 'turning it on does not move the percentage: the rollout goes on');

      await api.ok('POST', '/v1/apps/shop/envs/production/flags/import', { version: 1, features: [{ name: 'taken', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '70', stickiness: 'default', groupId: 'taken' }, constraints: [] }] }] });
      const imported = await api.latest('production', 'taken');
      assert.equal(imported.status, 'paused', 'an import that moves the percentage takes over too');
      assert.match(imported.reason ?? '', /set the rollout to 70%/);
    });

    test('a scheduled enable fires at its time, as one audited change by the platform; a cancelled one never does', async () => {
      await api.createFlag('timed');
      await api.createFlag('cancelled');
      const at = new Date(Date.now() + 1500).toISOString();
      const s = await api.ok<FlagScheduleRecord>('POST', `${api.flagPath('production', 'timed')}/schedules`, { at, action: 'enable' });
      assert.equal(s.status, 'pending');
      const c = await api.ok<FlagScheduleRecord>('POST', `${api.flagPath('production', 'cancelled')}/schedules`, { at, action: 'percent', percent: 40 });
      const listed = await api.ok<FlagScheduleRecord[]>('GET', '/v1/apps/shop/envs/production/flag-schedules');
      assert.deepEqual(listed.filter((x) => [s.id, c.id].includes(x.id)).map((x) => x.id).sort(), [s.id, c.id].sort());
      const cancelled = await api.ok<FlagScheduleRecord>('DELETE', `${api.flagPath('production', 'cancelled')}/schedules/${c.id}`);
      assert.deepEqual([cancelled.status, cancelled.cancelledBy], ['cancelled', 'user:admin']);
      assert.equal((await api.call('DELETE', `${api.flagPath('production', 'cancelled')}/schedules/${c.id}`)).status, 409, 'cancelled already');

      await until('the scheduled enable', async () => (await api.delivered('production', 'timed'))?.enabled === true);
      const applied = (await api.ok<FlagScheduleRecord[]>('GET', '/v1/apps/shop/envs/production/flag-schedules?all=true')).find((x) => x.id === s.id)!;
      assert.equal(applied.status, 'applied');
      assert.ok(Date.parse(applied.appliedAt!) >= Date.parse(at), 'not before its time');
      const entry = (await api.trail()).find((e) => e.action === 'flag.enable' && e.target === 'flag/shop/production/timed');
      assert.equal(entry?.actor, `system (schedule ${s.id} made by user:admin)`);
      await sleep(1500);
      assert.equal(await api.delivered('production', 'cancelled'), null, 'the cancelled change never happened');
      assert.equal((await api.ok<FlagScheduleRecord[]>('GET', '/v1/apps/shop/envs/production/flag-schedules?all=true')).find((x) => x.id === c.id)?.status, 'cancelled');
    });

    test('a step the flag refuses for good (archived mid-rollout) fails the rollout with the reason, on the trail', async () => {
      await api.createFlag('doomed');
      const r = await api.ok<RolloutView>('POST', `${api.flagPath('production', 'doomed')}/rollouts`, { steps: [10, 50, 100], every: '1s' });
      await api.ok('POST', '/v1/apps/shop/flags/doomed/archive');
      const failed = await api.waitFor('production', 'doomed', 'the rollout to fail', (x) => x.status !== 'running');
      assert.equal(failed.status, 'failed');
      assert.match(failed.reason ?? '', /step 2 \(50%\) could not be applied: flag doomed of shop is archived/);
      assert.equal(failed.applied, 1, 'nothing more was applied');
      const entry = (await api.trail()).find((e) => e.action === 'flag.rollout.fail' && (e.after as { id?: string })?.id === r.id);
      assert.equal(entry?.actor, `system (rollout ${r.id} started by user:admin)`);
    });

    test("a variant rollout moves the variant's share step by step; the others share the rest", async () => {
      await api.createFlag('colours');
      await api.ok('PUT', api.flagPath('production', 'colours'), { enabled: true, strategies: [{ name: 'default' }], variants: [{ name: 'control', weight: 1000, weightType: 'variable' }, { name: 'treatment', weight: 0, weightType: 'variable' }] });
      const r = await api.ok<RolloutView>('POST', `${api.flagPath('production', 'colours')}/rollouts`, { steps: [10, 50], every: '1s', variant: 'treatment' });
      assert.equal(r.variant, 'treatment');
      const weights = async () => (await api.state('production')).state.features.find((f) => f.name === 'colours')?.variants?.map((v) => [v.name, v.weight]);
      assert.deepEqual(await weights(), [['control', 900], ['treatment', 100]]);
      await api.waitFor('production', 'colours', 'the variant rollout to complete', (x) => x.status === 'completed');
      assert.deepEqual(await weights(), [['control', 500], ['treatment', 500]]);
      const steps = await api.steps(r.id);
      assert.deepEqual(steps.map((e) => e.after.percent), [10, 50]);
      assert.equal((await api.call('POST', `${api.flagPath('production', 'colours')}/rollouts`, { steps: [10, 50], every: '1s', variant: 'purple' })).status, 400, 'no such variant');
    });

    test('bad input is refused naming what is wrong (400, 404, 409), and changes nothing', async () => {
      await api.createFlag('careful');
      const path = `${api.flagPath('production', 'careful')}/rollouts`;
      const snapshot = async () => JSON.stringify([await api.state('production'), await api.rollouts('production', 'careful')]);
      const before = await snapshot();
      const refused = async (body: unknown, status: number, message: RegExp, at = path) => {
        const r = await api.call('POST', at, body);
        assert.equal(r.status, status, `${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
        assert.match(r.json.error?.message ?? '', message, JSON.stringify(body));
      };
      await refused({ steps: [5, 1, 50], every: '1m' }, 400, /step 2 \(1%\) is not above step 1 \(5%\)/);
      await refused({ steps: [5, 5], every: '1m' }, 400, /must increase/);
      await refused({ steps: [5, 150], every: '1m' }, 400, /at most 100/);
      await refused({ steps: [], every: '1m' }, 400, /at least one step/);
      await refused({ steps: [5, 50], every: '0s' }, 400, /every must be at least 1s/);
      await refused({ steps: [5, 50], every: '500ms' }, 400, /every must be at least 1s/);
      await refused({ steps: [5, 50], every: 'soon' }, 400, /every/);
      await refused({ steps: [5, 50], every: '1m', control: 'blue' }, 400, /control goes with guard and variant/);
      await refused({ steps: [5, 50], every: '1m', guard: true, variant: 'blue', control: 'blue' }, 400, /control must be another variant/);
      await refused({ steps: [5, 50], every: '1m', variant: 'blue' }, 400, /flag careful is off in production/);
      await refused({ steps: [5, 50], every: '1m' }, 404, /no flag nope/, `${api.flagPath('production', 'nope')}/rollouts`);
      await refused({ steps: [5, 50], every: '1m' }, 404, /no environment nowhere/, `${api.flagPath('nowhere', 'careful')}/rollouts`);
      await refused({ at: '2000-01-01T00:00:00Z', action: 'enable' }, 400, /in the past/, `${api.flagPath('production', 'careful')}/schedules`);
      await refused({ at: '2099-01-01T00:00:00Z', action: 'percent' }, 400, /action percent needs percent/, `${api.flagPath('production', 'careful')}/schedules`);
      await refused({ at: 'tomorrow', action: 'enable' }, 400, /ISO-8601/, `${api.flagPath('production', 'careful')}/schedules`);
      assert.equal(await snapshot(), before, 'nothing changed');

      const first = await api.ok<RolloutView>('POST', path, { steps: [5, 50], every: '1h' });
      const during = await snapshot();
      await refused({ steps: [10, 20], every: '1m' }, 409, new RegExp(`rollout in progress already \\(${first.id}, running, at step 1 of 2, started by user:admin\\)`));
      assert.equal(await snapshot(), during, 'the second rollout changed nothing');
      assert.equal((await api.call('POST', `${path}/abort`, { to: 5, keep: true })).status, 400, 'to and keep together');
      assert.equal(await snapshot(), during);
    });

    test('developers may roll out outside production only; a viewer may only look', async () => {
      await api.createFlag('rights');
      const as = (role: 'developer' | 'viewer') => new RolloutApi(p.server.url, p.tokens[role]);
      assert.equal((await as('developer').start('production', 'rights', { steps: [5, 50], every: '1h' })).status, 403);
      assert.equal((await as('developer').start('staging', 'rights', { steps: [5, 50], every: '1h' })).status, 201);
      assert.equal((await as('viewer').call('POST', `${api.flagPath('staging', 'rights')}/rollouts/pause`)).status, 403);
      const seen = await as('viewer').ok<RolloutView[]>('GET', '/v1/flag-rollouts?app=shop&env=staging');
      assert.deepEqual(seen.filter((r) => r.flag === 'rights').map((r) => [r.status, r.startedBy]), [['running', 'user:flags-developer']]);
    });
  });
}

rolloutSuite('flag rollouts on SQLite', () => undefined);

await withPostgres('flag rollouts on PostgreSQL', (db) => {
  rolloutSuite('flag rollouts on PostgreSQL', () => db.url);
  after(() => db.drop());
});
