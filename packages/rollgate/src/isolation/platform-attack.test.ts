/**
 * Issue 9's attack against the real platform (agent and server as real processes' code, real
 * instances, a real pipeline run): a hostile app instance and a hostile stage command try to read
 * every file of the data directory, another app's release, the /proc/<pid>/environ of the server,
 * the agent and another environment's instance (which holds a secret). Isolated, they read
 * nothing; in an environment whose spec says `isolation: none` the same app reads everything,
 * which shows the attack is real and the test can fail.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { ApiClient } from '../cli/client.js';
import { setSecret } from '../cli/client-secrets.js';
import { checkReleaseDir, packDir } from '../cli/pack.js';
import { freePort } from '../demo/fixtures.js';
import { waitForDeployment } from '../demo/platform.js';
import { runServer, type RunningServer } from '../server/main.js';
import { SplitPlatform, filesUnder, until } from '../test/split-platform.js';
import { availableIsolation } from './detect.js';

const VICTIM_SECRET = `victim-db-password-${Math.random().toString(36).slice(2)}`;

const ATTACK = `import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
const lines = [];
for (const f of (process.env.ATTACK_FILES ?? '').split(':').filter(Boolean)) {
  try { readFileSync(f); lines.push('READ ' + f); } catch (e) { lines.push('DENIED ' + (e.code ?? e.message) + ' ' + f); }
}
try { lines.push('LIST ' + readdirSync(process.env.ATTACK_DIR).join(',')); } catch (e) { lines.push('NOLIST ' + e.code); }
lines.push('ATTACK-DONE uid=' + process.getuid());
console.log(lines.join('\\n'));
if (process.argv[2] !== '--once') createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`;

const VICTIM = `import { createServer } from 'node:http';
createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`;

let work: string;
let dataDir: string;
let platform: SplitPlatform;
let server: RunningServer;
let client: ApiClient;

const app = (run: string) => ({ run, replicas: 1, drainTimeout: '1s', healthCheck: { path: '/', interval: '100ms', startTimeout: '10s' } });

async function source(name: string, files: Record<string, string>): Promise<string> {
  const d = join(work, 'src', name);
  await mkdir(d, { recursive: true });
  for (const [f, text] of Object.entries(files)) await writeFile(join(d, f), text);
  await writeFile(join(d, 'package.json'), JSON.stringify({ type: 'module' }));
  return d;
}

async function deploy(appName: string, env: string, dir: string, version: string) {
  await client.uploadRelease(appName, packDir(await checkReleaseDir(dir)), { version });
  const d = await client.deploy({ app: appName, env, version });
  const end = await waitForDeployment(client, d.id, 60_000);
  assert.equal(end.status, 'succeeded', `${appName} to ${env}: ${end.message}`);
}


const attackLines = async (path: string) => {
  return until('the attack output', async () => {
    const { lines } = await client.request<{ lines: { text: string }[] }>('GET', path);
    const texts = lines.map((l) => l.text);
    return texts.some((t) => t.startsWith('ATTACK-DONE')) ? texts : null;
  }, 30_000);
};

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-attack-'));
  dataDir = join(work, '.rollgate');
  platform = new SplitPlatform(dataDir);
  await platform.startAgent();
  const agent = await platform.agentConnection();
  server = await runServer({ dataDir, port: await freePort(), agent, log: { info() {}, warn() {}, error() {} } as never });
  client = new ApiClient(server.url, server.token!);
});

after(async () => {
  await server?.stop();
  await platform?.stopAll();
  await rm(work, { recursive: true, force: true });
});

test('an isolated instance and stage command read nothing of the platform; with isolation: none the same app reads it all', async (t) => {
  const kind = availableIsolation().available[0]!;
  if (kind === 'none') {
    if (process.env.ROLLGATE_REQUIRE_ALL === '1') assert.fail('no isolation is available here (install bubblewrap) (ROLLGATE_REQUIRE_ALL=1)');
    t.skip('no isolation is available here: install bubblewrap (apt-get install bubblewrap) or run as root');
    return;
  }
  const [pProd, pStaging, pLab] = [await freePort(), await freePort(), await freePort()];
  const spec = (attackEnv: Record<string, string>) =>
    client.applySpec({
      apps: { victim: app('node app.js'), attacker: { ...app('node attack.js'), env: attackEnv } },
      environments: {
        production: { listen: pProd, analysis: false, progressDeadline: '60s' },
        staging: { listen: pStaging, analysis: false, progressDeadline: '60s' },
        lab: { listen: pLab, analysis: false, progressDeadline: '60s', isolation: 'none' },
      },
      pipelines: { attack: { app: 'attacker', stages: [{ name: 'steal', run: { command: 'node attack.js --once', env: attackEnv } }] } },
    });
  await spec({});
  await setSecret(client, 'victim', 'production', 'DB_PASSWORD', Buffer.from(VICTIM_SECRET));
  await deploy('victim', 'production', await source('victim', { 'app.js': VICTIM }), 'v1');

  // Everything the platform keeps, and the environments of its processes and of the victim's instance.
  const [status] = await client.status({ app: 'victim', env: 'production' });
  const victimPid = status!.versions[0]!.instances[0]!.pid!;
  const agentPid = (await platform.agentConnection()).pid;
  const files = await filesUnder(dataDir);
  assert.ok(files.some((f) => f.endsWith('master.key')) && files.some((f) => f.endsWith('api.token')) && files.some((f) => relative(dataDir, f).startsWith('releases/victim/')), 'the data directory holds keys, tokens and the victim release');
  const targets = [...files, `/proc/${process.pid}/environ`, `/proc/${agentPid}/environ`, `/proc/${victimPid}/environ`];
  await spec({ ATTACK_FILES: targets.join(':'), ATTACK_DIR: dataDir });
  const attacker = await source('attacker', { 'attack.js': ATTACK });

  await deploy('attacker', 'staging', attacker, 'v1');
  const isolated = await attackLines('/v1/logs?app=attacker&env=staging&tail=2000');
  const read = isolated.filter((l) => l.startsWith('READ ') || (l.startsWith('LIST ') && /master\.key|api\.token|rollgate\.db/.test(l)));
  assert.deepEqual(read, [], `the isolated instance read: ${read.join('\n')}`);
  assert.ok(isolated.filter((l) => l.includes('DENIED')).length >= targets.length, 'every target was tried');
  const [staging] = await client.status({ app: 'attacker', env: 'staging' });
  assert.equal(staging!.isolation, kind, 'status shows how the instances are isolated');

  const run = await client.startRun({ pipeline: 'attack' }, { archive: packDir(await checkReleaseDir(attacker)) });
  const ended = await until('the attack run', async () => {
    const v = await client.run(run.id);
    return ['succeeded', 'failed'].includes(v.status) ? v : null;
  }, 60_000);
  assert.equal(ended.status, 'succeeded', ended.message);
  // Lines are stored a moment after the run ends.
  const stage = await until('the stage output', async () => {
    const texts = (await client.runLogs(run.id, { stage: 'steal', limit: 5000 })).lines.map((l) => l.text);
    return texts.some((l) => l.startsWith('ATTACK-DONE')) ? texts : null;
  }, 20_000);
  const stolen = stage.filter((l) => l.startsWith('READ ') || (l.startsWith('LIST ') && /master\.key|api\.token|rollgate\.db/.test(l)));
  assert.deepEqual(stolen, [], `the isolated stage command read: ${stolen.join('\n')}`);

  // The same release where the spec turned isolation off: the attack works (so the checks above can fail).
  await deploy('attacker', 'lab', attacker, 'v1');
  const open = await attackLines('/v1/logs?app=attacker&env=lab&tail=2000');
  assert.ok(open.some((l) => l.startsWith('READ ') && l.endsWith('master.key')), `without isolation the master key is readable: ${open.slice(0, 5).join('\n')}`);
  const [lab] = await client.status({ app: 'attacker', env: 'lab' });
  assert.equal(lab!.isolation, 'none');
});
