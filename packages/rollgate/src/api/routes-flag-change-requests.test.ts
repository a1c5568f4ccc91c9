/**
 * Flag change requests and the kill switch against the real server (agent process, runServer,
 * SQLite and PostgreSQL), with production requiring change requests as it does by default:
 * direct changes there are refused naming the command to propose them; a developer proposes, a
 * release manager approves and the change applies (revision, trail with before and after,
 * `flag.changed`); the attacks: the proposer approving, a viewer or developer approving, an
 * approval after the flag moved (stale), after expiry, two approvals racing, bad input; reject
 * and cancel; the kill switch, allowed only with flags.kill, pausing a rollout as a disable does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BuiltinRoleName } from '../core/authz.js';
import { FLAG_CHANGED, type FlagChangedData } from '../flags/changes.js';
import type { ChangeRequestView } from '../flags/change-requests.js';
import type { FlagStateResult } from '../flags/flags.js';
import type { RolloutView } from '../flags/rollouts.js';
import type { KyselyStore } from '../store/kysely-store.js';
import { startFlagsPlatform, type FlagsPlatform } from '../test/flags-platform.js';
import { RolloutApi, type Answer } from '../test/flag-rollouts-kit.js';
import { withPostgres } from '../test/pg.js';

const PROD = '/v1/apps/shop/envs/production/flags';
const STAGING = '/v1/apps/shop/envs/staging/flags';

function changeRequestSuite(name: string, databaseUrl: () => string | undefined): void {
  describe(name, () => {
    let p: FlagsPlatform;
    let admin: RolloutApi;
    const as = (role: BuiltinRoleName) => new RolloutApi(p.server.url, role === 'admin' ? p.server.token! : p.tokens[role]);
    const dev = () => as('developer');
    const rm = () => as('release-manager');

    const propose = (api: RolloutApi, flag: string, body: Record<string, unknown>): Promise<Answer> => api.call('POST', `${PROD}/${flag}/change-requests`, { reason: 'tested', ...body });
    const proposed = async (api: RolloutApi, flag: string, body: Record<string, unknown>): Promise<ChangeRequestView> => {
      const r = await propose(api, flag, body);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json as unknown as ChangeRequestView;
    };
    const decide = (api: RolloutApi, id: string, verb: 'approve' | 'reject' | 'cancel', body: unknown = {}) => api.call('POST', `/v1/flag-change-requests/${id}/${verb}`, body);
    const revision = () => p.store.flags.revision('shop', 'production');
    const stateOf = async (flag: string) => (await admin.state('production')).state.features.find((f) => f.name === flag);

    before(async () => {
      p = await startFlagsPlatform(databaseUrl(), {}, { changeRequests: true });
      admin = new RolloutApi(p.server.url, p.server.token!);
    });
    after(async () => {
      await p?.stop();
    });

    test('in production every direct change of a flag is refused, naming the command that proposes it; staging takes them; nothing changed', async () => {
      await admin.createFlag('direct');
      const rev = await revision();
      const refused: [string, string, unknown, RegExp][] = [
        ['POST', `${PROD}/direct/enable`, undefined, /rollgate flags propose direct --app shop --env production --enable --reason/],
        ['POST', `${PROD}/direct/disable`, undefined, /--disable --reason .*kill switch.*--now/],
        ['POST', `${PROD}/direct/rollout`, { percent: 30 }, /`rollgate flags propose direct --app shop --env production --percent 30 --reason "…"`/],
        ['PUT', `${PROD}/direct`, { enabled: true, strategies: [{ name: 'default' }] }, /--file FEATURE\.json/],
        ['POST', `${PROD}/import`, { version: 1, features: [{ name: 'direct', enabled: true, strategies: [] }] }, /an import cannot be proposed/],
        ['POST', `${PROD}/direct/rollouts`, { steps: [10, 100], every: '1h' }, /`rollgate flags propose direct --app shop --env production --steps 10,100 --every 1h --reason "…"`/],
        ['POST', `${PROD}/direct/schedules`, { at: '2099-01-01T00:00:00Z', action: 'enable' }, /a scheduled change cannot be proposed/],
      ];
      for (const [method, path, body, message] of refused) {
        const r = await admin.call(method, path, body);
        assert.equal(r.status, 409, `${method} ${path}: ${JSON.stringify(r.json)}`);
        assert.equal(r.json.error?.code, 'conflict');
        assert.match(r.json.error?.message ?? '', /environment production requires a change request for flag changes \(spec: flagChangeRequests\)/);
        assert.match(r.json.error?.message ?? '', message);
      }
      assert.equal(await revision(), rev, 'nothing moved');
      assert.equal(await stateOf('direct'), undefined);
      // Archive spans environments: refused once the flag is set where requests are required.
      assert.equal((await admin.call('POST', `${STAGING}/direct/enable`)).status, 200, 'staging takes it directly');
      await admin.createFlag('archivable');
      assert.equal((await admin.call('POST', '/v1/apps/shop/flags/archivable/archive')).status, 200, 'set nowhere that requires a request: archived directly');
      await admin.createFlag('guarded');
      const cr = await proposed(dev(), 'guarded', { action: 'enable' });
      await admin.ok('POST', `/v1/flag-change-requests/${cr.id}/approve`, {});
      const archive = await admin.call('POST', '/v1/apps/shop/flags/guarded/archive');
      assert.equal(archive.status, 409);
      assert.match(archive.json.error?.message ?? '', /rollgate flags propose guarded --app shop --env production --archive/);
    });

    test('a developer proposes, a release manager approves: the change applies with a revision, on the trail with before and after, announced', async () => {
      await admin.createFlag('checkout');
      const seq = await admin.lastSeq();
      const events = (await p.store.listLatestEvents(0, 1)).at(-1)?.id ?? 0;
      const rev = await revision();
      const cr = await proposed(dev(), 'checkout', { action: 'rollout', percent: 25, reason: 'a quarter of the users', expires: '2h' });
      assert.match(cr.id, /^cr_[0-9a-f]{16}$/);
      assert.deepEqual([cr.status, cr.action, cr.proposedBy, cr.reason, cr.baseState, cr.baseRevision], ['open', 'rollout', 'user:flags-developer', 'a quarter of the users', null, rev]);
      assert.equal(cr.proposedState?.strategies?.[0]?.parameters?.rollout, '25');
      const ttl = Date.parse(cr.expiresAt) - Date.parse(cr.createdAt);
      assert.ok(ttl > 7_100_000 && ttl <= 7_200_000, `expires in 2h: ${ttl}`);
      assert.equal(await revision(), rev, 'proposing changes nothing');
      assert.equal(await stateOf('checkout'), undefined);

      const listed = await as('viewer').ok<ChangeRequestView[]>('GET', '/v1/flag-change-requests?app=shop&env=production');
      assert.ok(listed.some((x) => x.id === cr.id && x.status === 'open'), 'a viewer sees the open requests');
      assert.equal((await as('viewer').ok<ChangeRequestView>('GET', `/v1/flag-change-requests/${cr.id}`)).id, cr.id);

      const approved = await rm().ok<ChangeRequestView>('POST', `/v1/flag-change-requests/${cr.id}/approve`, { reason: 'looks right' });
      assert.deepEqual([approved.status, approved.decidedBy, approved.decisionReason, approved.appliedRevision], ['approved', 'user:flags-release-manager', 'looks right', rev + 1]);
      assert.equal((await stateOf('checkout'))?.strategies?.[0]?.parameters?.rollout, '25', 'delivered');
      assert.equal(await revision(), rev + 1);

      const trail = (await admin.trail(seq)).filter((e) => e.target === 'flag/shop/production/checkout');
      assert.deepEqual(trail.map((e) => [e.action, e.actor, e.outcome]), [
        ['flag.change-request.propose', 'user:flags-developer', 'ok'],
        ['flag.rollout', 'user:flags-release-manager', 'ok'],
        ['flag.change-request.approve', 'user:flags-release-manager', 'ok'],
      ]);
      const applied = trail[1]!;
      assert.equal(applied.before, null, 'before: never set there');
      assert.deepEqual((applied.after as { changeRequest: string; proposedBy: string; revision: number }).changeRequest, cr.id);
      assert.equal((applied.after as { proposedBy: string }).proposedBy, 'user:flags-developer');
      assert.equal((trail[2]!.before as { status: string }).status, 'open');
      assert.equal((trail[2]!.after as { status: string }).status, 'approved');

      const evs = (await p.store.listEvents(events, 1000)).filter((e) => e.app === 'shop');
      assert.deepEqual(evs.filter((e) => e.type.startsWith('flag.change-request.')).map((e) => e.type), ['flag.change-request.proposed', 'flag.change-request.approved']);
      const changed = evs.filter((e) => e.type === FLAG_CHANGED && (e.data as FlagChangedData).flag === 'checkout');
      assert.deepEqual(changed.map((e) => [(e.data as FlagChangedData).action, (e.data as FlagChangedData).revision, e.env]), [['flag.rollout', rev + 1, 'production']]);
      assert.equal((await rm().ok<ChangeRequestView[]>('GET', '/v1/flag-change-requests?app=shop&env=production&status=approved')).find((x) => x.id === cr.id)?.status, 'approved');
    });

    test('attacks: the proposer may not approve (separation of duties, on the trail); a viewer or a developer may not approve; nothing changes', async () => {
      await admin.createFlag('sod');
      const cr = await proposed(rm(), 'sod', { action: 'enable' });
      const seq = await admin.lastSeq();
      const self = await decide(rm(), cr.id, 'approve');
      assert.equal(self.status, 403);
      assert.match(self.json.error?.message ?? '', /user:flags-release-manager proposed change request cr_[0-9a-f]+ and may not approve it \(separation of duties\)/);
      for (const role of ['viewer', 'developer'] as const) {
        const r = await decide(as(role), cr.id, 'approve');
        assert.equal(r.status, 403, role);
        assert.match(r.json.error?.message ?? '', /approve/, 'the permission is named');
        assert.equal((await decide(as(role), cr.id, 'reject', { reason: 'no' })).status, 403);
      }
      assert.equal((await decide(as('viewer'), cr.id, 'cancel')).status, 403, 'a viewer cannot propose, so cannot cancel');
      const dCancel = await decide(dev(), cr.id, 'cancel');
      assert.equal(dCancel.status, 403, 'only the proposer cancels');
      assert.match(dCancel.json.error?.message ?? '', /only user:flags-release-manager, who proposed/);
      assert.equal((await admin.ok<ChangeRequestView>('GET', `/v1/flag-change-requests/${cr.id}`)).status, 'open');
      assert.equal(await stateOf('sod'), undefined);
      const denied = (await admin.trail(seq)).filter((e) => e.outcome === 'denied');
      assert.ok(denied.some((e) => e.action === 'flag.change-request.approve' && e.actor === 'user:flags-release-manager'), 'the self-approval is on the trail, denied');
      assert.ok(denied.length >= 6, `every refused attempt is on the trail: ${denied.length}`);
      // Someone else holding approve may.
      assert.equal((await admin.ok<ChangeRequestView>('POST', `/v1/flag-change-requests/${cr.id}/approve`, {})).status, 'approved');
      assert.equal((await stateOf('sod'))?.enabled, true);
    });

    test('a request made before the flag moved is refused as stale, never overwriting; the newer one applies', async () => {
      await admin.createFlag('raced');
      const older = await proposed(dev(), 'raced', { action: 'enable' });
      const newer = await proposed(dev(), 'raced', { action: 'rollout', percent: 40 });
      await rm().ok('POST', `/v1/flag-change-requests/${newer.id}/approve`, {});
      const rev = await revision();
      const stale = await decide(rm(), older.id, 'approve');
      assert.equal(stale.status, 409);
      assert.match(stale.json.error?.message ?? '', /is stale: flag raced changed in production since it was proposed .*nothing was applied.*propose again: `rollgate flags propose raced --app shop --env production --enable/);
      assert.equal((await admin.ok<ChangeRequestView>('GET', `/v1/flag-change-requests/${older.id}`)).status, 'open', 'still open: it may be rejected or cancelled');
      assert.equal(await revision(), rev);
      const s = await stateOf('raced');
      assert.deepEqual([s?.enabled, s?.strategies?.[0]?.parameters?.rollout], [false, '40'], "the newer change stands; the older one's enable did not happen");
      const newest = await proposed(dev(), 'raced', { action: 'rollout', percent: 60 });
      await admin.ok('POST', `/v1/flag-change-requests/${(await proposed(dev(), 'raced', { action: 'enable' })).id}/approve`, {});
      assert.match((await decide(rm(), newest.id, 'approve')).json.error?.message ?? '', /propose again: `rollgate flags propose raced --app shop --env production --percent 60 --reason/, 'the command to propose it again is exact');
    });

    test('an expired request cannot be approved (by the time in its record); listed as expired', async () => {
      await admin.createFlag('late');
      const cr = await proposed(dev(), 'late', { action: 'enable', expires: '1m' });
      await (p.store as KyselyStore).db.updateTable('flag_change_requests').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', cr.id).execute();
      const r = await decide(rm(), cr.id, 'approve');
      assert.equal(r.status, 409);
      assert.match(r.json.error?.message ?? '', /expired at .* can no longer be approved or rejected; propose it again/);
      assert.equal(await stateOf('late'), undefined);
      assert.equal((await admin.ok<ChangeRequestView>('GET', `/v1/flag-change-requests/${cr.id}`)).status, 'expired');
      assert.ok((await admin.ok<ChangeRequestView[]>('GET', '/v1/flag-change-requests?app=shop&status=expired')).some((x) => x.id === cr.id));
      assert.ok(!(await admin.ok<ChangeRequestView[]>('GET', '/v1/flag-change-requests?app=shop')).some((x) => x.id === cr.id), 'not among the open ones');
      assert.equal((await decide(dev(), cr.id, 'cancel')).status, 200, 'its proposer may still withdraw it');
    });

    test('two approvals at once: one applies, the other is told it was approved already; the change happens once', async () => {
      await admin.createFlag('double');
      const cr = await proposed(dev(), 'double', { action: 'enable' });
      const seq = await admin.lastSeq();
      const rev = await revision();
      const answers = await Promise.all([decide(rm(), cr.id, 'approve'), decide(admin, cr.id, 'approve'), decide(rm(), cr.id, 'approve')]);
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409, 409], JSON.stringify(answers.map((a) => a.json)));
      for (const a of answers.filter((x) => x.status === 409)) assert.match(a.json.error?.message ?? '', /is approved already by user:/);
      assert.equal(await revision(), rev + 1, 'one revision');
      const applied = (await admin.trail(seq)).filter((e) => e.action === 'flag.enable' && e.outcome === 'ok' && (e.after as { changeRequest?: string } | null)?.changeRequest === cr.id);
      assert.equal(applied.length, 1, 'applied once');
    });

    test('bad input: a 400 naming the field, and nothing proposed', async () => {
      await admin.createFlag('input');
      const before = (await admin.ok<ChangeRequestView[]>('GET', '/v1/flag-change-requests?app=shop&status=all')).length;
      const cases: [unknown, RegExp][] = [
        [{ action: 'rollout', reason: 'x' }, /percent/],
        [{ action: 'explode', reason: 'x' }, /action/],
        [{ action: 'enable' }, /reason/],
        [{ action: 'enable', reason: '   ' }, /reason/],
        [{ action: 'enable', reason: 'x\u202e' }, /reason/],
        [{ action: 'enable', reason: 'x', expires: '5s' }, /expires/],
        [{ action: 'enable', reason: 'x', expires: 'soon' }, /expires/],
        [{ action: 'enable', reason: 'x', percent: 5 }, /percent/],
        [{ action: 'rollout', reason: 'x', percent: 101 }, /percent/],
        [{ action: 'set', reason: 'x' }, /state/],
        [{ action: 'set', reason: 'x', state: { enabled: true, strategies: [{ name: 'default', constraints: [{ contextName: 'userId', operator: 'NOPE', values: [] }] }] } }, /strategies\[0\]\.constraints\[0\]\.operator/],
        [{ action: 'enable', reason: 'x', extra: 1 }, /extra/],
      ];
      for (const [body, field] of cases) {
        const r = await admin.call('POST', `${PROD}/input/change-requests`, body);
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
        assert.match(JSON.stringify(r.json.error), field, JSON.stringify(body));
      }
      assert.equal((await admin.call('POST', `${PROD}/nosuch/change-requests`, { action: 'enable', reason: 'x' })).status, 404, 'no such flag');
      assert.equal((await admin.call('POST', '/v1/flag-change-requests/cr_nothex/approve', {})).status, 400);
      assert.equal((await admin.call('POST', '/v1/flag-change-requests/cr_0000000000000000/approve', {})).status, 404);
      const cr = await proposed(dev(), 'input', { action: 'enable' });
      const noReason = await decide(rm(), cr.id, 'reject', {});
      assert.equal(noReason.status, 400);
      assert.match(JSON.stringify(noReason.json.error), /reason/);
      assert.equal((await admin.call('GET', '/v1/flag-change-requests?status=maybe')).status, 400);
      assert.equal((await admin.ok<ChangeRequestView[]>('GET', '/v1/flag-change-requests?app=shop&status=all')).length, before + 1, 'only the one good proposal');
    });

    test('reject with a reason; cancel by the proposer; neither applies, and a decided request cannot be approved', async () => {
      await admin.createFlag('declined');
      const seq = await admin.lastSeq();
      const a = await proposed(dev(), 'declined', { action: 'enable' });
      const rejected = await rm().ok<ChangeRequestView>('POST', `/v1/flag-change-requests/${a.id}/reject`, { reason: 'not during the sale' });
      assert.deepEqual([rejected.status, rejected.decidedBy, rejected.decisionReason], ['rejected', 'user:flags-release-manager', 'not during the sale']);
      const again = await decide(admin, a.id, 'approve');
      assert.equal(again.status, 409);
      assert.match(again.json.error?.message ?? '', /is rejected already by user:flags-release-manager/);
      const b = await proposed(dev(), 'declined', { action: 'enable' });
      assert.equal((await decide(dev(), b.id, 'cancel')).status, 200);
      assert.equal((await decide(rm(), b.id, 'approve')).status, 409);
      assert.equal(await stateOf('declined'), undefined, 'nothing applied');
      const trail = (await admin.trail(seq)).filter((e) => e.target === 'flag/shop/production/declined' && e.outcome === 'ok');
      assert.deepEqual(trail.map((e) => e.action), ['flag.change-request.propose', 'flag.change-request.reject', 'flag.change-request.propose', 'flag.change-request.cancel']);
    });

    test('a stepped rollout is proposed and approved: the approval starts it, deciding the request in the transaction of its first step', async () => {
      await admin.createFlag('stepped');
      const seq = await admin.lastSeq();
      const cr = await proposed(dev(), 'stepped', { action: 'steps', rollout: { steps: [5, 50, 100], every: '1h' }, reason: 'slowly' });
      assert.deepEqual(cr.rolloutPlan, { steps: [5, 50, 100], everyMs: 3_600_000, variant: null, guard: false });
      assert.equal(cr.proposedState?.strategies?.[0]?.parameters?.rollout, '5', 'the state after its first step');
      assert.deepEqual(await admin.rollouts('production', 'stepped'), [], 'nothing started');
      const approved = await rm().ok<ChangeRequestView>('POST', `/v1/flag-change-requests/${cr.id}/approve`, {});
      assert.equal(approved.status, 'approved');
      const r = await admin.latest('production', 'stepped');
      assert.deepEqual([r.status, r.applied, r.percent, r.startedBy], ['running', 1, 5, 'user:flags-release-manager']);
      assert.deepEqual(await admin.delivered('production', 'stepped'), { enabled: true, percent: '5' });
      const trail = (await admin.trail(seq)).filter((e) => e.target === 'flag/shop/production/stepped');
      assert.deepEqual(trail.map((e) => e.action), ['flag.change-request.propose', 'flag.change-request.approve', 'flag.rollout.start', 'flag.rollout.step']);
      // Another proposed meanwhile cannot start while this one runs: refused, and it stays open.
      const second = await proposed(dev(), 'stepped', { action: 'steps', rollout: { steps: [10, 100], every: '1h' } });
      const refused = await decide(rm(), second.id, 'approve');
      assert.equal(refused.status, 409);
      assert.match(refused.json.error?.message ?? '', /stale|rollout in progress already/);
      assert.equal((await admin.ok<ChangeRequestView>('GET', `/v1/flag-change-requests/${second.id}`)).status, 'open');
      assert.equal((await admin.rollouts('production', 'stepped')).length, 1);
      const bad = await propose(dev(), 'stepped', { action: 'steps', rollout: { steps: [50, 10], every: '1h' } });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.json.error), /rollout\.steps|step 2/);
    });

    test('a guarded rollout is proposed and approved: it starts guarded; a guard that cannot tell its control is refused when proposed', async () => {
      await admin.createFlag('judged');
      const cr = await proposed(dev(), 'judged', { action: 'steps', rollout: { steps: [10, 100], every: '1h', guard: true }, reason: 'judged by evidence' });
      assert.deepEqual(cr.rolloutPlan, { steps: [10, 100], everyMs: 3_600_000, variant: null, guard: true });
      await rm().ok<ChangeRequestView>('POST', `/v1/flag-change-requests/${cr.id}/approve`, {});
      const r = await admin.latest('production', 'judged');
      assert.deepEqual([r.status, r.guard?.treatment, r.guard?.control, r.guard?.safe], ['running', ['on'], ['off'], 'off']);
      // Three variants and no control named: refused now, not at approval.
      await admin.createFlag('three');
      const body = { enabled: true, strategies: [{ name: 'default' }], variants: ['a', 'b', 'c'].map((name) => ({ name, weight: name === 'a' ? 334 : 333, weightType: name === 'a' ? 'variable' : 'fix', stickiness: 'default' })) };
      await rm().ok('POST', `/v1/flag-change-requests/${(await proposed(dev(), 'three', { action: 'set', state: body })).id}/approve`, {});
      const bad = await propose(dev(), 'three', { action: 'steps', rollout: { steps: [10, 100], every: '1h', variant: 'b', guard: true } });
      assert.equal(bad.status, 400, JSON.stringify(bad.json));
      assert.match(bad.json.error?.message ?? '', /control: flag three has variants a, c beside b; say which one the guard compares it with/);
      const named = await proposed(dev(), 'three', { action: 'steps', rollout: { steps: [10, 100], every: '1h', variant: 'b', guard: true, control: 'a' } });
      assert.equal(named.rolloutPlan?.control, 'a');
    });

    test('an archive is proposed and approved like any change', async () => {
      await admin.createFlag('retired');
      await admin.ok('POST', `/v1/flag-change-requests/${(await proposed(dev(), 'retired', { action: 'enable' })).id}/approve`, {});
      const cr = await proposed(dev(), 'retired', { action: 'archive', reason: 'fully rolled out' });
      assert.equal(cr.proposedState, null);
      assert.equal((await rm().ok<ChangeRequestView>('POST', `/v1/flag-change-requests/${cr.id}/approve`, {})).status, 'approved');
      assert.equal((await admin.ok<{ archived: boolean }>('GET', '/v1/apps/shop/flags/retired')).archived, true);
      assert.equal(await stateOf('retired'), undefined, 'gone from delivery');
    });

    test('the kill switch: off at once without a request for those holding flags.kill, on the trail as a kill; refused to others, naming the permission', async () => {
      await admin.createFlag('killable');
      await admin.ok('POST', `/v1/flag-change-requests/${(await proposed(dev(), 'killable', { action: 'enable' })).id}/approve`, {});
      const open = await proposed(dev(), 'killable', { action: 'rollout', percent: 50 });
      for (const role of ['developer', 'viewer'] as const) {
        const r = await as(role).call('POST', `${PROD}/killable/kill`, { reason: 'on fire' });
        assert.equal(r.status, 403, role);
        assert.match(r.json.error?.message ?? '', /flags\.kill/);
      }
      assert.equal((await stateOf('killable'))?.enabled, true, 'still on');
      const seq = await admin.lastSeq();
      const killed = await rm().ok<FlagStateResult>('POST', `${PROD}/killable/kill`, { reason: 'errors on checkout' });
      assert.equal(killed.state.enabled, false);
      assert.equal((await stateOf('killable'))?.enabled, false);
      const [entry] = (await admin.trail(seq)).filter((e) => e.action === 'flag.kill');
      assert.equal(entry?.actor, 'user:flags-release-manager');
      assert.equal((entry?.before as { enabled: boolean }).enabled, true);
      assert.deepEqual([(entry?.after as { killSwitch: boolean }).killSwitch, (entry?.after as { reason: string }).reason, (entry?.after as { state: { enabled: boolean } }).state.enabled], [true, 'errors on checkout', false]);
      const stale = await decide(admin, open.id, 'approve');
      assert.equal(stale.status, 409, 'a request made before the kill is stale');
      assert.match(stale.json.error?.message ?? '', /stale/);
      assert.equal((await admin.call('POST', `${PROD}/killable/kill`, { reason: 7 })).status, 400, 'a reason is text');
    });

    test('a kill pauses a running rollout as turning the flag off does', async () => {
      await admin.createFlag('rolling');
      await admin.ok('POST', `${STAGING}/rolling/rollouts`, { steps: [10, 50, 100], every: '1h' });
      await admin.ok('POST', `${STAGING}/rolling/kill`, {});
      const r = await admin.latest('staging', 'rolling');
      assert.equal(r.status, 'paused');
      assert.match(r.reason ?? '', /the user took over: user:admin turned the flag off/);
      assert.deepEqual(await admin.delivered('staging', 'rolling'), { enabled: false, percent: '10' });
      const rolls = await admin.ok<RolloutView[]>('GET', `${STAGING}/rolling/rollouts`);
      assert.equal(rolls[0]?.status, 'paused');
    });

    test('a rollout started before production required requests: pause and an abort back to 0% stay allowed; resume and an abort to another percentage are refused', async () => {
      const { apps, environments } = await p.admin.appliedSpec();
      const envs = environments as Record<string, Record<string, unknown>>;
      await p.admin.applySpec({ apps, environments: { ...envs, production: { ...envs.production, flagChangeRequests: false } } });
      try {
        await admin.createFlag('legacy');
        await admin.ok('POST', `${PROD}/legacy/rollouts`, { steps: [10, 50, 100], every: '1h' });
      } finally {
        await p.admin.applySpec({ apps, environments });
      }
      assert.equal((await admin.call('POST', `${PROD}/legacy/enable`)).status, 409, 'requests are required again');
      assert.equal((await admin.ok<RolloutView>('POST', `${PROD}/legacy/rollouts/pause`)).status, 'paused');
      const resume = await admin.call('POST', `${PROD}/legacy/rollouts/resume`);
      assert.equal(resume.status, 409);
      assert.match(resume.json.error?.message ?? '', /a rollout's resumption cannot be proposed there/);
      assert.equal((await admin.call('POST', `${PROD}/legacy/rollouts/abort`, { to: 30 })).status, 409);
      assert.equal((await admin.latest('production', 'legacy')).status, 'paused', 'still paused');
      assert.equal((await admin.ok<RolloutView>('POST', `${PROD}/legacy/rollouts/abort`, {})).status, 'aborted');
      assert.deepEqual(await admin.delivered('production', 'legacy'), { enabled: true, percent: '0' });
    });
  });
}

changeRequestSuite('flag change requests on SQLite', () => undefined);

await withPostgres('flag change requests on PostgreSQL', (db) => {
  changeRequestSuite('flag change requests on PostgreSQL', () => db.url);
  after(() => db.drop());
});
