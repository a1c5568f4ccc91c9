/**
 * Pipelines end to end: real `rollgate agent` and `rollgate server` processes, real commands in
 * real workspaces, real deployments of the demo app, the CLI as a user runs it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ApiClient } from '../../cli/client.js';
import { checkReleaseDir, packDir } from '../../cli/pack.js';
import { REPO_ROOT, ROLLGATE_BIN, freePort, makeDemoRelease } from '../../demo/fixtures.js';
import { Webhook } from 'standardwebhooks';
import type { RunView } from './pipelines.js';
import { SplitPlatform, until } from '../../test/split-platform.js';
import type { CDEvent } from '../../notify/cdevents.js';
import { validateCDEvent } from '../../notify/cdevents-schema.testkit.js';
import { startReceiver, type Receiver } from '../../notify/testkit.js';
import { generateWebhookSecret } from '../../notify/webhook.js';

const exec = promisify(execFile);
const FIXTURES = join(REPO_ROOT, 'packages', 'rollgate', 'test-fixtures', 'gates');

let work: string;
let platform: SplitPlatform;
let client: ApiClient;
let apiPort: number;
let source: string;

const app = (replicas = 1) => ({ run: 'node server.js', portEnv: 'PORT', replicas, drainTimeout: '2s', healthCheck: { path: '/healthz', interval: '100ms', timeout: '1s', startTimeout: '15s' } });
const env = (port: number) => ({ listen: port, analysis: false, strategy: { rolling: { maxSurge: 1, maxUnavailable: 0, analysis: false } } });

/** The build a real project would have: copy the app into out/, "test" it by writing the JUnit file Vitest wrote. */
const build = { name: 'build', run: { command: 'echo building $APP_NAME; mkdir -p out && cp server.js package.json behavior.json out/', env: { APP_NAME: 'demo' }, retrySafe: true } };
const unit = (fixture: string) => ({ name: 'test', run: { command: `mkdir -p reports && cp "$FIXTURES/${fixture}" reports/junit.xml`, env: { FIXTURES }, artifacts: ['reports/junit.xml'] } });
const lint = { name: 'lint', needs: ['build'], run: { command: 'echo lint ok' } };

async function spec(pipelines: Record<string, unknown>, ports: { staging: number; production: number }, notifications?: unknown) {
  await client.applySpec({
    apps: { demo: app(), slow: app() },
    // One admin token starts and approves here: separation of duties is tested in approval.test.ts.
    environments: { staging: env(ports.staging), production: { ...env(ports.production), separationOfDuties: false } },
    pipelines,
    ...(notifications ? { notifications } : {}),
  });
}

async function start(pipeline: string, dir = source): Promise<RunView> {
  return client.startRun({ pipeline }, { archive: packDir(await checkReleaseDir(dir)) });
}

async function waitRun(id: string, pred: (v: RunView) => boolean, what: string, timeoutMs = 60_000): Promise<RunView> {
  let last = null as RunView | null;
  try {
    return await until(what, async () => {
      last = await client.run(id);
      return pred(last) ? last : null;
    }, timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}; run: ${JSON.stringify(last && { status: last.status, message: last.message, stages: last.stages.map((s) => `${s.name}:${s.status}:${s.message}`) })}`);
  }
}
const ended = (v: RunView) => !['queued', 'running', 'waiting'].includes(v.status);
const stageOf = (v: RunView, name: string) => v.stages.find((s) => s.name === name)!;

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await exec(process.execPath, [ROLLGATE_BIN, ...args], { cwd: work, env: { ...process.env, ROLLGATE_SERVER: `http://127.0.0.1:${apiPort}`, ROLLGATE_TOKEN: (await readFile(join(work, '.rollgate', 'api.token'), 'utf8')).trim() } });
    return { stdout: r.stdout, stderr: r.stderr, code: 0 };
  } catch (e) {
    const x = e as { stdout: string; stderr: string; code: number };
    return { stdout: x.stdout, stderr: x.stderr, code: x.code };
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let ports: { staging: number; production: number };
let cdevents: Receiver;
let webhook: Receiver;
const HOOK_SECRET = generateWebhookSecret();

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rollgate-pipeline-'));
  cdevents = await startReceiver(() => 202);
  webhook = await startReceiver(() => 200);
  platform = new SplitPlatform(join(work, '.rollgate'), { PIPELINE_HOOK_SECRET: HOOK_SECRET });
  await platform.startAgent();
  apiPort = await freePort();
  client = await platform.startServer(apiPort);
  source = await makeDemoRelease(join(work, 'src'), { version: 'v1' });
  ports = { staging: await freePort(), production: await freePort() };
});

