/**
 * Two real server processes on one PostgreSQL database, both running their flag scheduler: every
 * step of a rollout (and a scheduled change) is applied exactly once, in order, whichever server
 * takes it; the audit trail, written by both, verifies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../demo/fixtures.js';
import type { FlagScheduleRecord } from '../store/flag-rollouts-types.js';
import { assertStepsOnce, RolloutApi } from '../test/flag-rollouts-kit.js';
import { withPostgres } from '../test/pg.js';
import { SplitPlatform, until } from '../test/split-platform.js';
import type { RolloutView } from './rollouts.js';

await withPostgres('flag rollouts with two servers on PostgreSQL', (db) => {
  describe('flag rollouts with two servers on PostgreSQL', () => {
    let work: string;
    let a: SplitPlatform;
    let b: SplitPlatform;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'rollgate-flag-replicas-'));
      // One data directory (one master key, so one audit key), one database, two servers.
      const dataDir = join(work, '.rollgate');
      a = new SplitPlatform(dataDir, { ROLLGATE_DATABASE_URL: db.url });
      b = new SplitPlatform(dataDir, { ROLLGATE_DATABASE_URL: db.url });
      await a.startAgent();
    });
    after(async () => {
      await b?.stopAll();
      await a?.stopAll();
      if (work) await rm(work, { recursive: true, force: true });
      await db.drop();
    });

    test('each step is applied once, in order, with two schedulers racing for it', async () => {
      const first = await a.startServer(await freePort());
      await first.applySpec({ apps: { shop: { run: 'node server.js', replicas: 1 } }, environments: { production: { listen: await freePort(), flagChangeRequests: false } } });
      const second = await b.startServer(await freePort());
      const token = (await readFile(join(a.dataDir, 'api.token'), 'utf8')).trim();
      const viaA = new RolloutApi(first.baseUrl, token);
      const viaB = new RolloutApi(second.baseUrl, token);
      await viaA.createFlag('raced');
      await viaA.createFlag('timed');
      const steps = [2, 4, 8, 16, 32, 50, 64, 80, 90, 100];
      const r = (await viaB.start('production', 'raced', { steps, every: '1s' })).json as unknown as RolloutView;
      assert.equal(r.applied, 1, JSON.stringify(r));
      const s = await viaA.ok<FlagScheduleRecord>('POST', `${viaA.flagPath('production', 'timed')}/schedules`, { at: new Date(Date.now() + 1500).toISOString(), action: 'percent', percent: 30 });

      const done = await viaA.waitFor('production', 'raced', 'the rollout to complete', (x) => x.status === 'completed', 60_000);
      assertStepsOnce(await viaB.steps(r.id), done);
      await until('the schedule', async () => (await viaB.ok<FlagScheduleRecord[]>('GET', '/v1/apps/shop/envs/production/flag-schedules?all=true')).find((x) => x.id === s.id && x.status === 'applied'));
      const applied = (await viaA.trail()).filter((e) => e.action === 'flag.rollout' && e.target === 'flag/shop/production/timed');
      assert.equal(applied.length, 1, 'the scheduled change was applied once');
      assert.equal((await viaB.delivered('production', 'timed'))?.percent, '30');
      assert.equal((await viaA.ok<{ ok: boolean }>('GET', '/v1/audit/verify')).ok, true);
    });
  });
});
