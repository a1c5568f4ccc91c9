/**
 * Kill the server with SIGKILL in the middle of a rollout: traffic goes on unchanged through the
 * agent (a separate process); a new server adopts the running instances and resumes the rollout
 * from the step it had reached. Real processes: `rollgate agent`, `rollgate server`, the demo app.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ApiClient } from '../cli/client.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { demoSpec, freePort, makeDemoRelease } from '../demo/fixtures.js';
import { SplitPlatform } from '../test/split-platform.js';
import { waitForDeployment } from '../demo/platform.js';

let work: string;
let platform: SplitPlatform;

async function hits(port: number, n: number): Promise<{ ok: number; versions: Record<string, number> }> {
  let ok = 0;
  const versions: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: n }, async () => {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      await r.arrayBuffer();
      if (r.status === 200) ok++;
      const v = r.headers.get('x-app-version') ?? '?';
      versions[v] = (versions[v] ?? 0) + 1;
    }),
  );
  return { ok, versions };
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-kill-'));
  platform = new SplitPlatform(join(work, '.rollgate'));
  await platform.startAgent();
});

after(async () => {
  await platform.stopAll();
  await rm(work, { recursive: true, force: true });
});

test('SIGKILL of the server mid-canary: traffic continues, a new server resumes from the same step', async () => {
  const [apiPort, prodPort, stagingPort] = [await freePort(), await freePort(), await freePort()];
  let client = await platform.startServer(apiPort);
  await client.applySpec(parseYaml(demoSpec({ stagingPort, productionPort: prodPort, canaryPauseMs: 100, analysis: false })));
  for (const v of ['v1', 'v2']) {
    const dir = await makeDemoRelease(join(work, 'releases'), { version: v });
    await client.uploadRelease('demo', packDir(await checkReleaseDir(dir)), { version: v });
  }
  const first = await client.deploy({ app: 'demo', env: 'production', version: 'v1' });
  assert.equal((await waitForDeployment(client, first.id)).status, 'succeeded');

  const canary = await client.deploy({ app: 'demo', env: 'production', version: 'v2' });
  const paused = await waitForDeployment(client, canary.id, 60_000, (d) => d.status === 'paused' || d.status === 'failed');
  assert.equal(paused.status, 'paused', paused.message);
  const stepBefore = paused.state.stepIndex;
  const pids = async (c: ApiClient) => (await c.status({ app: 'demo', env: 'production' }))[0]!.versions.flatMap((v) => v.instances.map((i) => i.pid)).sort();
  const pidsBefore = await pids(client);
  assert.equal(pidsBefore.length, 3, 'v1 x2 and the canary');

  await platform.killServer();
  await assert.rejects(fetch(`http://127.0.0.1:${apiPort}/v1/health`));

  // The data plane does not notice: every request is served, by both versions at 50%.
  const during = await hits(prodPort, 200);
  assert.equal(during.ok, 200, JSON.stringify(during));
  assert.ok((during.versions.v1 ?? 0) > 40 && (during.versions.v2 ?? 0) > 40, JSON.stringify(during.versions));
  assert.equal(platform.agent!.exitCode, null, 'the agent keeps running');

  client = await platform.startServer(apiPort);
  const resumed = await waitForDeployment(client, canary.id, 20_000, (d) => d.status === 'paused');
  assert.equal(resumed.state.stepIndex, stepBefore, 'resumes at the step it had reached');
  const [st] = await client.status({ app: 'demo', env: 'production' });
  assert.equal(st?.versions.find((v) => v.version === 'v1')?.ready, 2);
  assert.deepEqual(await pids(client), pidsBefore, 'adopted the running instances: same processes');

  await client.act(canary.id, 'promote', { full: false });
  const done = await waitForDeployment(client, canary.id);
  assert.equal(done.status, 'succeeded', done.message);
  const afterPromote = await hits(prodPort, 50);
  assert.deepEqual(afterPromote.versions, { v2: 50 });
});
