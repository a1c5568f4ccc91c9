/**
 * Issue 10, defect 1: a version keeps the settings it was deployed with. v1 serves with a good
 * health check; v2 is deployed with a health check path the app does not have. Before the fix the
 * new path reached v1 at once, v1's instances were stopped and the environment answered 503;
 * now v2 fails on its own, v1's instances are never touched (same processes, always ready) and
 * every request under load is answered 200. A server restart does not hand v1 the new settings
 * either, and rolling back returns a version to the settings it ran with.
 * Real agent process, real server, real instances and traffic.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../cli/client.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { freePort, makeDemoRelease } from '../demo/fixtures.js';
import { waitForDeployment } from '../demo/platform.js';
import { runServer, type RunningServer } from '../server/main.js';
import { SplitPlatform, until } from '../test/split-platform.js';

let work: string;
let dataDir: string;
let platform: SplitPlatform;
let server: RunningServer;
let client: ApiClient;
let listen: number;
let agent: { url: string; token: string };

const quiet = { info() {}, warn() {}, error() {} } as never;

async function start(): Promise<void> {
  server = await runServer({ dataDir, port: await freePort(), agent, log: quiet });
  client = new ApiClient(server.url, server.token!);
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-settings-'));
  dataDir = join(work, '.rollgate');
  platform = new SplitPlatform(dataDir);
  await platform.startAgent();
  agent = await platform.agentConnection();
  await start();
  listen = await freePort();
});

after(async () => {
  await server?.stop();
  await platform?.stopAll();
  await rm(work, { recursive: true, force: true });
});

const spec = (healthPath: string, greeting: string) =>
  client.applySpec({
    apps: { web: { run: 'node server.js', replicas: 2, drainTimeout: '1s', env: { GREETING: greeting }, healthCheck: { path: healthPath, interval: '100ms', timeout: '1s', startTimeout: '3s' } } },
    environments: { production: { listen, analysis: false, progressDeadline: '30s', strategy: { rolling: { maxSurge: 1, maxUnavailable: 0, analysis: false } } } },
  });

async function release(version: string): Promise<void> {
  const dir = await makeDemoRelease(join(work, 'rel'), { version });
  await client.uploadRelease('web', packDir(await checkReleaseDir(dir)), { version });
}

async function deploy(version: string) {
  const d = await client.deploy({ app: 'web', env: 'production', version });
  return waitForDeployment(client, d.id, 60_000);
}

async function instancesOf(version: string) {
  const [s] = await client.status({ app: 'web', env: 'production' });
  return s?.versions.find((v) => v.version === version)?.instances ?? [];
}

/** Requests the environment every 20 ms until stopped; counts answers that are not 200. */
function load() {
  let stop = false;
  const bad: string[] = [];
  let ok = 0;
  const done = (async () => {
    while (!stop) {
      try {
        const r = await fetch(`http://127.0.0.1:${listen}/`);
        await r.arrayBuffer();
        if (r.status === 200) ok++;
        else bad.push(String(r.status));
      } catch (e) {
        bad.push((e as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return { stop: async () => ((stop = true), await done, { ok, bad }) };
}

test('a wrong health check in the next version never reaches the version that serves; it keeps its settings across a server restart', async () => {
  await spec('/healthz', 'one');
  await release('v1');
  assert.equal((await deploy('v1')).status, 'succeeded');
  const v1 = await until('v1 ready', async () => {
    const i = await instancesOf('v1');
    return i.length === 2 && i.every((x) => x.state === 'ready') ? i : null;
  });
  const pids = v1.map((i) => i.pid).sort();

  const traffic = load();
  await spec('/no-such-path', 'two');
  await release('v2');
  const end = await deploy('v2');
  assert.notEqual(end.status, 'succeeded', 'v2 cannot become healthy');
  const seen = await traffic.stop();
  assert.deepEqual(seen.bad, [], `every request was answered 200 while v2 failed (${seen.ok} ok)`);
  assert.ok(seen.ok > 20, `the load ran (${seen.ok} requests)`);

  const after1 = await instancesOf('v1');
  assert.deepEqual(after1.map((i) => i.pid).sort(), pids, 'the same v1 processes serve: none was restarted or stopped');
  assert.ok(after1.every((i) => i.state === 'ready' && i.restarts === 0), JSON.stringify(after1));
  const [s] = await client.status({ app: 'web', env: 'production' });
  assert.equal(s!.currentVersion, 'v1');
  // The failure is on record: an incident, and a failed change in the delivery metrics.
  const incidents = await client.incidents({ app: 'web', env: 'production', status: 'open' });
  assert.ok(incidents.some((i) => i.deploymentId === end.id), `an incident names the failed deployment: ${JSON.stringify(incidents)}`);
  const dora = await client.dora({ app: 'web', env: 'production', since: '1d' });
  assert.equal(dora.changeFailureRate.failed, 1, JSON.stringify(dora.changeFailureRate));

  // A new server adopts what runs: v1 still with the settings it was deployed with.
  await server.stop();
  await start();
  await new Promise((r) => setTimeout(r, 1500)); // several health-check intervals of the /healthz that v1 has
  const adopted = await instancesOf('v1');
  assert.deepEqual(adopted.map((i) => i.pid).sort(), pids, 'a restarted server does not hand v1 the new health check');
  assert.ok(adopted.every((i) => i.state === 'ready'), JSON.stringify(adopted));

  // The fixed spec rolls out as a release: v3 with the good health check replaces v1.
  await spec('/healthz', 'three');
  await release('v3');
  assert.equal((await deploy('v3')).status, 'succeeded');
  // Rolling back returns v1 with the health check it ran with, whatever the spec says now.
  await spec('/no-such-path', 'four');
  const rb = await client.rollback({ app: 'web', env: 'production' });
  assert.equal((await waitForDeployment(client, rb.id, 60_000)).status, 'succeeded', 'v1 comes back healthy with its own /healthz');
  const back = await instancesOf('v1');
  assert.equal(back.filter((i) => i.state === 'ready').length, 2, JSON.stringify(back));
  assert.ok(back.every((i) => i.restarts === 0 && i.state !== 'failed'), JSON.stringify(back));
  // The same release again with other settings rolls them out as a release of its own: new
  // instances first; a bad health check fails there and v1 keeps serving, untouched.
  // Once the rollback's leftovers have drained: v1's two ready instances alone.
  const before = (
    await until('v1 alone, ready', async () => {
      const i = await instancesOf('v1');
      return i.length === 2 && i.every((x) => x.state === 'ready') ? i : null;
    })
  )
    .map((i) => i.pid)
    .sort();
  const bad = await deploy('v1');
  assert.equal(bad.version, 'v1+s1', 'the settings change rolls out as v1+s1');
  assert.notEqual(bad.status, 'succeeded', 'the settings of /no-such-path cannot become healthy');
  assert.deepEqual((await instancesOf('v1')).map((i) => i.pid).sort(), before, 'v1 was never touched');
  const events = (await client.deployment(bad.id)).timeline;
  assert.ok(events.some((e) => /settings of v1 changed \(.*healthCheck.*\) and roll out as v1\+s1/.test(e.message)), JSON.stringify(events));
  // Fixed settings (a good health check, new configuration): v1+s2 replaces v1 under load.
  await client.applySpec({
    apps: { web: { run: 'node server.js', replicas: 2, drainTimeout: '1s', env: { APP_VERSION: 'v1-five' }, healthCheck: { path: '/healthz', interval: '100ms', timeout: '1s', startTimeout: '3s' } } },
    environments: { production: { listen, analysis: false, progressDeadline: '30s', strategy: { rolling: { maxSurge: 1, maxUnavailable: 0, analysis: false } } } },
  });
  const traffic2 = load();
  const good = await deploy('v1');
  const seen2 = await traffic2.stop();
  assert.equal(good.version, 'v1+s2');
  assert.equal(good.status, 'succeeded');
  assert.deepEqual(seen2.bad, [], `every request answered 200 through the settings rollout (${seen2.ok} ok)`);
  const answer = async () => ((await (await fetch(`http://127.0.0.1:${listen}/`)).json()) as { version: string }).version;
  assert.equal(await answer(), 'v1-five', 'the new configuration serves');
  // Unchanged settings: nothing to roll out, said so.
  await assert.rejects(client.deploy({ app: 'web', env: 'production', version: 'v1+s2' }), /v1\+s2 already serves production with the settings in the spec/);
  // And it is revertible like a release: back to v1 with the settings v1 ran with.
  const rb2 = await client.rollback({ app: 'web', env: 'production' });
  assert.equal((await waitForDeployment(client, rb2.id, 60_000)).version, 'v1');
  assert.equal(await answer(), 'v1', 'v1 answers with its own configuration again');
});
