/**
 * SIGKILL of a real server process in the middle of a flag rollout: the rollout's time is in the
 * store, so a new server applies the step that fell due while none ran (once, saying it is late),
 * then goes on from there without skipping or repeating a step; a scheduled change due while the
 * server was down is applied at start and marked late. SQLite and PostgreSQL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../demo/fixtures.js';
import type { FlagScheduleRecord } from '../store/flag-rollouts-types.js';
import { openStore } from '../store/index.js';
import { assertStepsOnce, RolloutApi } from '../test/flag-rollouts-kit.js';
import { withPostgres } from '../test/pg.js';
import { SplitPlatform, until } from '../test/split-platform.js';
import type { RolloutView } from './rollouts.js';

function killSuite(name: string, databaseUrl: () => string | undefined): void {
  describe(name, () => {
    let work: string;
    let platform: SplitPlatform;
    let url: string | undefined;
    const token = async () => (await readFile(join(platform.dataDir, 'api.token'), 'utf8')).trim();

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'rollgate-flag-kill-'));
      url = databaseUrl();
      platform = new SplitPlatform(join(work, '.rollgate'), url ? { ROLLGATE_DATABASE_URL: url } : {});
      await platform.startAgent();
    });
    after(async () => {
      await platform?.stopAll();
      if (work) await rm(work, { recursive: true, force: true });
    });

    test('SIGKILL mid-rollout: a new server takes the step that fell due while down, once, then the rest in order', async () => {
      const port = await freePort();
      let client = await platform.startServer(port);
      await client.applySpec({ apps: { shop: { run: 'node server.js', replicas: 1 } }, environments: { production: { listen: await freePort(), flagChangeRequests: false } } });
      let api = new RolloutApi(client.baseUrl, await token());
      await api.createFlag('survivor');
      await api.createFlag('timed');
      const r = (await api.start('production', 'survivor', { steps: [1, 5, 25, 50, 100], every: '2s' })).json as unknown as RolloutView;
      const mid = await api.waitFor('production', 'survivor', 'the second step', (x) => x.applied >= 2);
      assert.equal(mid.status, 'running');
      const schedule = await api.ok<FlagScheduleRecord>('POST', `${api.flagPath('production', 'timed')}/schedules`, { at: new Date(Date.now() + 500).toISOString(), action: 'enable' });

      await platform.killServer();
      await assert.rejects(fetch(`${client.baseUrl}/v1/health`), 'the server is gone');
      // As the store has it now that nothing runs: stay down past the next step's time (and the
      // schedule's), so both fall due with no server.
      const store = await openStore(url ? { url } : { dataDir: platform.dataDir });
      const atKill = (await store.flags.rollouts.getRollout(r.id))!;
      await store.close();
      assert.equal(atKill.status, 'running');
      assert.ok(atKill.applied < r.steps.length, 'killed mid-rollout');
      await sleep(Math.max(0, Date.parse(atKill.nextStepAt!) - Date.now()) + 1500);

      client = await platform.startServer(port);
      api = new RolloutApi(client.baseUrl, await token());
      const done = await api.waitFor('production', 'survivor', 'the resumed rollout to complete', (x) => x.status === 'completed');
      const steps = await api.steps(r.id);
      assertStepsOnce(steps, done);
      const late = steps.filter((s) => (s.after as { lateMs?: number }).lateMs !== undefined);
      assert.ok(late.length >= 1, 'the step due while no server ran says it was late');
      assert.deepEqual(await api.delivered('production', 'survivor'), { enabled: true, percent: '100' });

      const applied = await until('the late schedule', async () => (await api.ok<FlagScheduleRecord[]>('GET', '/v1/apps/shop/envs/production/flag-schedules?all=true')).find((s) => s.id === schedule.id && s.status === 'applied'));
      assert.match(applied.message ?? '', /applied .* late: no server was running at/);
      assert.equal((await api.delivered('production', 'timed'))?.enabled, true);
      const v = await api.ok<{ ok: boolean }>('GET', '/v1/audit/verify');
      assert.equal(v.ok, true, 'the trail verifies across the kill');
    });
  });
}


killSuite('flag rollout survives SIGKILL on SQLite', () => undefined);

await withPostgres('flag rollout survives SIGKILL on PostgreSQL', (db) => {
  killSuite('flag rollout survives SIGKILL on PostgreSQL', () => db.url);
  after(() => db.drop());
});
