/**
 * `rollgate flags rollout --steps/--every`, `rollout status|pause|resume|abort`, `flags schedule`
 * and the rollout lines of `rollgate status` and `flags get`, as a user runs them: the real binary
 * against the real server (agent process, runServer on SQLite).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RolloutView } from '../flags/rollouts.js';
import type { FlagScheduleRecord } from '../store/flag-rollouts-types.js';
import { cleanEnv, rollgate, type Run } from '../test/cli-run.js';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';
import { until } from '../test/split-platform.js';

describe('rollgate flags rollout and schedule', { timeout: 240_000 }, () => {
  let p: FlagsPlatform;
  const run = (args: string[]): Promise<Run> => rollgate(p.work, args, 60_000, { ...cleanEnv(), ROLLGATE_SERVER: p.server.url, ROLLGATE_TOKEN: p.server.token! });
  const okRun = async (args: string[]): Promise<Run> => {
    const r = await run(args);
    assert.equal(r.code, 0, `rollgate ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const at = ['--app', 'shop', '--env', 'production'];

  before(async () => {
    p = await startFlagsPlatform();
  });
  after(async () => {
    await p?.stop();
  });

  test('a stepped rollout: started, seen in status and flags get, paused, resumed to the end; another aborted back to 0%', async () => {
    await okRun(['flags', 'create', 'banner', '--app', 'shop']);
    const started = await okRun(['flags', 'rollout', 'banner', ...at, '--steps', '1,5,100', '--every', '1s']);
    assert.match(started.stdout, /^flag banner rollout fr_[0-9a-f]{16} in production: running, step 1 of 3 at 1%, next 5% at .*; steps 1,5,100% every 1s; started by user:admin$/m);
    const paused = await okRun(['flags', 'rollout', 'pause', 'banner', ...at]);
    assert.match(paused.stdout, /: paused at step \d of 3 at \d+%.*: paused by user:admin;/);
    const status = await okRun(['status']);
    assert.match(status.stdout, /^shop\/production: flag banner rollout fr_[0-9a-f]{16} in production: paused at step \d of 3/m, 'rollgate status has a line for the rollout');
    assert.match((await okRun(['flags', 'get', 'banner', '--app', 'shop'])).stdout, /^flag banner rollout .* paused at step/m);
    const got = JSON.parse((await okRun(['flags', 'get', 'banner', '--app', 'shop', '--json'])).stdout) as { rollouts: RolloutView[] };
    assert.deepEqual(got.rollouts.map((r) => r.status), ['paused']);
    await okRun(['flags', 'rollout', 'resume', 'banner', ...at]);
    await until('the rollout to complete', async () => /completed at step 3 of 3 at 100%/.test((await okRun(['flags', 'rollout', 'status', 'banner', ...at])).stdout));
    assert.doesNotMatch((await okRun(['status'])).stdout, /flag banner rollout/, 'a finished rollout leaves status');

    await okRun(['flags', 'rollout', 'banner', ...at, '--steps', '10,50', '--every', '1h']);
    const aborted = await okRun(['flags', 'rollout', 'abort', 'banner', ...at]);
    assert.match(aborted.stdout, /aborted at step 1 of 2 at 10%: aborted by user:admin; the percentage was set to 0%/);
    const s = await p.admin.request<{ state: { features: { name: string; strategies: { parameters: Record<string, string> }[] }[] } }>('GET', '/v1/apps/shop/envs/production/flags');
    assert.equal(s.state.features.find((f) => f.name === 'banner')?.strategies[0]?.parameters.rollout, '0');
    assert.match((await okRun(['flags', 'rollout', 'banner', ...at, '--percent', '40'])).stdout, /^banner in production: rollout 40% \(revision \d+\)$/m, 'the --percent form stays');
  });

  test('bad input: named, nothing started', async () => {
    await okRun(['flags', 'create', 'strict', '--app', 'shop']);
    const refused = async (args: string[], message: RegExp) => {
      const r = await run(['flags', ...args]);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
    };
    await refused(['rollout', 'strict', ...at, '--steps', '5,1', '--every', '1m'], /step 2 \(1%\) is not above step 1 \(5%\)/);
    await refused(['rollout', 'strict', ...at, '--steps', '5,x', '--every', '1m'], /--steps "5,x": give whole percentages/);
    await refused(['rollout', 'strict', ...at, '--steps', '5,50', '--every', '0s'], /every must be at least 1s/);
    await refused(['rollout', 'strict', ...at, '--steps', '5,50'], /needs both --steps .* and --every/);
    await refused(['rollout', 'strict', ...at, '--steps', '5,50', '--every', '1m', '--control', 'blue'], /control goes with guard and variant/);
    await refused(['rollout', 'strict', ...at, '--percent', '5', '--guard'], /--guard and --control go with --steps/);
    await refused(['rollout', 'strict', ...at, '--steps', '5,50', '--every', '1m', '--percent', '5'], /not both/);
    await refused(['rollout', 'pause', 'strict', ...at], /has no rollout in progress in production/);
    const history = await p.admin.request<RolloutView[]>('GET', '/v1/apps/shop/envs/production/flags/strict/rollouts');
    assert.deepEqual(history, [], 'nothing was started');
  });

  test('schedule: a change at a time, listed, cancelled; one a second away fires', async () => {
    await okRun(['flags', 'create', 'later', '--app', 'shop']);
    const s = await okRun(['flags', 'schedule', 'later', ...at, '--at', '1h', 'enable']);
    const id = /scheduled: (fs_[0-9a-f]{16})/.exec(s.stdout)?.[1];
    assert.ok(id, s.stdout);
    assert.match((await okRun(['flags', 'schedule', 'list', ...at])).stdout, new RegExp(`^${id} .* later enable\\s+pending\\s+by user:admin$`, 'm'));
    assert.match((await okRun(['flags', 'schedule', 'cancel', id, ...at])).stdout, /^cancelled: .* cancelled by user:admin/m);
    assert.doesNotMatch((await okRun(['flags', 'schedule', 'list', ...at])).stdout, new RegExp(id));

    await okRun(['flags', 'schedule', 'later', ...at, '--at', '1s', '--percent', '25']);
    const applied = await until('the scheduled percentage', async () => (await p.admin.request<FlagScheduleRecord[]>('GET', '/v1/apps/shop/envs/production/flag-schedules?all=true')).find((x) => x.action === 'percent' && x.status === 'applied'));
    assert.equal(applied.percent, 25);
    const r = await run(['flags', 'schedule', 'later', ...at, '--at', 'tomorrow', 'enable']);
    assert.match(r.stderr, /--at "tomorrow": give an ISO time/);
  });
});
