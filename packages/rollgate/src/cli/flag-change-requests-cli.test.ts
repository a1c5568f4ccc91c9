/**
 * `rollgate flags propose|requests|approve|reject|cancel` and `flags disable --now`, as users run
 * them: the real binary against the real server (agent process, runServer on SQLite), production
 * requiring change requests as it does by default, each user with their own token.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuiltinRoleName } from '../core/authz.js';
import type { ChangeRequestView } from '../flags/change-requests.js';
import { cleanEnv, rollgate, type Run } from '../test/cli-run.js';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';

describe('rollgate flags propose, requests, approve, reject, cancel and disable --now', { timeout: 240_000 }, () => {
  let p: FlagsPlatform;
  const run = (as: BuiltinRoleName, args: string[]): Promise<Run> => rollgate(p.work, args, 60_000, { ...cleanEnv(), ROLLGATE_SERVER: p.server.url, ROLLGATE_TOKEN: as === 'admin' ? p.server.token! : p.tokens[as] });
  const okRun = async (as: BuiltinRoleName, args: string[]): Promise<Run> => {
    const r = await run(as, args);
    assert.equal(r.code, 0, `rollgate ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const refused = async (as: BuiltinRoleName, args: string[], message: RegExp): Promise<void> => {
    const r = await run(as, args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
  };
  const at = ['--app', 'shop', '--env', 'production'];
  const delivered = async (flag: string) => (await p.admin.request<{ state: { features: { name: string; enabled: boolean; strategies: { parameters?: Record<string, string> }[] }[] } }>('GET', '/v1/apps/shop/envs/production/flags')).state.features.find((f) => f.name === flag);

  before(async () => {
    p = await startFlagsPlatform(undefined, {}, { changeRequests: true });
  });
  after(async () => {
    await p?.stop();
  });

  test('refused directly, proposed by a developer, listed, approved by a release manager; the proposer cannot approve', async () => {
    await okRun('admin', ['flags', 'create', 'banner', '--app', 'shop']);
    await refused('release-manager', ['flags', 'enable', 'banner', ...at], /requires a change request for flag changes .*`rollgate flags propose banner --app shop --env production --enable --reason "…"`/);

    const made = await okRun('developer', ['flags', 'propose', 'banner', ...at, '--percent', '20', '--reason', 'a fifth first']);
    assert.match(made.stdout, /^change request cr_[0-9a-f]{16}: rollout 20% of flag banner \(shop\) in production, proposed by user:flags-developer: open until /m);
    assert.match(made.stdout, /`rollgate flags approve cr_[0-9a-f]{16}`/);
    const id = /(cr_[0-9a-f]{16})/.exec(made.stdout)![1]!;

    const listed = await okRun('viewer', ['flags', 'requests', '--app', 'shop', '--env', 'production']);
    assert.match(listed.stdout, new RegExp(`^${id}\\s+shop\\s+production\\s+banner\\s+rollout 20%\\s+open\\s+user:flags-developer\\s+.*a fifth first$`, 'm'));
    const json = JSON.parse((await okRun('viewer', ['flags', 'requests', '--app', 'shop', '--json'])).stdout) as ChangeRequestView[];
    assert.ok(json.some((r) => r.id === id && r.status === 'open'));
    assert.match((await okRun('viewer', ['flags', 'get', 'banner', '--app', 'shop'])).stdout, new RegExp(`^change request ${id}: rollout 20% .* open until`, 'm'), '`flags get` shows what waits for approval');
    assert.match((await okRun('viewer', ['status'])).stdout, new RegExp(`^shop/production: change request ${id}: rollout 20% `, 'm'), '`rollgate status` shows it too');
    const detail = await okRun('viewer', ['flags', 'requests', id]);
    assert.match(detail.stdout, /^before: not set there$/m);
    assert.match(detail.stdout, /^after: {2}off; flexibleRollout rollout=20 /m);

    await refused('developer', ['flags', 'approve', id], /approve/);
    const approved = await okRun('release-manager', ['flags', 'approve', id, '--reason', 'checked']);
    assert.match(approved.stdout, new RegExp(`^change request ${id}: rollout 20% .* approved by user:flags-release-manager .*; applied at revision \\d+$`, 'm'));
    assert.equal((await delivered('banner'))?.strategies[0]?.parameters?.rollout, '20');

    const own = JSON.parse((await okRun('release-manager', ['flags', 'propose', 'banner', ...at, '--enable', '--reason', 'go', '--json'])).stdout) as ChangeRequestView;
    await refused('release-manager', ['flags', 'approve', own.id], /may not approve it \(separation of duties\)/);
    await okRun('admin', ['flags', 'approve', own.id]);
    assert.equal((await delivered('banner'))?.enabled, true);
  });

  test('reject with a reason, cancel your own; a set from a file; bad input named', async () => {
    await okRun('admin', ['flags', 'create', 'promo', '--app', 'shop']);
    const a = JSON.parse((await okRun('developer', ['flags', 'propose', 'promo', ...at, '--enable', '--reason', 'launch', '--json'])).stdout) as ChangeRequestView;
    assert.match((await okRun('release-manager', ['flags', 'reject', a.id, '--reason', 'after the freeze'])).stdout, /: rejected by user:flags-release-manager/);
    await refused('release-manager', ['flags', 'approve', a.id], /is rejected already/);
    const file = join(p.work, 'promo.json');
    await writeFile(file, JSON.stringify({ enabled: true, strategies: [{ name: 'default', constraints: [{ contextName: 'country', operator: 'IN', values: ['no'] }] }] }));
    const b = JSON.parse((await okRun('developer', ['flags', 'propose', 'promo', ...at, '--file', file, '--reason', 'Norway only', '--expires', '2h', '--json'])).stdout) as ChangeRequestView;
    assert.equal(b.action, 'set');
    await refused('release-manager', ['flags', 'cancel', b.id], /only user:flags-developer, who proposed/);
    assert.match((await okRun('developer', ['flags', 'cancel', b.id])).stdout, /: cancelled by user:flags-developer/);
    assert.equal(await delivered('promo'), undefined, 'nothing applied');

    const steps = await okRun('developer', ['flags', 'propose', 'promo', ...at, '--steps', '1,10,100', '--every', '10m', '--reason', 'gently']);
    assert.match(steps.stdout, /^change request cr_[0-9a-f]{16}: rollout 1,10,100% every 10m00s of flag promo \(shop\) in production/m);
    await okRun('developer', ['flags', 'cancel', /(cr_[0-9a-f]{16})/.exec(steps.stdout)![1]!]);
    await refused('developer', ['flags', 'propose', 'promo', ...at, '--steps', '1,10', '--reason', 'x'], /needs both --steps .* and --every/);
    await refused('developer', ['flags', 'propose', 'promo', ...at, '--enable', '--disable', '--reason', 'x'], /exactly one of --enable, --disable/);
    await refused('developer', ['flags', 'propose', 'promo', ...at, '--enable'], /--reason/);
    await refused('developer', ['flags', 'propose', 'promo', ...at, '--enable', '--reason', 'x', '--expires', '5s'], /expires is at least 1m/);
    await refused('developer', ['flags', 'requests', 'cr_nope'], /change request ids look like cr_/);
    await refused('developer', ['flags', 'requests', '--status', 'maybe'], /--status is one of/);
    const all = JSON.parse((await okRun('admin', ['flags', 'requests', '--flag', 'promo', '--status', 'all', '--json'])).stdout) as ChangeRequestView[];
    assert.deepEqual(all.map((r) => r.status).sort(), ['cancelled', 'cancelled', 'rejected'], 'the refused proposals made nothing');
  });

  test('disable --now: the kill switch for those holding flags.kill, refused to others naming it', async () => {
    await okRun('admin', ['flags', 'create', 'hot', '--app', 'shop']);
    const cr = JSON.parse((await okRun('developer', ['flags', 'propose', 'hot', ...at, '--enable', '--reason', 'on', '--json'])).stdout) as ChangeRequestView;
    await okRun('release-manager', ['flags', 'approve', cr.id]);
    await refused('release-manager', ['flags', 'disable', 'hot', ...at], /kill switch needs no approval: `rollgate flags disable hot --app shop --env production --now`/);
    await refused('developer', ['flags', 'disable', 'hot', ...at, '--now'], /flags\.kill/);
    await refused('release-manager', ['flags', 'disable', 'hot', ...at, '--reason', 'x'], /--reason goes with --now/);
    assert.equal((await delivered('hot'))?.enabled, true);
    const killed = await okRun('release-manager', ['flags', 'disable', 'hot', ...at, '--now', '--reason', 'errors up']);
    assert.match(killed.stdout, /^hot in production: off \(kill switch\) \(revision \d+\)$/m);
    assert.equal((await delivered('hot'))?.enabled, false);
    const trail = await p.admin.request<{ action: string; actor: string; after: { reason?: string } }[]>('GET', '/v1/audit?action=flag.kill&limit=5');
    assert.deepEqual(trail.map((e) => [e.actor, e.after.reason]), [['user:flags-release-manager', 'errors up']]);
  });
});