after(async () => {
  await platform.stopAll();
  await cdevents.close();
  await webhook.close();
  await rm(work, { recursive: true, force: true });
});

test('a full pipeline from the CLI: build, parallel lint and test, JUnit gate, staging, automatic then manual approval, production', async () => {
  await spec(
    {
      demo: {
        app: 'demo',
        release: { path: 'out' },
        stages: [
          build,
          lint,
          { ...unit('vitest-junit-passing.xml'), needs: ['build'] },
          { name: 'junit', needs: ['test'], gate: { junit: { path: 'reports/junit.xml' } } },
          { name: 'staging', needs: ['lint', 'junit'], deploy: { env: 'staging' } },
          { name: 'staging-ok', approval: { auto: { healthy: { env: 'staging', for: '1s' }, gatesPassed: true } } },
          { name: 'sign-off', approval: { manual: { roles: ['release-manager'] } } },
          { name: 'production', deploy: { env: 'production' } },
        ],
      },
    },
    ports,
    {
      channels: [
        { name: 'cd', kind: 'cdevents', url: cdevents.url, events: ['pipeline.queued', 'pipeline.started', 'pipeline.finished'] },
        { name: 'team', kind: 'webhook', url: webhook.url, secretEnv: 'PIPELINE_HOOK_SECRET', events: ['pipeline.*'] },
      ],
    },
  );
  const started = await cli('release', 'demo', '--path', source, '--no-apply', '--json');
  assert.equal(started.code, 0, started.stderr);
  const id = (JSON.parse(started.stdout) as RunView).id;

  const waiting = await waitRun(id, (v) => stageOf(v, 'sign-off').status === 'waiting' || ended(v), 'the manual approval');
  assert.equal(waiting.status, 'waiting', waiting.message);
  assert.match(stageOf(waiting, 'sign-off').message, /waiting for 1 approval from release-manager/);
  assert.match(stageOf(waiting, 'staging-ok').message, /approved automatically: 1 gate\(s\) passed, staging healthy for 1s/);
  // lint and test both waited only for build.
  assert.ok(Date.parse(stageOf(waiting, 'lint').startedAt!) < Date.parse(stageOf(waiting, 'test').finishedAt!) || Date.parse(stageOf(waiting, 'test').startedAt!) < Date.parse(stageOf(waiting, 'lint').finishedAt!), 'lint and test overlapped or started together');
  assert.equal(stageOf(waiting, 'production').status, 'pending');

  const approved = await cli('approve', id.slice(0, 8), '--reason', 'looks good');
  assert.equal(approved.code, 0, approved.stderr);
  const done = await waitRun(id, ended, 'the run to end');
  assert.equal(done.status, 'succeeded', done.message);
  assert.deepEqual(done.approvals.map((a) => [a.stage, a.decision, a.actor, a.reason]), [['sign-off', 'approve', 'user:admin', 'looks good']]);

  // Built once: the same release serves both environments.
  const [staging] = await client.status({ app: 'demo', env: 'staging' });
  const [production] = await client.status({ app: 'demo', env: 'production' });
  assert.equal(staging!.currentVersion, done.releaseVersion);
  assert.equal(production!.currentVersion, done.releaseVersion);
  const res = await fetch(`http://127.0.0.1:${ports.production}/`);
  assert.equal(res.status, 200);
  assert.equal((await client.releases('demo')).filter((r) => r.version === done.releaseVersion).length, 1);

  const logs = await cli('logs', '--run', id.slice(0, 8), '--stage', 'build');
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /building demo/);
  assert.match(logs.stdout, /stage succeeded: exit 0/);

  const status = await cli('pipeline', 'status');
  assert.match(status.stdout, new RegExp(`${id.slice(0, 8)}\\s+demo\\s+succeeded`));

  const types: string[] = [];
  const ac = new AbortController();
  for await (const e of client.events({ signal: ac.signal })) {
    const d = e.data as { runId?: string } | null;
    if (d?.runId === id) types.push(e.type);
    if (e.type === 'pipeline.finished' && d?.runId === id) break;
  }
  ac.abort();
  assert.equal(types[0], 'pipeline.queued');
  assert.ok(types.includes('pipeline.started') && types.includes('pipeline.approved'), types.join(', '));
  assert.equal(types.at(-1), 'pipeline.finished');

  // CDEvents: pipelinerun queued, started, finished (success), each valid against the v0.5.1 schemas.
  await until('three CDEvents of the run', async () => cdevents.received.filter((r) => r.body.includes(id)).length >= 3, 20_000);
  const cd = cdevents.received.filter((r) => r.body.includes(id)).map((r) => ({ type: r.headers['ce-type'], ev: JSON.parse(r.body) as CDEvent }));
  assert.deepEqual(cd.map((x) => x.type), ['dev.cdevents.pipelinerun.queued.0.3.0', 'dev.cdevents.pipelinerun.started.0.3.0', 'dev.cdevents.pipelinerun.finished.0.3.0']);
  for (const x of cd) validateCDEvent(x.ev);
  assert.equal(cd[2]!.ev.subject.content.outcome, 'success');
  assert.equal(cd[2]!.ev.subject.content.pipelineName, 'demo');
  // The team's webhook: every pipeline event of the run, signed per Standard Webhooks.
  await until('the signed pipeline.finished webhook', async () => webhook.received.some((r) => r.body.includes('pipeline.finished') && r.body.includes(id)), 20_000);
  const fin = webhook.received.find((r) => r.body.includes('pipeline.finished') && r.body.includes(id))!;
  const h = { 'webhook-id': String(fin.headers['webhook-id']), 'webhook-timestamp': String(fin.headers['webhook-timestamp']), 'webhook-signature': String(fin.headers['webhook-signature']) };
  const payload = new Webhook(HOOK_SECRET).verify(fin.body, h) as { type: string };
  assert.equal(payload.type, 'pipeline.finished');
  assert.ok(webhook.received.some((r) => r.body.includes('pipeline.approved')), 'the approval was announced too');
});

