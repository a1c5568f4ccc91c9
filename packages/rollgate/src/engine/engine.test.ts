/**
 * The control plane end to end against a real agent: real app processes, real router sockets,
 * a real SQLite file. Each test deploys the demo app and checks what users would see.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runAgent, type RunningAgent } from '../agent/main.js';
import { ApiClient } from '../cli/client.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { demoSpec, freePort, makeDemoRelease, type Behavior } from '../demo/fixtures.js';
import { waitForDeployment } from '../demo/platform.js';
import { silentLogger } from './logger.js';
import { runServer, type RunningServer } from '../server/main.js';

let work: string;
let agent: RunningAgent;
let server: RunningServer;
let client: ApiClient;
let prodPort: number;
let stagingPort: number;
let qaPort: number;

async function release(b: Behavior): Promise<void> {
  const dir = await makeDemoRelease(join(work, 'releases'), b);
  await client.uploadRelease('demo', packDir(await checkReleaseDir(dir)), { version: b.version });
}

async function get(port: number, path = '/', headers: Record<string, string> = {}): Promise<{ status: number; version: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  await res.arrayBuffer();
  return { status: res.status, version: res.headers.get('x-app-version') };
}

async function versionsSeen(port: number, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await get(port);
    assert.equal(r.status, 200);
    seen[r.version ?? '?'] = (seen[r.version ?? '?'] ?? 0) + 1;
  }
  return seen;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-engine-'));
  [prodPort, stagingPort, qaPort] = [await freePort(), await freePort(), await freePort()];
  agent = await runAgent({ dataDir: join(work, 'agent'), log: () => {} });
  server = await runServer({ dataDir: join(work, 'server'), port: 0, agent: { url: agent.url, token: agent.token }, log: silentLogger });
  client = new ApiClient(server.url, server.token);
  const spec = demoSpec({ stagingPort, productionPort: prodPort, replicas: 2, canaryPauseMs: 200, analysis: false }) + `  qa:\n    listen: ${qaPort}\n    progressDeadline: 1s\n`;
  await client.applySpec(parseYaml(spec));
  for (const v of ['v1', 'v2', 'v3', 'v4']) await release({ version: v });
  await release({ version: 'crash', crashOnStart: true });
  await release({ version: 'sick', healthy: false });
  await release({ version: 'slowstart', startDelayMs: 8000 });
});

after(async () => {
  await server?.stop();
  await agent?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('deployments against a real agent', () => {
  test('first deployment starts every replica and serves the version', async () => {
    const d = await client.deploy({ app: 'demo', env: 'production', version: 'v1' });
    const done = await waitForDeployment(client, d.id);
    assert.equal(done.status, 'succeeded', done.message);
    assert.deepEqual(await versionsSeen(prodPort, 10), { v1: 10 });
    const [st] = await client.status({ app: 'demo', env: 'production' });
    assert.equal(st?.currentVersion, 'v1');
    assert.equal(st?.versions.find((v) => v.version === 'v1')?.ready, 2);
  });

  test('canary walks its steps, holds at an open pause, a second deploy gets 409, promote finishes it', async () => {
    const d = await client.deploy({ app: 'demo', env: 'production', version: 'v2' });
    const paused = await waitForDeployment(client, d.id, 60_000, (x) => x.status === 'paused' || x.status === 'failed');
    assert.equal(paused.status, 'paused', paused.message);
    assert.equal(paused.candidateWeight, 50);
    const seen = await versionsSeen(prodPort, 200);
    assert.ok((seen.v1 ?? 0) > 40 && (seen.v2 ?? 0) > 40, `both versions serve at 50%: ${JSON.stringify(seen)}`);
    // header pin
    assert.equal((await get(prodPort, '/', { 'x-rollgate-version': 'v2' })).version, 'v2');

    await assert.rejects(client.deploy({ app: 'demo', env: 'production', version: 'v3' }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'deployment_in_progress');
      assert.match(e.message, new RegExp(d.id));
      return true;
    });

    await client.act(d.id, 'promote', { full: false });
    const done = await waitForDeployment(client, d.id);
    assert.equal(done.status, 'succeeded', done.message);
    assert.deepEqual(await versionsSeen(prodPort, 20), { v2: 20 });
    assert.ok(done.timeline.some((e) => e.kind === 'promote'));
    // The end hooks (incidents, notifications) ran and that is on record, so a restart does not repeat them.
    const reread = await waitForDeployment(client, d.id, 5000, (x) => x.state.endHandled === true);
    assert.equal(reread.state.endHandled, true);
  });

  test('rollback right after a canary is instant: the old version is still warm', async () => {
    const d = await client.rollback({ app: 'demo', env: 'production' });
    const done = await waitForDeployment(client, d.id);
    assert.equal(done.status, 'succeeded', done.message);
    assert.equal(done.kind, 'rollback');
    assert.deepEqual(await versionsSeen(prodPort, 10), { v1: 10 });
  });

  test('an app that crashes on start fails the deployment with its stderr; traffic stays on the last good version', async () => {
    const d = await client.deploy({ app: 'demo', env: 'production', version: 'crash', strategy: 'blue-green' });
    const done = await waitForDeployment(client, d.id, 90_000);
    assert.equal(done.status, 'failed');
    assert.match(done.message, /crash could not become healthy/);
    assert.deepEqual(await versionsSeen(prodPort, 10), { v1: 10 });
  });

  test('a health check that never passes fails the deployment (not hung)', async () => {
    const d = await client.deploy({ app: 'demo', env: 'production', version: 'sick', strategy: 'rolling' });
    const done = await waitForDeployment(client, d.id, 90_000);
    assert.equal(done.status, 'failed', done.message);
    assert.deepEqual(await versionsSeen(prodPort, 10), { v1: 10 });
  });

  test('abort mid-rollout returns all traffic to stable', async () => {
    const d = await client.deploy({ app: 'demo', env: 'production', version: 'v3' });
    await waitForDeployment(client, d.id, 60_000, (x) => x.status === 'paused');
    await client.act(d.id, 'abort');
    const done = await waitForDeployment(client, d.id);
    assert.equal(done.status, 'aborted');
    assert.deepEqual(await versionsSeen(prodPort, 10), { v1: 10 });
  });

  test('fail forces a rollback with the reason; retry deploys the same release again', async () => {
    const d = await client.deploy({ app: 'demo', env: 'production', version: 'v3' });
    await waitForDeployment(client, d.id, 60_000, (x) => x.status === 'paused');
    await client.act(d.id, 'fail', { reason: 'bad numbers on the dashboard' });
    const done = await waitForDeployment(client, d.id);
    assert.equal(done.status, 'rolled_back');
    assert.match(done.message, /bad numbers on the dashboard/);
    assert.deepEqual(await versionsSeen(prodPort, 10), { v1: 10 });
    const again = await client.retry({ app: 'demo', env: 'production' });
    assert.equal(again.releaseId, d.releaseId);
    await waitForDeployment(client, again.id, 60_000, (x) => x.status === 'paused');
    await client.act(again.id, 'abort');
    assert.equal((await waitForDeployment(client, again.id)).status, 'aborted');
  });

  test('blue-green switches at once to the new version; rolling and recreate also end on the new version', async () => {
    for (const [version, strategy] of [['v3', 'blue-green'], ['v4', 'rolling'], ['v2', 'recreate']] as const) {
      const d = await client.deploy({ app: 'demo', env: 'production', version, strategy });
      const done = await waitForDeployment(client, d.id);
      assert.equal(done.status, 'succeeded', `${strategy}: ${done.message}`);
      assert.deepEqual(await versionsSeen(prodPort, 10), { [version]: 10 });
    }
  });

  test('bad input is refused with a clear error and changes nothing', async () => {
    const before = await client.deployments({ app: 'demo' });
    await assert.rejects(client.deploy({ app: 'nope', env: 'production', version: 'v1' }), /unknown app "nope"/);
    await assert.rejects(client.retry({ app: 'demo', env: 'production' }), /succeeded; there is nothing to retry/);
    await assert.rejects(client.deploy({ app: 'demo', env: 'nowhere', version: 'v1' }), /unknown environment "nowhere"/);
    await assert.rejects(client.deploy({ app: 'demo', env: 'production', version: 'v9' }), /no release v9/);
    await assert.rejects(client.deploy({ app: 'demo', env: 'production', version: 'bad version!' }), /versions are letters/);
    assert.equal((await client.deployments({ app: 'demo' })).length, before.length);
  });

  test('a listener port taken by another program fails the deployment with a message naming it', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(stagingPort, '127.0.0.1', () => r()));
    try {
      const d = await client.deploy({ app: 'demo', env: 'staging', version: 'v1' });
      const done = await waitForDeployment(client, d.id, 60_000);
      assert.equal(done.status, 'failed');
      assert.match(done.message, /in use/);
    } finally {
      blocker.close();
    }
  });

  test('delivery metrics (DORA) count the production deployments above and their failures', async () => {
    const r = await client.dora({ env: 'production', since: '1d' });
    const prod = (await client.deployments({ app: 'demo', env: 'production', limit: 1000 })).filter((d) => d.kind === 'deploy');
    assert.equal(r.deploymentFrequency.count, prod.filter((d) => d.status === 'succeeded').length);
    assert.ok(r.changeFailureRate.failed >= 3, `crash, sick and fail/retry ended badly: ${JSON.stringify(r.changeFailureRate)}`);
    assert.ok(r.changeFailureRate.rate !== null && r.changeFailureRate.rate > 0 && r.changeFailureRate.rate < 1);
  });

  test('a rollout that stops moving is ended by the progress deadline', async () => {
    const d = await client.deploy({ app: 'demo', env: 'qa', version: 'slowstart' });
    const done = await waitForDeployment(client, d.id, 30_000);
    assert.equal(done.status, 'failed');
    assert.match(done.message, /no progress for 1s/);
  });

  test('the event stream carries step, weight and instance health changes, and resumes after an id', async () => {
    const ctrl = new AbortController();
    const types = new Set<string>();
    let lastId = 0;
    const reader = (async () => {
      for await (const e of client.events({ after: 0, signal: ctrl.signal })) {
        types.add(e.type);
        lastId = e.id;
      }
    })().catch(() => undefined);
    const d = await client.deploy({ app: 'demo', env: 'staging', version: 'v2' });
    await waitForDeployment(client, d.id);
    await new Promise((r) => setTimeout(r, 300));
    ctrl.abort();
    await reader;
    for (const t of ['deployment.created', 'deployment.started', 'deployment.succeeded', 'traffic.changed', 'instance.changed']) assert.ok(types.has(t), `saw ${t}: ${[...types].join(', ')}`);
    // Resuming after the last id replays nothing already seen.
    const again = new AbortController();
    const seen: number[] = [];
    const r2 = (async () => {
      for await (const e of client.events({ after: lastId, signal: again.signal })) seen.push(e.id);
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    again.abort();
    await r2;
    assert.ok(seen.every((id) => id > lastId));
  });
});
