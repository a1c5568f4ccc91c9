/**
 * The flag routes against the real server (agent process, runServer, SQLite and PostgreSQL):
 * the life of a flag, rollouts, imports, archiving, who may change what, SDK keys, and bad
 * rules refused with the path named and nothing changed (state, revision, trail).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { ClientFeatures } from '@rollgate/sdk/engine';
import { isRollgateError } from '../core/errors.js';
import { FLAG_CHANGED, type FlagChangedData } from '../flags/changes.js';
import { FLAG_KEY_REVOKED } from '../flags/flag-keys.js';
import type { FlagEnvState } from '../store/flags-types.js';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';
import { withPostgres } from '../test/pg.js';
import { callJson, type Answer, type Entry } from '../test/flag-rollouts-kit.js';

import { SPEC_DIR } from '@rollgate/sdk/conformance';

function flagsSuite(name: string, databaseUrl: () => string | undefined): void {
  describe(name, () => {
    let p: FlagsPlatform;
    const call = (method: string, path: string, body?: unknown, token = p.server.token!, raw?: string): Promise<Answer> => callJson(p.server.url, token, method, path, body, raw);
    const ok = async <T>(method: string, path: string, body?: unknown, token?: string): Promise<T> => {
      const r = await call(method, path, body, token);
      assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.json).slice(0, 400)}`);
      return r.json as T;
    };
    const state = (env: string) => ok<FlagEnvState>('GET', `/v1/apps/shop/envs/${env}/flags`);
    const trail = (after: number) => p.admin.request<Entry[]>('GET', '/v1/audit', { query: { after, limit: 100 } });
    const lastSeq = async () => (await p.admin.request<Entry[]>('GET', '/v1/audit', { query: { limit: 1 } }))[0]?.seq ?? 0;

    before(async () => {
      p = await startFlagsPlatform(databaseUrl());
    });
    after(async () => {
      await p?.stop();
    });

    test('a flag: created with the default lifetime of its kind, enabled, rolled out, read; each change on the trail with before and after, and announced', async () => {
      const mark = await lastSeq();
      const events = (await p.store.listLatestEvents(0, 1)).at(-1)?.id ?? 0;
      const created = await ok<{ name: string; kind: string; lifetimeDays: number | null; owner: string }>('POST', '/v1/apps/shop/flags', { name: 'new-checkout', description: 'the new checkout' });
      assert.deepEqual([created.kind, created.lifetimeDays], ['release', 40]);
      assert.ok(created.owner.length > 0, 'the owner defaults to the creator');
      for (const [kind, days] of [['experiment', 40], ['operational', 7], ['kill-switch', null], ['permission', null]] as const) {
        const f = await ok<{ lifetimeDays: number | null }>('POST', '/v1/apps/shop/flags', { name: `a-${kind}`, kind });
        assert.equal(f.lifetimeDays, days, kind);
      }
      assert.equal((await call('POST', '/v1/apps/shop/flags', { name: 'new-checkout' })).status, 409, 'a name is taken once');
      assert.equal((await state('production')).state.features.length, 0, 'a new flag is in no environment yet');

      const on = await ok<{ revision: number; state: { enabled: boolean } }>('POST', '/v1/apps/shop/envs/production/flags/new-checkout/enable');
      assert.deepEqual([on.revision, on.state.enabled], [1, true]);
      const r = await ok<{ revision: number; state: { strategies: { name: string; parameters: Record<string, string> }[] } }>('POST', '/v1/apps/shop/envs/production/flags/new-checkout/rollout', { percent: 25 });
      assert.equal(r.revision, 2);
      assert.deepEqual(r.state.strategies, [{ name: 'flexibleRollout', parameters: { rollout: '25', stickiness: 'default', groupId: 'new-checkout' }, constraints: [] }]);
      const again = await ok<{ state: { strategies: { parameters: Record<string, string> }[] } }>('POST', '/v1/apps/shop/envs/production/flags/new-checkout/rollout', { percent: 60 });
      assert.equal(again.state.strategies.length, 1, 'the same strategy is changed');
      assert.equal(again.state.strategies[0]!.parameters.rollout, '60');

      const s = await state('production');
      assert.equal(s.revision, 3);
      assert.equal((await fetch(`${p.server.url}/v1/apps/shop/envs/production/flags`, { headers: { authorization: `Bearer ${p.server.token!}` } })).headers.get('etag'), '"3"');
      assert.deepEqual(s.state.features, [
        { name: 'new-checkout', type: 'release', description: 'the new checkout', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '60', stickiness: 'default', groupId: 'new-checkout' }, constraints: [] }] },
      ]);
      const detail = await ok<{ environments: { env: string; enabled: boolean; rollout: number | null }[]; staleAfter: string }>('GET', '/v1/apps/shop/flags/new-checkout');
      assert.deepEqual(detail.environments.map((e) => [e.env, e.enabled, e.rollout]), [['production', true, 60]]);
      assert.ok(detail.staleAfter > new Date(Date.now() + 39 * 86_400_000).toISOString());
      const list = await ok<{ name: string }[]>('GET', '/v1/apps/shop/flags');
      assert.deepEqual(list.map((f) => f.name), ['a-experiment', 'a-kill-switch', 'a-operational', 'a-permission', 'new-checkout']);

      const entries = (await trail(mark)).filter((e) => e.target.includes('new-checkout'));
      const byAction = (a: string) => entries.filter((e) => e.action === a);
      assert.equal(byAction('flag.create').length, 1);
      assert.equal(byAction('flag.create')[0]!.outcome, 'ok');
      const enable = byAction('flag.enable')[0]!;
      assert.deepEqual([enable.before, enable.after], [null, { revision: 1, state: { enabled: true, strategies: [] } }]);
      const [first, second] = byAction('flag.rollout').sort((a, b) => a.seq - b.seq);
      assert.deepEqual((first!.before as { enabled: boolean }).enabled, true);
      assert.deepEqual((second!.before as { strategies: { parameters: { rollout: string } }[] }).strategies[0]!.parameters.rollout, '25');
      assert.deepEqual((second!.after as { revision: number }).revision, 3);
      assert.ok(entries.every((e) => e.actor === 'token:admin' || e.actor.startsWith('user:')));
      assert.equal(entries.filter((e) => e.outcome === 'ok' && e.action === 'flag.create').length, 1, 'the refused second create is no ok entry');
      const all = await trail(mark);
      assert.ok(all.some((e) => e.outcome === 'failed' && e.target === '/v1/apps/shop/flags'), 'the refused second create is on the trail as failed');

      const announced = (await p.store.listEvents(events, 1000)).filter((e) => e.type === FLAG_CHANGED && (e.data as FlagChangedData).flag === 'new-checkout');
      assert.deepEqual(
        announced.map((e) => [e.env, (e.data as FlagChangedData).revision, (e.data as FlagChangedData).action]),
        [[null, null, 'flag.create'], ['production', 1, 'flag.enable'], ['production', 2, 'flag.rollout'], ['production', 3, 'flag.rollout']],
      );
      assert.equal((announced[1]!.data as FlagChangedData).actor, enable.actor);
    });

    test('rollout: with several flexibleRollout strategies the caller says which (by index or id); otherwise refused, nothing changed', async () => {
      await ok('POST', '/v1/apps/shop/flags', { name: 'two-rollouts' });
      const fr = (id: string, rollout: string) => ({ id, name: 'flexibleRollout', parameters: { rollout, stickiness: 'userId', groupId: 'g' } });
      await ok('PUT', '/v1/apps/shop/envs/staging/flags/two-rollouts', { enabled: true, strategies: [fr('eu', '10'), { name: 'default' }, fr('us', '20')] });
      const rev = (await state('staging')).revision;
      const refused = await call('POST', '/v1/apps/shop/envs/staging/flags/two-rollouts/rollout', { percent: 50 });
      assert.equal(refused.status, 400);
      assert.match(refused.json.error!.message, /2 flexibleRollout strategies .*0 \(id eu\), 2 \(id us\).*--strategy/);
      assert.equal((await state('staging')).revision, rev, 'no revision');
      const byId = await ok<{ state: { strategies: { parameters?: Record<string, string> }[] } }>('POST', '/v1/apps/shop/envs/staging/flags/two-rollouts/rollout', { percent: 50, strategy: 'us' });
      assert.deepEqual(byId.state.strategies.map((s) => s.parameters?.rollout), ['10', undefined, '50']);
      assert.equal(byId.state.strategies[2]!.parameters!.stickiness, 'userId', 'the stickiness stays');
      const byIndex = await ok<{ state: { strategies: { parameters?: Record<string, string> }[] } }>('POST', '/v1/apps/shop/envs/staging/flags/two-rollouts/rollout', { percent: 5, strategy: 0 });
      assert.deepEqual(byIndex.state.strategies.map((s) => s.parameters?.rollout), ['5', undefined, '50']);
      const notOne = await call('POST', '/v1/apps/shop/envs/staging/flags/two-rollouts/rollout', { percent: 5, strategy: 1 });
      assert.equal(notOne.status, 400);
      assert.match(notOne.json.error!.message, /strategy 1 .* is not a flexibleRollout strategy/);
      for (const percent of [101, -1, 2.5, '50']) assert.equal((await call('POST', '/v1/apps/shop/envs/staging/flags/two-rollouts/rollout', { percent })).status, 400, String(percent));
    });

    test('bad rules are a 400 naming the field and what is expected; the state, the revision and the trail (but the refusal) are unchanged', async () => {
      await ok('POST', '/v1/apps/shop/flags', { name: 'guarded' });
      const good = { enabled: true, strategies: [{ name: 'default', constraints: [{ contextName: 'userId', operator: 'IN', values: ['1'] }] }] };
      await ok('PUT', '/v1/apps/shop/envs/staging/flags/guarded', good);
      const before = await state('staging');
      const mark = await lastSeq();
      const strategy = (c: Record<string, unknown>) => ({ enabled: true, strategies: [{ name: 'default', constraints: [c] }] });
      const cases: { what: string; body?: unknown; raw?: string; path: RegExp; message: RegExp }[] = [
        { what: 'unknown operator', body: strategy({ contextName: 'userId', operator: 'NOT_A_VALID_OPERATOR', values: ['1'] }), path: /^strategies\[0\]\.constraints\[0\]\.operator$/, message: /one of IN, NOT_IN/ },
        { what: 'weight over 1000', body: { enabled: true, variants: [{ name: 'a', weight: 1001 }] }, path: /^variants\[0\]\.weight$/, message: /at most 1000/ },
        { what: 'weight not whole', body: { enabled: true, variants: [{ name: 'a', weight: 10.5 }] }, path: /^variants\[0\]\.weight$/, message: /whole number/ },
        { what: 'unknown segment', body: { enabled: true, strategies: [{ name: 'default', segments: [42] }] }, path: /^strategies\[0\]\.segments\[0\]$/, message: /segment 42 does not exist/ },
        { what: 'control characters in a context name', body: strategy({ contextName: 'user\u0000Id', operator: 'IN', values: ['1'] }), path: /^strategies\[0\]\.constraints\[0\]\.contextName$/, message: /control characters/ },
        { what: 'a misspelt key', body: { enabled: true, strategies: [{ name: 'default', contraints: [] }] }, path: /^strategies\[0\]$/, message: /contraints/ },
        { what: 'a body that is an array', body: [good], path: /^$/, message: /expected object|object/i },
        { what: 'a body that is a string', raw: '"on"', path: /^$/, message: /object/i },
        { what: 'enabled missing', body: { strategies: [] }, path: /^enabled$/, message: /true or false/ },
        { what: 'another flag named in the body', body: { ...good, name: 'other' }, path: /^name$/, message: /must be the same/ },
        { what: 'a parameter too long', body: { enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'x'.repeat(10_001) } }] }, path: /^strategies\[0\]\.parameters\.userIds$/, message: /at most 10000/ },
        { what: 'one flag of megabytes', body: { enabled: true, strategies: Array.from({ length: 60 }, () => ({ name: 'userWithId', parameters: { userIds: 'x'.repeat(9000) } })) }, path: /^$/, message: /at most 256 KiB/ },
      ];
      for (const k of cases) {
        const r = await call('PUT', '/v1/apps/shop/envs/staging/flags/guarded', k.body, undefined, k.raw);
        assert.equal(r.status, 400, `${k.what}: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
        const problems = r.json.error?.details?.problems ?? [];
        assert.ok(problems.some((x) => k.path.test(x.path) && k.message.test(x.message)), `${k.what}: ${JSON.stringify(r.json.error).slice(0, 500)}`);
        assert.match(r.json.error!.message, /nothing was changed/);
      }
      const importCases: { what: string; body: unknown; path: RegExp }[] = [
        { what: 'unknown operator in a segment', body: { version: 1, features: [], segments: [{ id: 1, constraints: [{ contextName: 'a', operator: 'LIKE', values: [] }] }] }, path: /^segments\[0\]\.constraints\[0\]\.operator$/ },
        { what: 'unknown segment', body: { version: 1, features: [{ name: 'guarded', enabled: true, strategies: [{ name: 'default', segments: [1, 9] }] }], segments: [{ id: 1, constraints: [] }] }, path: /^features\[0\]\.strategies\[0\]\.segments\[1\]$/ },
        { what: 'a flag twice', body: { version: 1, features: [{ name: 'x', enabled: true }, { name: 'x', enabled: false }] }, path: /^features\[1\]\.name$/ },
        { what: 'a body that is not an object', body: [1, 2], path: /^$/ },
        { what: 'features missing', body: { version: 1 }, path: /^features$/ },
      ];
      for (const k of importCases) {
        const r = await call('POST', '/v1/apps/shop/envs/staging/flags/import', k.body);
        assert.equal(r.status, 400, `${k.what}: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
        assert.ok((r.json.error?.details?.problems ?? []).some((x) => k.path.test(x.path)), `${k.what}: ${JSON.stringify(r.json.error).slice(0, 500)}`);
      }
      assert.deepEqual(await state('staging'), before, 'state and revision unchanged');
      const entries = await trail(mark);
      assert.ok(entries.length >= cases.length + importCases.length, 'every refused change is on the trail');
      assert.deepEqual(entries.filter((e) => e.outcome !== 'failed').map((e) => e.action), [], 'and nothing but the refusals');
      assert.equal((await p.store.listLatestEvents(0, 50)).filter((e) => e.type === FLAG_CHANGED && (e.data as FlagChangedData).revision === before.revision + 1 && e.env === 'staging').length, 0, 'nothing announced');
    });

    test("rule values the engine's ruleProblems refuses (invalid regex, semver, CIDR) are a 400 naming the path", async () => {
      await ok('POST', '/v1/apps/shop/flags', { name: 'regexy' });
      for (const c of [
        { contextName: 'email', operator: 'REGEX', value: '([a-z' },
        { contextName: 'version', operator: 'SEMVER_GT', value: 'not-a-version' },
        { contextName: 'remoteAddress', operator: 'IN_CIDR', values: ['10.0.0.0/99'] },
      ]) {
        const r = await call('PUT', '/v1/apps/shop/envs/staging/flags/regexy', { enabled: true, strategies: [{ name: 'default', constraints: [c] }] });
        assert.equal(r.status, 400, JSON.stringify(c));
        assert.ok((r.json.error?.details?.problems ?? []).some((x) => x.path.startsWith('strategies[0].constraints[0]')), JSON.stringify(r.json));
      }
    });

    test('import: the file\'s flags get its rules (created when new), others stay; segments by id; one revision and one entry; archived flags refuse it', async () => {
      const spec = JSON.parse(await readFile(`${SPEC_DIR}/09-strategy-constraints.json`, 'utf8')) as { state: ClientFeatures };
      const names = spec.state.features.map((f) => f.name);
      await ok('POST', '/v1/apps/shop/flags', { name: 'stays', kind: 'operational' });
      await ok('POST', '/v1/apps/shop/envs/production/flags/stays/enable');
      const mark = await lastSeq();
      const rev = (await state('production')).revision;
      const r = await ok<{ revision: number; created: string[]; updated: string[] }>('POST', '/v1/apps/shop/envs/production/flags/import', spec.state);
      assert.equal(r.revision, rev + 1, 'one revision for the whole import');
      assert.deepEqual([...r.created].sort(), [...names].sort());
      const s = await state('production');
      for (const f of spec.state.features) {
        const got = s.state.features.find((x) => x.name === f.name);
        assert.deepEqual({ enabled: got?.enabled, strategies: got?.strategies, description: got?.description }, { enabled: f.enabled, strategies: f.strategies, description: f.description }, f.name);
      }
      assert.equal(s.state.features.find((x) => x.name === 'stays')?.enabled, true, 'a flag not in the file stays');
      const entries = (await trail(mark)).filter((e) => e.outcome === 'ok');
      assert.deepEqual(entries.map((e) => e.action), ['flag.import']);
      assert.equal((entries[0]!.after as { created: number }).created, names.length);

      // Again with a change and a segment: updated in place, metadata kept.
      const changed = { version: 2, features: [{ ...spec.state.features[0]!, type: 'experiment', enabled: false, strategies: [{ name: 'default', segments: [3] }] }], segments: [{ id: 3, name: 'nordics', constraints: [{ contextName: 'country', operator: 'IN', values: ['no'] }] }] };
      const second = await ok<{ created: string[]; updated: string[]; segments: number[] }>('POST', '/v1/apps/shop/envs/production/flags/import', changed);
      assert.deepEqual([second.created, second.updated, second.segments], [[], [names[0]], [3]]);
      const t = await state('production');
      const first = t.state.features.find((x) => x.name === names[0]);
      assert.deepEqual([first?.enabled, first?.type, first?.strategies], [false, 'release', [{ name: 'default', segments: [3] }]], 'rules replaced, kind kept');
      assert.deepEqual(t.state.segments, changed.segments);
      assert.equal(t.state.features.length, s.state.features.length);

      // A spec file's state with an operator the format does not have is refused whole.
      const ops = JSON.parse(await readFile(`${SPEC_DIR}/13-constraint-operators.json`, 'utf8')) as { state: ClientFeatures };
      const bad = await call('POST', '/v1/apps/shop/envs/staging/flags/import', ops.state);
      assert.equal(bad.status, 400);
      assert.match(bad.json.error!.message, /features\[\d+\]\.strategies\[0\]\.constraints\[0\]\.operator/);
      assert.equal((await state('staging')).state.features.some((f) => f.name.startsWith('F')), false, 'nothing of it imported');

      await ok('POST', `/v1/apps/shop/flags/${encodeURIComponent(names[1]!)}/archive`);
      const refused = await call('POST', '/v1/apps/shop/envs/production/flags/import', spec.state);
      assert.equal(refused.status, 409);
      assert.match(refused.json.error!.message, new RegExp(`archived flags of shop: ${names[1]!.replace(/\./g, '\\.')}`));
    });

    test('archive: the flag leaves every environment (a revision each), cannot change, and is listed only when asked', async () => {
      await ok('POST', '/v1/apps/shop/flags', { name: 'short-lived' });
      await ok('POST', '/v1/apps/shop/envs/staging/flags/short-lived/enable');
      await ok('POST', '/v1/apps/shop/envs/production/flags/short-lived/disable');
      const [st, pr] = [await state('staging'), await state('production')];
      await ok('POST', '/v1/apps/shop/flags/short-lived/archive');
      const [st2, pr2] = [await state('staging'), await state('production')];
      assert.deepEqual([st2.revision, pr2.revision], [st.revision + 1, pr.revision + 1]);
      assert.ok(![...st2.state.features, ...pr2.state.features].some((f) => f.name === 'short-lived'));
      assert.equal((await call('POST', '/v1/apps/shop/envs/staging/flags/short-lived/enable')).status, 409);
      assert.equal((await call('PATCH', '/v1/apps/shop/flags/short-lived', { description: 'x' })).status, 409);
      assert.ok(!(await ok<{ name: string }[]>('GET', '/v1/apps/shop/flags')).some((f) => f.name === 'short-lived'));
      assert.ok((await ok<{ name: string; archived: boolean }[]>('GET', '/v1/apps/shop/flags?archived=true')).some((f) => f.name === 'short-lived' && f.archived));
      assert.equal((await ok<{ archived: boolean }>('POST', '/v1/apps/shop/flags/short-lived/archive')).archived, true, 'archiving again answers it as it is');
    });

    test('update: kind, owner, description, lifetime; a new kind brings its lifetime; delivered kind and description move the revision', async () => {
      await ok('POST', '/v1/apps/shop/flags', { name: 'meta', kind: 'release', owner: 'team-a' });
      await ok('POST', '/v1/apps/shop/envs/staging/flags/meta/enable');
      const rev = (await state('staging')).revision;
      const u = await ok<{ kind: string; lifetimeDays: number | null; owner: string | null }>('PATCH', '/v1/apps/shop/flags/meta', { kind: 'kill-switch' });
      assert.deepEqual([u.kind, u.lifetimeDays, u.owner], ['kill-switch', null, 'team-a']);
      assert.equal((await state('staging')).revision, rev + 1);
      assert.equal((await state('staging')).state.features.find((f) => f.name === 'meta')?.type, 'kill-switch');
      const v = await ok<{ lifetimeDays: number | null; owner: string | null }>('PATCH', '/v1/apps/shop/flags/meta', { lifetimeDays: 90, owner: null });
      assert.deepEqual([v.lifetimeDays, v.owner], [90, null]);
      assert.equal((await state('staging')).revision, rev + 1, 'lifetime and owner are not delivered');
      for (const body of [{}, { kind: 'forever' }, { lifetimeDays: 0 }, { colour: 'red' }]) assert.equal((await call('PATCH', '/v1/apps/shop/flags/meta', body)).status, 400, JSON.stringify(body));
      const put = await call('PUT', '/v1/apps/shop/envs/staging/flags/meta', { enabled: true, type: 'release' });
      assert.equal(put.status, 400, "a state may not say another kind than the flag's");
      assert.equal((await call('PUT', '/v1/apps/shop/envs/staging/flags/meta', { enabled: true, type: 'kill-switch' })).status, 200, 'its own kind is fine');
    });

    test('who may change flags: a viewer nothing; a developer outside production only (and not archive); a release manager everywhere', async () => {
      await ok('POST', '/v1/apps/shop/flags', { name: 'guarded-perm' });
      const viewer = p.tokens.viewer;
      const dev = p.tokens.developer;
      const rm = p.tokens['release-manager'];
      const before = JSON.stringify([await state('staging'), await state('production'), await ok('GET', '/v1/apps/shop/flags?archived=true')]);
      const changes: [string, string, unknown?][] = [
        ['POST', '/v1/apps/shop/flags', { name: 'by-viewer' }],
        ['PATCH', '/v1/apps/shop/flags/guarded-perm', { description: 'x' }],
        ['POST', '/v1/apps/shop/envs/staging/flags/guarded-perm/enable'],
        ['PUT', '/v1/apps/shop/envs/staging/flags/guarded-perm', { enabled: true }],
        ['POST', '/v1/apps/shop/envs/staging/flags/guarded-perm/rollout', { percent: 5 }],
        ['POST', '/v1/apps/shop/envs/staging/flags/import', { version: 1, features: [] }],
        ['POST', '/v1/apps/shop/flags/guarded-perm/archive'],
        ['POST', '/v1/apps/shop/envs/staging/flag-keys', { kind: 'server' }],
      ];
      for (const [m, path, body] of changes) assert.equal((await call(m, path, body, viewer)).status, 403, `viewer ${m} ${path}`);
      for (const [m, path, body] of changes.map(([m, path, b]) => [m, path.replace('/staging/', '/production/'), b] as const)) {
        if (!path.includes('/production/')) continue;
        assert.equal((await call(m, path, body, dev)).status, 403, `developer ${m} ${path}`);
      }
      assert.equal((await call('POST', '/v1/apps/shop/flags/guarded-perm/archive', undefined, dev)).status, 403, 'archiving spans production too');
      assert.equal(JSON.stringify([await state('staging'), await state('production'), await ok('GET', '/v1/apps/shop/flags?archived=true')]), before, 'refusals changed nothing');
      // Reads are open to a viewer.
      assert.equal((await call('GET', '/v1/apps/shop/flags/guarded-perm', undefined, viewer)).status, 200);
      assert.equal((await call('GET', '/v1/apps/shop/envs/production/flags', undefined, viewer)).status, 200);
      // A developer works outside production, and on metadata.
      assert.equal((await call('POST', '/v1/apps/shop/flags', { name: 'by-dev' }, dev)).status, 201);
      assert.equal((await call('POST', '/v1/apps/shop/envs/staging/flags/by-dev/enable', undefined, dev)).status, 200);
      assert.equal((await call('PATCH', '/v1/apps/shop/flags/by-dev', { description: 'mine' }, dev)).status, 200);
      // A release manager in production, and archives.
      assert.equal((await call('POST', '/v1/apps/shop/envs/production/flags/by-dev/enable', undefined, rm)).status, 200);
      assert.equal((await call('POST', '/v1/apps/shop/flags/by-dev/archive', undefined, rm)).status, 200);
      const denied = await p.admin.request<Entry[]>('GET', '/v1/audit', { query: { action: 'auth.denied', actor: 'user:flags-viewer', limit: 100 } });
      assert.ok(denied.length >= changes.length, 'refusals are on the trail');
    });

    test('SDK keys: shown once, listed by prefix, resolved to their app, environment and kind; revoked keys refused with the reason', async () => {
      const mark = await lastSeq();
      const k = await ok<{ key: string; id: string; prefix: string; kind: string }>('POST', '/v1/apps/shop/envs/production/flag-keys', { kind: 'server', name: 'backend' });
      assert.match(k.key, /^rgs_[A-Za-z0-9_-]{43}$/);
      assert.equal(k.prefix, k.key.slice(0, 12));
      const c = await ok<{ key: string; id: string }>('POST', '/v1/apps/shop/envs/staging/flag-keys', { kind: 'client' });
      assert.match(c.key, /^rgc_/);
      const list = await ok<Record<string, unknown>[]>('GET', '/v1/apps/shop/flag-keys');
      const text = JSON.stringify(list);
      assert.ok(!text.includes(k.key) && !text.includes(c.key), 'a listing never carries a key');
      assert.ok(list.every((x) => !('hash' in x)));
      assert.deepEqual((await ok<{ id: string }[]>('GET', '/v1/apps/shop/flag-keys?env=staging')).map((x) => x.id), [c.id]);
      assert.deepEqual(await p.flags.keys.resolve(k.key), { id: k.id, app: 'shop', env: 'production', kind: 'server' });
      assert.deepEqual(await p.flags.keys.resolve(c.key), { id: c.id, app: 'shop', env: 'staging', kind: 'client' });
      const unknown = `rgs_${'A'.repeat(43)}`;
      await assert.rejects(p.flags.keys.resolve(unknown), (e) => isRollgateError(e) && e.code === 'unauthorized' && /unknown SDK key/.test(e.message));
      await assert.rejects(p.flags.keys.resolve('rg_not-a-flag-key'), (e) => isRollgateError(e) && e.code === 'unauthorized' && /not a Rollgate SDK key/.test(e.message));
      assert.equal((await call('DELETE', `/v1/apps/shop/envs/staging/flag-keys/${k.id}`)).status, 404, 'a key is revoked in its own environment');
      const events = (await p.store.listLatestEvents(0, 1)).at(-1)?.id ?? 0;
      const revoked = await ok<{ revokedAt: string | null }>('DELETE', `/v1/apps/shop/envs/production/flag-keys/${k.id}`);
      assert.ok(revoked.revokedAt);
      const gone = (await p.store.listEvents(events, 100)).filter((e) => e.type === FLAG_KEY_REVOKED);
      assert.deepEqual(gone.map((e) => [e.app, e.env, (e.data as { id: string }).id]), [['shop', 'production', k.id]]);
      await assert.rejects(p.flags.keys.resolve(k.key), (e) => isRollgateError(e) && e.code === 'unauthorized' && new RegExp(`${k.id} .* was revoked`).test(e.message));
      const entries = (await trail(mark)).filter((e) => e.outcome === 'ok');
      assert.deepEqual(entries.map((e) => e.action), ['flag-key.create', 'flag-key.create', 'flag-key.revoke']);
      assert.ok(!JSON.stringify(entries).includes(k.key), 'the trail never holds a key');
      assert.equal((entries[2]!.before as { revokedAt: string | null }).revokedAt, null);
      assert.equal((entries[2]!.after as { revokedAt: string | null }).revokedAt, revoked.revokedAt);
    });

    test('changes at the same time (rules in two environments, metadata, other flags) all succeed, each with its own revision', async () => {
      await ok('POST', '/v1/apps/shop/flags', { name: 'busy' });
      await ok('POST', '/v1/apps/shop/flags', { name: 'busy-too' });
      await ok('POST', '/v1/apps/shop/envs/staging/flags/busy/enable');
      await ok('POST', '/v1/apps/shop/envs/production/flags/busy/enable');
      const [st, pr] = [(await state('staging')).revision, (await state('production')).revision];
      const calls: [string, string, unknown?][] = [];
      for (let i = 0; i < 4; i++) {
        for (const env of ['staging', 'production']) {
          calls.push(['POST', `/v1/apps/shop/envs/${env}/flags/busy/rollout`, { percent: 10 + i }]);
          calls.push(['POST', `/v1/apps/shop/envs/${env}/flags/busy-too/${i % 2 ? 'enable' : 'disable'}`]);
        }
        calls.push(['PATCH', '/v1/apps/shop/flags/busy', { description: `round ${i}` }]);
        calls.push(['POST', '/v1/apps/shop/envs/staging/flags/import', { version: 1, features: [{ name: `busy-imported-${i}`, enabled: true }] }]);
      }
      const answers = await Promise.all(calls.map(([m, path, body]) => call(m, path, body)));
      answers.forEach((a, i) => assert.ok(a.status === 200, `${calls[i]![0]} ${calls[i]![1]}: ${a.status} ${JSON.stringify(a.json).slice(0, 300)}`));
      // Staging: 8 rule changes, 4 imports, 4 descriptions (busy is set there); production: 8 rule changes, 4 descriptions.
      assert.deepEqual([(await state('staging')).revision - st, (await state('production')).revision - pr], [16, 12]);
      const rev = answers.filter((a, i) => calls[i]![1].includes('/staging/flags/busy/')).map((a) => a.json.revision as number);
      assert.equal(new Set(rev).size, rev.length, 'no two changes share a revision');
    });

    test('flag names: any printable text up to 255 characters (UTF-8 too), in paths percent-encoded', async () => {
      const spec = JSON.parse(await readFile(`${SPEC_DIR}/18-utf8-flag-names.json`, 'utf8')) as { state: ClientFeatures };
      await ok('POST', '/v1/apps/shop/envs/staging/flags/import', spec.state);
      for (const f of spec.state.features) assert.equal((await ok<{ name: string }>('GET', `/v1/apps/shop/flags/${encodeURIComponent(f.name)}`)).name, f.name);
      assert.equal((await call('POST', '/v1/apps/shop/flags', { name: 'x'.repeat(256) })).status, 400);
      assert.equal((await call('POST', '/v1/apps/shop/flags', { name: 'bad\u202ename' })).status, 400);
      assert.equal((await call('POST', '/v1/apps/ghost/flags', { name: 'x' })).status, 404);
      assert.equal((await call('POST', '/v1/apps/shop/envs/nowhere/flags/meta/enable')).status, 404);
    });
  });
}

flagsSuite('flag routes on SQLite', () => undefined);

await withPostgres('flag routes on PostgreSQL', (db) => {
  flagsSuite('flag routes on PostgreSQL', () => db.url);
  after(() => db.drop());
});
