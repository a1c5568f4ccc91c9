/**
 * `verify` stages and environment deploy windows, end to end: real processes, real traffic
 * through the router, the same analysis as rollouts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiClient } from '../../cli/client.js';
import { checkReleaseDir, packDir } from '../../cli/pack.js';
import { freePort, makeDemoRelease, type Behavior } from '../../demo/fixtures.js';
import { LoadGenerator } from '../../loadgen/loadgen.js';
import { SplitPlatform, until } from '../../test/split-platform.js';
import type { RunView } from './pipelines.js';

let work: string;
let platform: SplitPlatform;
let client: ApiClient;
let stagingPort: number;
let load: LoadGenerator;

async function apply(deployWindows?: unknown) {
  await client.applySpec({
    apps: { demo: { run: 'node server.js', replicas: 1, drainTimeout: '2s', healthCheck: { path: '/healthz', interval: '100ms' } } },
    environments: { staging: { listen: stagingPort, strategy: { rolling: { analysis: false } }, ...(deployWindows ? { deployWindows } : {}) } },
    pipelines: {
      verified: {
        app: 'demo',
        stages: [
          { name: 'staging', deploy: { env: 'staging' } },
          { name: 'watch', verify: { env: 'staging', duration: '3s' } },
        ],
      },
    },
  });
}

async function release(b: Behavior): Promise<RunView> {
  const dir = await makeDemoRelease(join(work, 'src'), b);
  return client.startRun({ pipeline: 'verified' }, { archive: packDir(await checkReleaseDir(dir)), version: b.version });
}

const waitRun = (id: string, pred: (v: RunView) => boolean, what: string) =>
  until(what, async () => {
    const v = await client.run(id);
    return pred(v) ? v : null;
  }, 60_000);
const ended = (v: RunView) => !['queued', 'running', 'waiting'].includes(v.status);
const stageOf = (v: RunView, name: string) => v.stages.find((s) => s.name === name)!;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-pipeline-verify-'));
  platform = new SplitPlatform(join(work, '.rollgate'));
  await platform.startAgent();
  client = await platform.startServer(await freePort());
  stagingPort = await freePort();
  await apply();
  load = new LoadGenerator({ url: `http://127.0.0.1:${stagingPort}/`, ratePerSecond: 100, durationMs: 120_000, connections: 8 });
});

after(async () => {
  await load?.stop();
  await platform.stopAll();
  await rm(work, { recursive: true, force: true });
});

test('verify passes a healthy release, and rolls back one that fails under real traffic', async () => {
  const good = await release({ version: 'v1' });
  // Traffic from the moment v1 listens (refused connections before that are not the app's fault).
  await until('staging to serve', async () => (await fetch(`http://127.0.0.1:${stagingPort}/`)).ok, 30_000);
  load.start();
  const g = await waitRun(good.id, ended, 'the healthy run');
  assert.equal(g.status, 'succeeded', g.message);
  assert.match(stageOf(g, 'watch').message, /v1 healthy in staging for 3s/);

  const bad = await release({ version: 'v2', failRate: 0.5 });
  const b = await waitRun(bad.id, ended, 'the failing run');
  assert.equal(b.status, 'failed');
  assert.equal(stageOf(b, 'staging').status, 'succeeded', 'the rollout itself had no analysis');
  assert.match(stageOf(b, 'watch').message, /analysis failed: .*rolling staging back to v1/);
  const back = await until('staging back on v1', async () => {
    const [s] = await client.status({ app: 'demo', env: 'staging' });
    return s?.currentVersion === 'v1' && !s.activeDeployment ? s : null;
  });
  assert.equal(back.currentVersion, 'v1');
});

test("an environment's freeze holds a pipeline deploy until it ends", async () => {
  const to = new Date(Date.now() + 3000).toISOString();
  await apply({ freeze: [{ from: new Date(Date.now() - 1000).toISOString(), to, reason: 'release freeze' }] });
  try {
    const run = await release({ version: 'v3' });
    const w = await waitRun(run.id, (v) => stageOf(v, 'staging').status === 'waiting' || ended(v), 'the deploy to wait');
    assert.match(stageOf(w, 'staging').message, /deploy window of staging closed: frozen until .*release freeze/);
    assert.equal(stageOf(w, 'staging').deploymentId, null);
    const done = await waitRun(run.id, ended, 'the run after the freeze');
    assert.equal(done.status, 'succeeded', done.message);
    const dep = (await client.deployments({ app: 'demo', env: 'staging', limit: 1 }))[0]!;
    assert.ok(Date.parse(dep.createdAt) >= Date.parse(to), 'deployed only after the freeze');
  } finally {
    await apply();
  }
});
