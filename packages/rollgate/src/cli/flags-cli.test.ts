/**
 * `rollgate flags …` as a user runs it: the real binary (test/cli-run.ts) against the real server
 * (agent process, runServer on SQLite). create → enable → rollout → get --json → import of a
 * client-specification file's state → list; SDK keys; bad input refused with the field named
 * and nothing changed; a viewer refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientFeatures } from '@rollgate/sdk/engine';
import type { BuiltinRoleName } from '../core/authz.js';
import type { FlagEnvState } from '../store/flags-types.js';
import { cleanEnv, rollgate, type Run } from '../test/cli-run.js';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';

const SPEC = '/work/shared/conformance/unleash-client-spec/specifications/09-strategy-constraints.json';

describe('rollgate flags', { timeout: 240_000 }, () => {
  let p: FlagsPlatform;
  const cli = (args: string[], role?: BuiltinRoleName): Promise<Run> =>
    rollgate(p.work, ['flags', ...args], 60_000, { ...cleanEnv(), ROLLGATE_SERVER: p.server.url, ROLLGATE_TOKEN: role ? p.tokens[role] : p.server.token! });
  const okRun = async (args: string[]): Promise<Run> => {
    const r = await cli(args);
    assert.equal(r.code, 0, `rollgate flags ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const state = (env: string) => p.admin.request<FlagEnvState>('GET', `/v1/apps/shop/envs/${env}/flags`);

  before(async () => {
    p = await startFlagsPlatform();
  });
  after(async () => {
    await p?.stop();
  });

  test('create, enable, rollout, get --json, import a specification state, list', async () => {
    const c = await okRun(['create', 'new-checkout', '--app', 'shop', '--description', 'the new checkout', '--owner', 'team-shop']);
    assert.match(c.stdout, /^created flag new-checkout of shop \(release, 40 days\)/);
    assert.match((await okRun(['enable', 'new-checkout', '--app', 'shop', '--env', 'production'])).stdout, /^new-checkout in production: on \(revision 1\)$/m);
    assert.match((await okRun(['rollout', 'new-checkout', '--app', 'shop', '--env', 'production', '--percent', '30'])).stdout, /^new-checkout in production: rollout 30% \(revision 2\)$/m);

    const got = JSON.parse((await okRun(['get', 'new-checkout', '--app', 'shop', '--json'])).stdout) as {
      name: string;
      owner: string;
      environments: { env: string; enabled: boolean; rollout: number }[];
      states: Record<string, { enabled: boolean; strategies: { name: string; parameters: Record<string, string> }[] }>;
    };
    assert.deepEqual([got.name, got.owner], ['new-checkout', 'team-shop']);
    assert.deepEqual(got.environments.map((e) => [e.env, e.enabled, e.rollout]), [['production', true, 30]]);
    assert.deepEqual(got.states.production!.strategies, [{ name: 'flexibleRollout', parameters: { rollout: '30', stickiness: 'default', groupId: 'new-checkout' }, constraints: [] }]);
    const human = (await okRun(['get', 'new-checkout', '--app', 'shop'])).stdout;
    assert.match(human, /^flag new-checkout of shop: release, owner team-shop$/m);
    assert.match(human, /^production\s+on\s+30%\s+1\s+/m);
    assert.match(human, /^production: flexibleRollout rollout=30 stickiness=default groupId=new-checkout$/m);

    const spec = JSON.parse(await readFile(SPEC, 'utf8')) as { state: ClientFeatures };
    const file = join(p.work, 'state.json');
    await writeFile(file, JSON.stringify(spec.state));
    const n = spec.state.features.length;
    const imp = await okRun(['import', file, '--app', 'shop', '--env', 'staging']);
    assert.match(imp.stdout, new RegExp(`^imported ${n} flags into shop in staging \\(${n} created, 0 updated, 0 segments\\); revision 1$`, 'm'));
    assert.deepEqual(
      (await state('staging')).state.features.map((f) => [f.name, f.enabled, f.strategies]),
      spec.state.features.map((f) => [f.name, f.enabled, f.strategies]).sort((a, b) => String(a[0]) < String(b[0]) ? -1 : 1),
    );

    const list = (await okRun(['list', '--app', 'shop'])).stdout;
    assert.match(list, /^NAME\s+KIND\s+ENVIRONMENTS\s+OWNER\s+STALE AFTER$/m);
    assert.match(list, /^new-checkout\s+release\s+production: on 30%\s+team-shop\s+\d{4}-\d\d-\d\d /m);
    for (const f of spec.state.features) assert.match(list, new RegExp(`^${f.name.replace(/\./g, '\\.')}\\s+release\\s+staging: on\\s`, 'm'));
    const inStaging = JSON.parse((await okRun(['list', '--app', 'shop', '--env', 'staging', '--json'])).stdout) as { name: string }[];
    assert.equal(inStaging.length, n + 1);
    assert.match((await okRun(['list', '--app', 'shop', '--env', 'production'])).stdout, /^new-checkout\s+release\s+on 30%\s+1\s+team-shop/m);

    assert.match((await okRun(['disable', 'new-checkout', '--app', 'shop', '--env', 'production'])).stdout, /off \(revision 3\)/);
    assert.match((await okRun(['update', 'new-checkout', '--app', 'shop', '--kind', 'kill-switch'])).stdout, /\(kill-switch, permanent, owner team-shop\)/);
    const flagFile = join(p.work, 'feature.json');
    await writeFile(flagFile, JSON.stringify({ enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'ana,bo' } }] }));
    assert.match((await okRun(['set', 'new-checkout', '--app', 'shop', '--env', 'production', '--file', flagFile])).stdout, /rules set, on/);
    assert.match((await okRun(['archive', 'new-checkout', '--app', 'shop'])).stdout, /^archived flag new-checkout of shop/);
    assert.ok(!(await state('production')).state.features.some((f) => f.name === 'new-checkout'));
  });

  test('SDK keys: create --json prints exactly the key; list shows prefixes; revoke', async () => {
    const r = await okRun(['key', 'create', '--app', 'shop', '--env', 'production', '--kind', 'server', '--json']);
    const doc = JSON.parse(r.stdout) as Record<string, string>;
    assert.deepEqual(Object.keys(doc), ['key']);
    assert.match(doc.key!, /^rgs_[A-Za-z0-9_-]{43}$/);
    assert.equal(r.stderr, '', 'nothing else is printed');
    const human = await okRun(['key', 'create', '--app', 'shop', '--env', 'staging', '--kind', 'client', '--name', 'web']);
    assert.match(human.stdout, /^rgc_[A-Za-z0-9_-]{43}\nSDK key fk_[0-9a-f]{16} \(client\) for shop in staging\.\nIt is shown only now/);
    const list = (await okRun(['key', 'list', '--app', 'shop'])).stdout;
    assert.match(list, /^ID\s+ENV\s+KIND\s+NAME\s+KEY\s+STATUS\s+CREATED\s+BY$/m);
    assert.match(list, new RegExp(`^fk_[0-9a-f]{16}\\s+production\\s+server\\s+server key\\s+${doc.key!.slice(0, 12).replace(/[-]/g, '\\-')}…\\s+active`, 'm'));
    assert.ok(!list.includes(doc.key!), 'a listing never shows a key');
    const resolved = await p.flags.keys.resolve(doc.key!);
    assert.deepEqual([resolved.app, resolved.env, resolved.kind], ['shop', 'production', 'server']);
    const rev = await okRun(['key', 'revoke', resolved.id, '--app', 'shop', '--env', 'production']);
    assert.match(rev.stdout, new RegExp(`^revoked SDK key ${resolved.id} \\(`));
    await assert.rejects(p.flags.keys.resolve(doc.key!), /was revoked/);
    const keys = JSON.parse((await okRun(['key', 'list', '--app', 'shop', '--env', 'production', '--json'])).stdout) as { id: string; revokedAt: string | null }[];
    assert.ok(keys.find((k) => k.id === resolved.id)?.revokedAt);
  });

  test('bad input is refused naming the field (exit 2), and changes nothing; a viewer cannot change flags', async () => {
    await okRun(['create', 'guarded', '--app', 'shop']);
    await okRun(['enable', 'guarded', '--app', 'shop', '--env', 'staging']);
    const before = await state('staging');
    const bad = join(p.work, 'bad.json');
    const cases: [unknown, RegExp][] = [
      [{ enabled: true, strategies: [{ name: 'default', constraints: [{ contextName: 'userId', operator: 'LIKE', values: ['1'] }] }] }, /strategies\[0\]\.constraints\[0\]\.operator: expected an operator, one of IN/],
      [{ enabled: true, variants: [{ name: 'a', weight: 5000 }] }, /variants\[0\]\.weight: a weight is at most 1000/],
      [{ enabled: true, strategies: [{ name: 'default', segments: [7] }] }, /strategies\[0\]\.segments\[0\]: segment 7 does not exist/],
      [{ enabled: true, strategies: [{ name: 'default', constraints: [{ contextName: 'a\u0007b', operator: 'IN', values: [] }] }] }, /contextName: a context field name must not contain control characters/],
      ['on', /invalid flag state: expected an object \(an Unleash feature\)/],
    ];
    for (const [body, re] of cases) {
      await writeFile(bad, JSON.stringify(body));
      const r = await cli(['set', 'guarded', '--app', 'shop', '--env', 'staging', '--file', bad]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.match(r.stderr, /nothing was changed \(invalid_input\)/);
    }
    await writeFile(bad, JSON.stringify({ version: 1, features: [{ name: 'guarded', enabled: true, strategies: [{ name: 'default', segments: [1] }] }] }));
    const imp = await cli(['import', bad, '--app', 'shop', '--env', 'staging', '--json']);
    assert.equal(imp.code, 2);
    const err = JSON.parse(imp.stdout) as { error: { code: string; details: { problems: { path: string }[] } } };
    assert.deepEqual([err.error.code, err.error.details.problems[0]?.path], ['invalid_input', 'features[0].strategies[0].segments[0]']);
    await writeFile(bad, '{not json');
    const notJson = await cli(['import', bad, '--app', 'shop', '--env', 'staging']);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /is not JSON/);
    assert.equal((await cli(['rollout', 'guarded', '--app', 'shop', '--env', 'staging', '--percent', '101'])).code, 2);

    const viewer = await cli(['disable', 'guarded', '--app', 'shop', '--env', 'staging'], 'viewer');
    assert.equal(viewer.code, 2);
    assert.match(viewer.stderr, /user:flags-viewer may not flags on app shop, environment staging; ask an admin for a role that grants "flags" there \(forbidden\)/);
    const dev = await cli(['enable', 'guarded', '--app', 'shop', '--env', 'production'], 'developer');
    assert.match(dev.stderr, /may not flags on app shop, environment production \(production\)/);
    assert.deepEqual(await state('staging'), before, 'nothing changed');
    assert.equal((await cli(['list', '--app', 'shop'], 'viewer')).code, 0, 'a viewer reads');
  });
  test('flags stale: fresh flags are not stale; --days is checked; a viewer may ask', async () => {
    await okRun(['create', 'brand-new', '--app', 'shop']);
    const r = await cli(['stale', '--app', 'shop', '--json'], 'viewer');
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { name: string }[];
    assert.ok(!list.some((f) => f.name === 'brand-new'), r.stdout);
    assert.match((await okRun(['stale', '--app', 'shop', '--days', '7'])).stdout, /^no stale flags in shop$/m);
    const bad = await cli(['stale', '--app', 'shop', '--days', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /days/);
    // The route itself, past the CLI: every wrong query is a 400 naming it, an unknown app a 404.
    for (const q of ['days=abc', 'days=-1', 'days=1e9', 'days=30&extra=1']) {
      const r = await fetch(`${p.server.url}/v1/apps/shop/stale-flags?${q}`, { headers: { authorization: `Bearer ${p.server.token}` } });
      assert.equal(r.status, 400, q);
      assert.match(await r.text(), /days|extra/, q);
    }
    const none = await fetch(`${p.server.url}/v1/apps/no-such-app/stale-flags`, { headers: { authorization: `Bearer ${p.server.token}` } });
    assert.equal(none.status, 404);
  });
});
