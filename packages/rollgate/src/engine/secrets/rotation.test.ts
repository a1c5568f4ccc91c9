/**
 * Rotating a secret reaches the running instances by a rolling restart, under live traffic,
 * with no failed request: real agent, real server, real instances, requests through the router.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../cli/client.js';
import { rotateSecret, setSecret } from '../../cli/client-secrets.js';
import { checkReleaseDir, packDir } from '../../cli/pack.js';
import { freePort } from '../../demo/fixtures.js';
import { waitForDeployment } from '../../demo/platform.js';
import { LoadGenerator } from '../../loadgen/loadgen.js';
import { silentLogger } from '../logger.js';
import { runServer, type RunningServer } from '../../server/main.js';
import { SplitPlatform, until } from '../../test/split-platform.js';

// The app answers with a hash of its secret (never the secret) and drains on SIGTERM.
const APP = `import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
const hash = createHash('sha256').update(process.env.DB_PASSWORD ?? '').digest('hex').slice(0, 16);
const server = createServer((req, res) => { res.setHeader('x-app-version', hash); res.end(hash); });
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;
const short = (v: string) => createHash('sha256').update(v).digest('hex').slice(0, 16);

let work: string;
let platform: SplitPlatform;
let server: RunningServer;
let client: ApiClient;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-rotate-'));
  const dataDir = join(work, '.rollgate');
  platform = new SplitPlatform(dataDir);
  await platform.startAgent();
  server = await runServer({ dataDir, port: await freePort(), agent: await platform.agentConnection(), log: silentLogger });
  client = new ApiClient(server.url, server.token!);
});

after(async () => {
  await server?.stop();
  await platform?.stopAll();
  await rm(work, { recursive: true, force: true });
});

test('a rotated secret is rolled out to the running instances with zero failed requests', async () => {
  const port = await freePort();
  await client.applySpec({
    apps: { api: { run: 'node app.js', replicas: 2, drainTimeout: '5s', healthCheck: { path: '/', interval: '100ms' } } },
    environments: { staging: { listen: port, analysis: false } },
  });
  await setSecret(client, 'api', 'staging', 'DB_PASSWORD', Buffer.from('first-password-value'));
  const dir = join(work, 'v1');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'app.js'), APP);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  await client.uploadRelease('api', packDir(await checkReleaseDir(dir)), { version: 'v1' });
  const dep = await client.deploy({ app: 'api', env: 'staging', version: 'v1' });
  assert.equal((await waitForDeployment(client, dep.id)).status, 'succeeded');
  const pids = async () => (await client.status({ app: 'api', env: 'staging' }))[0]!.versions.flatMap((v) => v.instances.filter((i) => i.state === 'ready').map((i) => i.pid)).sort();
  const before = await pids();
  assert.equal(before.length, 2);

  const load = new LoadGenerator({ url: `http://127.0.0.1:${port}/`, ratePerSecond: 200, durationMs: 60_000, connections: 16 });
  load.setPhase('before');
  load.start();
  await new Promise((r) => setTimeout(r, 1000));
  load.setPhase('rotation');
  await rotateSecret(client, 'api', 'staging', 'DB_PASSWORD', Buffer.from('second-password-value'));
  // Every instance now runs with the new value: new processes, and answers carry its hash.
  await until('the new instances to serve alone', async () => {
    const now = await pids();
    return now.length === 2 && now.every((p) => !before.includes(p));
  }, 30_000);
  await new Promise((r) => setTimeout(r, 1000));
  load.setPhase('after');
  await new Promise((r) => setTimeout(r, 1000));
  await load.stop();

  const during = load.phaseStats('rotation');
  const afterwards = load.phaseStats('after');
  assert.ok(during.requests > 100, `traffic ran during the rotation (${during.requests} requests)`);
  assert.equal(during.failed, 0, `failed during the rotation: ${JSON.stringify(during.reasons)}`);
  assert.equal(load.phaseStats('before').byVersion[short('first-password-value')]! > 0, true, 'the old value served before');
  assert.deepEqual(Object.keys(afterwards.byVersion), [short('second-password-value')], 'only the new value serves after');
  assert.equal(afterwards.failed, 0);
  const [svc] = await client.status({ app: 'api', env: 'staging' });
  assert.equal(svc!.activeDeployment, null, 'no deployment was needed');
});
