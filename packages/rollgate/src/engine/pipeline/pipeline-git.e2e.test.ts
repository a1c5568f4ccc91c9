/**
 * Pipelines fed from git: `release --git REF`, an unreachable repository, the signed push
 * webhook and polling. Real `git` on a real local repository, real server and agent processes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ApiClient } from '../../cli/client.js';
import { ROLLGATE_BIN, freePort, makeDemoRelease } from '../../demo/fixtures.js';
import { SplitPlatform, until } from '../../test/split-platform.js';
import type { RunView } from './pipelines.js';

const exec = promisify(execFile);
const SECRET = 'hook-secret-for-tests';

let work: string;
let repo: string;
let platform: SplitPlatform;
let client: ApiClient;
let apiPort: number;

const git = async (...args: string[]) => (await exec('git', ['-C', repo, '-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', ...args])).stdout.trim();

async function commit(file: string, text: string): Promise<string> {
  await writeFile(join(repo, file), text);
  await git('add', '-A');
  await git('commit', '-q', '-m', `change ${file}`);
  return git('rev-parse', 'HEAD');
}

async function waitRun(id: string, pred: (v: RunView) => boolean, what: string): Promise<RunView> {
  return until(what, async () => {
    const v = await client.run(id);
    return pred(v) ? v : null;
  }, 60_000);
}
const ended = (v: RunView) => !['queued', 'running', 'waiting'].includes(v.status);

function hook(name: string, body: unknown, secret = SECRET): Promise<Response> {
  const text = JSON.stringify(body);
  const sig = `sha256=${createHmac('sha256', secret).update(text).digest('hex')}`;
  return fetch(`http://127.0.0.1:${apiPort}/hooks/git/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': sig, 'x-github-event': 'push' }, body: text });
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-pipeline-git-'));
  repo = await makeDemoRelease(join(work, 'repo'), { version: 'v1' });
  await exec('git', ['init', '-q', '-b', 'main', repo]);
  await commit('README.md', 'demo\n');
  platform = new SplitPlatform(join(work, '.rollgate'), { GIT_HOOK_SECRET: SECRET });
  await platform.startAgent();
  apiPort = await freePort();
  client = await platform.startServer(apiPort);
  const stagingPort = await freePort();
  await client.applySpec({
    apps: { demo: { run: 'node server.js', replicas: 1, healthCheck: { path: '/healthz', interval: '100ms' } } },
    environments: { staging: { listen: stagingPort, analysis: false } },
    pipelines: {
      demo: {
        app: 'demo',
        source: { git: { url: repo, branch: 'main', webhookSecretEnv: 'GIT_HOOK_SECRET' } },
        stages: [
          { name: 'build', run: { command: 'git log -1 --format=%H > built-from.txt' } },
          { name: 'staging', deploy: { env: 'staging' } },
        ],
      },
      polled: { app: 'demo', source: { git: { url: repo, branch: 'main', poll: '200ms' } }, stages: [{ name: 'build', run: { command: 'true' } }] },
      nowhere: { app: 'demo', source: { git: { url: join(work, 'no-such-repo'), branch: 'main' } }, stages: [{ name: 'build', run: { command: 'true' } }] },
    },
  });
});

after(async () => {
  await platform.stopAll();
  await rm(work, { recursive: true, force: true });
});

test('release --git builds the commit once and the release carries its sha and time (for lead time)', async () => {
  const head = await git('rev-parse', 'HEAD');
  const time = await git('log', '-1', '--format=%cI');
  const token = (await readFile(join(work, '.rollgate', 'api.token'), 'utf8')).trim();
  const r = await exec(process.execPath, [ROLLGATE_BIN, 'release', 'demo', '--git', 'main', '--no-apply', '--wait', '--json'], { env: { ...process.env, ROLLGATE_SERVER: `http://127.0.0.1:${apiPort}`, ROLLGATE_TOKEN: token } });
  const run = JSON.parse(r.stdout) as RunView;
  assert.equal(run.status, 'succeeded', run.message);
  assert.equal(run.trigger, 'api');
  assert.equal(run.source.commitSha, head);
  assert.equal(Date.parse(run.source.commitTime!), Date.parse(time));
  const release = (await client.releases('demo')).find((x) => x.id === run.releaseId)!;
  assert.equal(release.commitSha, head);
  const served = await fetch(`http://127.0.0.1:${(await client.status({ app: 'demo', env: 'staging' }))[0]!.listen.split(':').pop()}/`);
  assert.equal(served.status, 200);
});

test('an unreachable repository is reported on the run', async () => {
  const run = await client.startRun({ pipeline: 'nowhere' }, {});
  const done = await waitRun(run.id, ended, 'the run to fail');
  assert.equal(done.status, 'failed');
  assert.match(done.message, /could not check out the source: git repository .*no-such-repo.* is unreachable/);
});

test('a signed push webhook starts a run at the pushed commit; bad signatures and other branches change nothing', async () => {
  const sha = await commit('a.txt', 'pushed\n');
  const body = { ref: 'refs/heads/main', after: sha, repository: { clone_url: `file://${repo}` } };
  const before = (await client.runs({ pipeline: 'demo', limit: 1000 })).length;
  const bad = await hook('demo', body, 'wrong-secret');
  assert.equal(bad.status, 401);
  const other = await hook('demo', { ...body, ref: 'refs/heads/feature' });
  assert.equal(other.status, 202);
  assert.match(((await other.json()) as { ignored: string }).ignored, /follows main/);
  assert.equal((await client.runs({ pipeline: 'demo', limit: 1000 })).length, before);

  const ok = await hook('demo', body);
  assert.equal(ok.status, 202);
  const { runId } = (await ok.json()) as { runId: string };
  const done = await waitRun(runId, ended, 'the pushed run');
  assert.equal(done.status, 'succeeded', done.message);
  assert.equal(done.trigger, 'git-push');
  assert.equal(done.source.commitSha, sha);
  const noHook = await fetch(`http://127.0.0.1:${apiPort}/hooks/git/polled`, { method: 'POST', body: '{}' });
  assert.equal(noHook.status, 404);
});

test('polling starts a run for a new commit, once', async () => {
  // The poller's first look records the head; give it that look before committing.
  await new Promise((r) => setTimeout(r, 1000));
  const sha = await commit('b.txt', 'polled\n');
  const run = await until('a polled run', async () => (await client.runs({ pipeline: 'polled', limit: 10 })).find((r) => r.source.commitSha === sha || r.source.ref === sha), 20_000);
  assert.equal(run.trigger, 'git-poll');
  const done = await waitRun(run.id, ended, 'the polled run');
  assert.equal(done.status, 'succeeded', done.message);
  await new Promise((r) => setTimeout(r, 1000));
  const forSha = (await client.runs({ pipeline: 'polled', limit: 100 })).filter((r) => r.source.ref === sha);
  assert.equal(forSha.length, 1, 'the same commit is not released twice');
});
