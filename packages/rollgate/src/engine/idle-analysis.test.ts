/**
 * Idle environments, end to end (real agent, router, app processes, no traffic at all): outside
 * production a rolling deploy goes on after `noTrafficAfter`, recorded as "not judged: no
 * traffic"; production holds, and `rollgate status` says why in full and shows a rolling
 * service's traffic as instances, not percentages (issue 10, defect 4).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runAgent, type RunningAgent } from '../agent/main.js';
import { ApiClient } from '../cli/client.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { freePort, makeDemoRelease } from '../demo/fixtures.js';
import { rollgate, type Run } from '../test/cli-run.js';
import { waitForDeployment } from '../demo/platform.js';
import { silentLogger } from './logger.js';
import { runServer, type RunningServer } from '../server/main.js';

let work: string;
let agent: RunningAgent;
let server: RunningServer;
let client: ApiClient;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-idle-'));
  const [staging, prod] = [await freePort(), await freePort()];
  agent = await runAgent({ dataDir: join(work, 'agent'), log: () => {} });
  server = await runServer({ dataDir: join(work, 'server'), port: 0, agent: { url: agent.url, token: agent.token }, log: silentLogger });
  client = new ApiClient(server.url, server.token);
  await client.applySpec(
    parseYaml(`apps:
  demo:
    run: node server.js
    replicas: 2
    drainTimeout: 1s
    healthCheck: { path: /healthz, interval: 200ms, timeout: 1s, startTimeout: 15s }
environments:
  staging:
    listen: ${staging}
    strategy:
      rolling:
        analysis: { noTrafficAfter: 2s }
  live:
    listen: ${prod}
    production: true
    strategy: { rolling: {} }
`),
  );
  for (const version of ['v1', 'v2']) {
    const dir = await makeDemoRelease(join(work, 'releases'), { version, latencyMs: 1 });
    await client.uploadRelease('demo', packDir(await checkReleaseDir(dir)), { version });
  }
  for (const env of ['staging', 'live']) {
    const first = await client.deploy({ app: 'demo', env, version: 'v1' });
    const end = await waitForDeployment(client, first.id);
    assert.equal(end.status, 'succeeded', `${env}: ${end.message}`);
  }
});

after(async () => {
  await server?.stop();
  await agent?.stop();
  await rm(work, { recursive: true, force: true });
});

function status(env: string): Promise<Run> {
  return rollgate(process.cwd(), ['status', '--env', env], 120_000, { ...process.env, ROLLGATE_SERVER: server.url, ROLLGATE_TOKEN: server.token ?? '' });
}

describe('idle environments', () => {
  test('outside production, a rolling deploy with no traffic proceeds after noTrafficAfter, recorded as not judged', async () => {
    const d = await client.deploy({ app: 'demo', env: 'staging', version: 'v2' });
    const done = await waitForDeployment(client, d.id, 60_000);
    assert.equal(done.status, 'succeeded', done.message);
    assert.equal(done.state.analysis?.verdict, 'not_judged');
    assert.match(done.state.analysis?.reason ?? '', /^not judged: no traffic to v2 in .*outside production, the step proceeds after noTrafficAfter 2s$/);
  });

  test('production holds with no traffic, and status says why in full and counts instances', async () => {
    const d = await client.deploy({ app: 'demo', env: 'live', version: 'v2' });
    const held = await waitForDeployment(client, d.id, 60_000, (x) => x.status === 'paused');
    assert.match(held.state.analysis?.reason ?? '', /in production the rollout waits for traffic to judge, with no time limit/);
    const out = await status('live');
    assert.equal(out.code, 0, out.stdout);
    assert.match(out.stdout, /demo\/live: v2 paused — .*waiting for the analysis to pass/);
    assert.match(out.stdout, /analysis \(background\): running — not judged yet: no traffic to v2 in .*; in production the rollout waits for traffic to judge, with no time limit; send traffic, or `rollgate promote --skip-analysis` to go on without it, or set analysis.noTrafficAfter/);
    assert.match(out.stdout, /v1 \d inst · v2 \d inst/);
    assert.doesNotMatch(out.stdout, /v\d \d%/);
    await client.act(d.id, 'abort');
    await waitForDeployment(client, d.id, 60_000);
  });
});
