/**
 * The wrong setting of issue 9, item 2: an agent that cannot isolate (here told so with
 * `--isolation none`) must refuse to start a production instance, saying what to install or to
 * write, while a production environment whose spec says `isolation: none` runs and `status`
 * marks it. Real agent process, real server, real instances.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../cli/client.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { freePort } from '../demo/fixtures.js';
import { waitForDeployment } from '../demo/platform.js';
import { silentLogger } from '../engine/logger.js';
import { runServer, type RunningServer } from '../server/main.js';
import { SplitPlatform } from '../test/split-platform.js';

let work: string;
let platform: SplitPlatform;
let server: RunningServer;
let client: ApiClient;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-unisolated-'));
  const dataDir = join(work, '.rollgate');
  platform = new SplitPlatform(dataDir);
  await platform.startAgent(['--isolation', 'none']);
  server = await runServer({ dataDir, port: await freePort(), agent: await platform.agentConnection(), log: silentLogger });
  client = new ApiClient(server.url, server.token!);
});

after(async () => {
  await server?.stop();
  await platform?.stopAll();
  await rm(work, { recursive: true, force: true });
});

test('an agent that cannot isolate refuses production instances unless the spec says isolation: none', async () => {
  const app = { run: 'node app.js', replicas: 1, drainTimeout: '1s', healthCheck: { path: '/', interval: '100ms', startTimeout: '5s' } };
  await client.applySpec({
    apps: { web: app },
    environments: {
      production: { listen: await freePort(), analysis: false, progressDeadline: '30s' },
      trusted: { listen: await freePort(), analysis: false, progressDeadline: '30s', production: true, isolation: 'none' },
    },
  });
  const dir = join(work, 'src');
  await mkdir(dir);
  await writeFile(join(dir, 'app.js'), "import { createServer } from 'node:http';\ncreateServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');\n");
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  await client.uploadRelease('web', packDir(await checkReleaseDir(dir)), { version: 'v1' });

  const refused = await waitForDeployment(client, (await client.deploy({ app: 'web', env: 'production', version: 'v1' })).id, 60_000);
  assert.notEqual(refused.status, 'succeeded');
  assert.match(refused.message, /production environment and this agent cannot isolate instances.*apt-get install bubblewrap.*isolation: none/);

  const allowed = await waitForDeployment(client, (await client.deploy({ app: 'web', env: 'trusted', version: 'v1' })).id, 60_000);
  assert.equal(allowed.status, 'succeeded', allowed.message);
  const [s] = await client.status({ app: 'web', env: 'trusted' });
  assert.equal(s!.isolation, 'none', 'status marks the unisolated service');
});