test('a failing JUnit gate fails the run with the reason; later stages are skipped and nothing is deployed', async () => {
  await spec({ gated: { app: 'demo', release: { path: 'out' }, stages: [build, unit('vitest-junit-failing.xml'), { name: 'junit', gate: { junit: { path: 'reports/junit.xml' } } }, { name: 'production', deploy: { env: 'production' } }] } }, ports);
  const before = await client.deployments({ app: 'demo', env: 'production' });
  const run = await start('gated');
  const done = await waitRun(run.id, ended, 'the gated run');
  assert.equal(done.status, 'failed');
  assert.match(stageOf(done, 'junit').message, /fail/i);
  assert.match(done.message, /stage "junit" failed/);
  assert.equal(stageOf(done, 'production').status, 'skipped');
  assert.equal(done.releaseId, null, 'no release was made');
  assert.equal((await client.deployments({ app: 'demo', env: 'production' })).length, before.length);
});

test('reject ends the run at its approval; cancel kills a running command', async () => {
  await spec(
    {
      gate: { app: 'demo', stages: [{ name: 'ok', approval: { manual: { roles: ['release-manager'] } } }, { name: 'production', deploy: { env: 'production' } }] },
      long: { app: 'demo', stages: [{ name: 'sleep', run: { command: 'sleep 30 & wait' } }, { name: 'after', run: { command: 'true' } }] },
    },
    ports,
  );
  const a = await start('gate');
  await waitRun(a.id, (v) => v.status === 'waiting', 'approval wait');
  const noReason = await cli('reject', a.id);
  assert.equal(noReason.code, 2, 'reject needs --reason');
  const rejected = await client.runAction(a.id, 'reject', { reason: 'not during the sale' });
  assert.equal(rejected.approvals[0]?.decision, 'reject');
  const doneA = await waitRun(a.id, ended, 'rejected run');
  assert.equal(doneA.status, 'failed');
  assert.match(doneA.message, /rejected by user:admin: not during the sale/);
  await assert.rejects(client.runAction(a.id, 'approve', {}), /already ended/);

  const b = await start('long');
  const running = await waitRun(b.id, (v) => typeof (stageOf(v, 'sleep').result as { pid?: number } | null)?.pid === 'number', 'the command to run');
  const pid = (stageOf(running, 'sleep').result as { pid: number }).pid;
  assert.ok(alive(pid));
  await client.runAction(b.id, 'cancel');
  const doneB = await waitRun(b.id, ended, 'cancelled run');
  assert.equal(doneB.status, 'cancelled');
  assert.equal(stageOf(doneB, 'sleep').status, 'cancelled');
  assert.equal(stageOf(doneB, 'after').status, 'skipped');
  await until('the command and its children to be gone', async () => !alive(pid), 10_000);
});

