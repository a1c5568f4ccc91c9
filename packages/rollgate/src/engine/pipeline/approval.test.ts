/**
 * Manual approvals on a real SQLite store: N approvals from different people holding the roles,
 * no one approves twice, the wrong role is refused and records nothing, a rejection ends the
 * stage, an approval not given in time expires.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RollgateError } from '../../core/errors.js';
import { PipelineSpec, stageKind } from '../../core/pipeline-spec.js';
import type { Runtime } from '../../runtime/types.js';
import { openStore } from '../../store/index.js';
import type { Store } from '../../store/types.js';
import { EventBus } from '../events.js';
import { silentLogger } from '../logger.js';
import type { Releases } from '../releases.js';
import { PipelineCatalog } from './catalog.js';
import { DeployQueue } from './deploy-queue.js';
import { LogHub } from './log-hub.js';
import { Pipelines } from './pipelines.js';
import { PipelineRunner } from './runner.js';
import { ApprovalStage } from './stage-approval.js';
import type { StageContext, StageHandler } from './stage.js';
import { Workspaces } from './workspace.js';

let dir: string;
let store: Store;
let pipelines: Pipelines;
let approval: ApprovalStage;
const ROLES: Record<string, string[]> = { ana: ['release-manager'], bo: ['release-manager'], dev: ['developer'], root: ['admin'] };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rollgate-approval-'));
  store = await openStore({ dataDir: dir });
  // Manual approvals never look at the data plane.
  approval = new ApprovalStage({ store, runtime: {} as Runtime });
  const events = new EventBus(store);
  const none = {} as StageHandler;
  const runner = new PipelineRunner({
    store,
    events,
    log: silentLogger,
    logs: new LogHub(store, silentLogger),
    workspaces: new Workspaces(join(dir, 'ws')),
    releases: {} as Releases,
    queue: new DeployQueue(),
    handlers: { run: none, gate: none, deploy: none, verify: none, window: none, approval },
  });
  pipelines = new Pipelines({ store, events, catalog: new PipelineCatalog(store), runner, workspaces: new Workspaces(join(dir, 'ws')), rolesOf: (a) => ROLES[a] ?? [] });
});

after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** A run waiting at its approval stage (as the runner leaves it), and a way to tick that stage. */
async function waitingRun(manual: Record<string, unknown>, then: Record<string, unknown>[] = []) {
  const spec = PipelineSpec.parse({ app: 'shop', stages: [{ name: 'sign-off', approval: { manual } }, ...then] });
  const id = crypto.randomUUID();
  await store.createRun({ id, pipeline: 'shop', app: 'shop', spec, trigger: 'api', source: { kind: 'upload', commitSha: null, commitTime: null }, version: null, createdBy: 'ana' }, spec.stages.map((s, index) => ({ name: s.name, index, kind: stageKind(s) })));
  const since = new Date().toISOString();
  await store.updateRun(id, { status: 'waiting', startedAt: since });
  await store.updateStage(id, 'sign-off', { status: 'waiting', attempt: 1, startedAt: since, waitingSince: since });
  const tick = async (now = Date.now()) => {
    const run = (await store.getRun(id))!;
    const stage = (await store.listStages(id)).find((s) => s.name === 'sign-off')!;
    const ctx: StageContext = { run, stage, spec: spec.stages[0]!, workspace: dir, home: join(dir, 'home'), now, log() {}, output() {}, save: async () => {}, wake() {} };
    return approval.tick(ctx);
  };
  return { id, since: Date.parse(since), tick };
}

async function refused(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e) => e instanceof RollgateError && e.code === code && re.test(e.message));
}

test('two approvals from two release managers; the wrong role and a second vote of the same person are refused', async () => {
  const r = await waitingRun({ approvals: 2, roles: ['release-manager'] });
  await refused(pipelines.approve(r.id, 'dev', {}), 'forbidden', /dev may not approve stage "sign-off": it needs one of the roles release-manager/);
  assert.deepEqual(await store.listApprovals(r.id), [], 'a refused approval records nothing');

  await pipelines.approve(r.id, 'ana', { reason: 'tests green' });
  const one = await r.tick();
  assert.equal(one.done, false);
  assert.match(one.message, /waiting for 1 approval from release-manager/);
  await refused(pipelines.approve(r.id, 'ana', {}), 'conflict', /ana already decided on stage sign-off/);

  await pipelines.approve(r.id, 'bo', {});
  const two = await r.tick();
  assert.equal(two.done && two.status, 'succeeded');
  assert.equal(two.message, 'approved by ana, bo');
});

test('admin may always approve; reasonRequired is enforced', async () => {
  const r = await waitingRun({ roles: ['release-manager'], reasonRequired: true });
  await refused(pipelines.approve(r.id, 'root', {}), 'invalid_input', /needs a reason with each approval/);
  await pipelines.approve(r.id, 'root', { reason: 'hotfix' });
  const s = await r.tick();
  assert.equal(s.done && s.status, 'succeeded');
});

test('a rejection ends the stage with who and why; reject needs a reason', async () => {
  const r = await waitingRun({ approvals: 2, roles: ['release-manager'] });
  await pipelines.approve(r.id, 'ana', {});
  await refused(pipelines.reject(r.id, 'bo', { reason: '  ' }), 'invalid_input', /needs a reason/);
  await pipelines.reject(r.id, 'bo', { reason: 'error budget spent' });
  const s = await r.tick();
  assert.equal(s.done && s.status, 'failed');
  assert.equal(s.message, 'rejected by bo: error budget spent');
});

test('without enough approvals before `expires` the stage fails; before that it says when it expires', async () => {
  const r = await waitingRun({ roles: ['release-manager'], expires: '1h' });
  const before = await r.tick(r.since + 30 * 60_000);
  assert.equal(before.done, false);
  assert.match(before.message, /expires in 30m00s/);
  const late = await r.tick(r.since + 60 * 60_000 + 1);
  assert.equal(late.done && late.status, 'failed');
  assert.match(late.message, /expired: 0 of 1 approvals within 1h/);
});

test('separation of duties: who started the release may not approve what guards production, unless the environment turns it off', async () => {
  await store.upsertEnvironment('production', { listen: 18081 });
  await store.upsertEnvironment('staging', { listen: 18082 });
  await store.upsertEnvironment('prod-eu', { listen: 18083, production: true, separationOfDuties: false });
  const prod = await waitingRun({ roles: ['release-manager'] }, [{ name: 'smoke', run: { command: 'true' } }, { name: 'ship', deploy: { env: 'production' } }]);
  await refused(pipelines.approve(prod.id, 'ana', {}), 'forbidden', /ana started this release and may not approve stage "sign-off", which guards production \(separation of duties\)/);
  assert.deepEqual(await store.listApprovals(prod.id), []);
  await pipelines.approve(prod.id, 'bo', {});
  assert.equal((await prod.tick()).status, 'succeeded');

  const staging = await waitingRun({ roles: ['release-manager'] }, [{ name: 'ship', deploy: { env: 'staging' } }]);
  await pipelines.approve(staging.id, 'ana', {});
  assert.equal((await staging.tick()).status, 'succeeded', 'staging asks for no separation of duties');

  const optedOut = await waitingRun({ roles: ['release-manager'] }, [{ name: 'ship', deploy: { env: 'prod-eu' } }]);
  await pipelines.approve(optedOut.id, 'ana', {});
  assert.equal((await optedOut.tick()).status, 'succeeded', 'separationOfDuties: false');
});