test('retry runs the failed stage again in the same workspace, without editing the spec', async () => {
  await spec({ flaky: { app: 'demo', stages: [build, { name: 'flaky', run: { command: 'if [ -f .tried ]; then echo second try; else touch .tried; echo first try >&2; exit 3; fi' } }, { name: 'last', run: { command: 'true' } }] } }, ports);
  const run = await start('flaky');
  const failed = await waitRun(run.id, ended, 'the first attempt');
  assert.equal(failed.status, 'failed');
  assert.match(stageOf(failed, 'flaky').message, /exited with 3/);
  assert.equal(stageOf(failed, 'last').status, 'skipped');
  const buildFinished = stageOf(failed, 'build').finishedAt;
  await assert.rejects(client.runAction(run.id, 'retry', { stage: 'build' }), /succeeded; only stages that did not/);
  await client.runAction(run.id, 'retry', { stage: 'flaky' });
  const done = await waitRun(run.id, ended, 'the retry');
  assert.equal(done.status, 'succeeded', done.message);
  assert.equal(stageOf(done, 'flaky').attempt, 2);
  assert.equal(stageOf(done, 'build').attempt, 1, 'build did not run again');
  assert.equal(stageOf(done, 'build').finishedAt, buildFinished);
  const { lines } = await client.runLogs(run.id, { stage: 'flaky' });
  assert.deepEqual(lines.filter((l) => l.stream !== 'system').map((l) => [l.attempt, l.stream, l.text]), [[1, 'stderr', 'first try'], [2, 'stdout', 'second try']]);
});

test('stage logs stream live while the command runs, each line once, and the stream ends with the run', async () => {
  await spec({ chatty: { app: 'demo', stages: [{ name: 'talk', run: { command: 'for i in 1 2 3; do echo line $i; sleep 0.5; done; echo oops >&2' } }] } }, ports);
  const run = await start('chatty');
  const got: { text: string; id: number; stream: string }[] = [];
  let statusAtFirstLine = '';
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 30_000);
  for await (const l of client.followRunLogs(run.id, { signal: ac.signal })) {
    got.push({ text: l.text, id: l.id, stream: l.stream });
    if (l.text === 'line 1') statusAtFirstLine = (await client.run(run.id)).status;
  }
  clearTimeout(timer);
  assert.equal(ac.signal.aborted, false, 'the stream ended by itself when the run ended');
  const done = await client.run(run.id);
  assert.equal(done.status, 'succeeded');
  const texts = got.map((g) => g.text);
  assert.deepEqual(texts.filter((t) => t.startsWith('line')), ['line 1', 'line 2', 'line 3']);
  assert.ok(got.some((g) => g.stream === 'stderr' && g.text === 'oops'));
  assert.equal(statusAtFirstLine, 'running', 'line 1 arrived while the command still ran');
  assert.deepEqual(got.map((g) => g.id), [...got.map((g) => g.id)].sort((a, b) => a - b), 'in order');
  assert.equal(new Set(got.map((g) => g.id)).size, got.length, 'no line twice');
});

test('a freeze makes the run wait, not fail', async () => {
  const now = Date.now();
  const freeze = { from: new Date(now - 60_000).toISOString(), to: new Date(now + 2500).toISOString(), reason: 'test freeze' };
  await spec({ frozen: { app: 'demo', stages: [{ name: 'window', window: { freeze: [freeze] } }, { name: 'after', run: { command: 'true' } }] } }, ports);
  const run = await start('frozen');
  const w = await waitRun(run.id, (v) => v.status === 'waiting', 'the freeze wait');
  assert.match(stageOf(w, 'window').message, /frozen until .*test freeze/);
  const done = await waitRun(run.id, ended, 'the run after the freeze', 20_000);
  assert.equal(done.status, 'succeeded', done.message);
  assert.ok(Date.parse(stageOf(done, 'after').startedAt!) >= Date.parse(freeze.to));
});

test('two runs deploying to one environment queue in order, one deployment at a time', async () => {
  const slow = await makeDemoRelease(join(work, 'slow'), { version: 'slow', startDelayMs: 1500 });
  await writeFile(join(slow, 'marker.txt'), 'a');
  await spec({ q: { app: 'slow', stages: [{ name: 'staging', deploy: { env: 'staging' } }] } }, ports);
  const first = await start('q', slow);
  await writeFile(join(slow, 'marker.txt'), 'b');
  const second = await start('q', slow);
  const queued = await waitRun(second.id, (v) => stageOf(v, 'staging').status === 'waiting' || ended(v), 'the second run to queue');
  assert.match(stageOf(queued, 'staging').message, /queued for staging|staging is busy/);
  const [d1, d2] = [await waitRun(first.id, ended, 'first'), await waitRun(second.id, ended, 'second')];
  assert.equal(d1.status, 'succeeded', d1.message);
  assert.equal(d2.status, 'succeeded', d2.message);
  const deps = (await client.deployments({ app: 'slow', env: 'staging' })).reverse();
  assert.deepEqual(deps.map((d) => d.version), [d1.releaseVersion, d2.releaseVersion]);
  assert.ok(Date.parse(deps[1]!.createdAt) >= Date.parse(deps[0]!.finishedAt!), 'the second deployment began after the first ended');
});

test('SIGKILL of the server: interrupted commands are reported (or re-run when retrySafe), waits and deployments resume, nothing is done twice', async () => {
  const slow = await makeDemoRelease(join(work, 'slow-kill'), { version: 'slow', startDelayMs: 2500 });
  // Stage commands are isolated from the test's files: they report over loopback HTTP instead.
  const hits: string[] = [];
  const counter = createServer((req, res) => {
    hits.push(req.url!.slice(1));
    res.end();
  });
  await new Promise<void>((ok) => counter.listen(0, '127.0.0.1', ok));
  after(() => counter.close());
  const hit = (what: string) => `node -e "fetch('http://127.0.0.1:${(counter.address() as AddressInfo).port}/${what}').then(() => {}, () => process.exit(1))"`;
  const count = (prefix: string) => hits.filter((h) => h.startsWith(prefix)).map((h) => h.slice(prefix.length)).join(',');
  await spec(
    {
      unsafe: { app: 'demo', stages: [{ name: 'migrate', run: { command: `${hit('unsafe.start')}; sleep 30 & wait; ${hit('unsafe.done')}` } }] },
      safe: { app: 'demo', stages: [{ name: 'compile', run: { command: `${hit('safe.start')}; sleep 4 & wait; ${hit('safe.done')}`, retrySafe: true } }] },
      approve: { app: 'demo', stages: [{ name: 'ok', approval: { manual: {} } }, { name: 'after', run: { command: 'true' } }] },
      deploy: { app: 'slow', stages: [{ name: 'staging', deploy: { env: 'staging' } }] },
    },
    ports,
  );
  const [unsafe, safe, appr, dep] = [await start('unsafe'), await start('safe'), await start('approve'), await start('deploy', slow)];
  const pidOf = (v: RunView, s: string) => (stageOf(v, s).result as { pid?: number } | null)?.pid;
  const u1 = await waitRun(unsafe.id, (v) => typeof pidOf(v, 'migrate') === 'number', 'unsafe command');
  await waitRun(safe.id, (v) => typeof pidOf(v, 'compile') === 'number', 'safe command');
  await waitRun(appr.id, (v) => v.status === 'waiting', 'approval');
  await waitRun(dep.id, (v) => stageOf(v, 'staging').deploymentId !== null, 'the deployment to start');
  const leftover = pidOf(u1, 'migrate')!;

  await platform.killServer();
  client = await platform.startServer(apiPort);

  const u2 = await waitRun(unsafe.id, ended, 'the interrupted run');
  assert.equal(u2.status, 'failed');
  assert.match(stageOf(u2, 'migrate').message, /interrupted: the server stopped while .* ran\b.*not marked retrySafe/);
  await until('the leftover command to be stopped', async () => !alive(leftover), 10_000);
  assert.equal(count('unsafe.'), 'start', 'the unsafe command ran once and was not finished by anyone');

  const s2 = await waitRun(safe.id, ended, 'the re-run');
  assert.equal(s2.status, 'succeeded', s2.message);
  assert.equal(count('safe.'), 'start,start,done', 'stopped once, then one complete run');
  const { lines } = await client.runLogs(safe.id, { stage: 'compile' });
  assert.ok(lines.some((l) => /running it again \(retrySafe\)/.test(l.text)));

  const d2 = await waitRun(dep.id, ended, 'the resumed deployment');
  assert.equal(d2.status, 'succeeded', d2.message);
  const mine = (await client.deployments({ app: 'slow', env: 'staging', limit: 50 })).filter((d) => d.requestedBy.includes(dep.id));
  assert.equal(mine.length, 1, 'one deployment for the stage, not two');

  const a2 = await client.run(appr.id);
  assert.equal(a2.status, 'waiting');
  await client.runAction(appr.id, 'approve', {});
  assert.equal((await waitRun(appr.id, ended, 'the approved run')).status, 'succeeded');
});
