/**
 * Issue 10, what a new user expects, against the real `rollgate up` and the real CLI binary:
 * `watch` / `status --watch` (Ctrl-C leaves the rollout running, watching again works),
 * `--wait` on promote/pause/resume/abort, `deployment show` / `history ID`, `logs --since
 * --grep -f` (streamed), a forgotten `--env` naming the environments, and a crash on start
 * quoted by its error line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import type { DeploymentView } from '../api/contract.js';
import { ROLLGATE_BIN, freePort, makeDemoRelease } from '../demo/fixtures.js';
import { startPlatform, waitForDeployment, type Platform } from '../demo/platform.js';
import { until } from '../test/split-platform.js';
import { checkReleaseDir, packDir } from './pack.js';
import type { DeploymentReport } from './deployment-report.js';

let work: string;
let p: Platform;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface Live {
  child: ChildProcess;
  out: () => string;
  done: Promise<Run>;
}

function env(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: join(work, 'home'), ROLLGATE_SERVER: p.url, ROLLGATE_TOKEN: p.token };
}

function start(args: string[], cwd = work): Live {
  const child = spawn(process.execPath, [ROLLGATE_BIN, ...args], { cwd, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((ok) => child.on('close', (code) => ok({ code: code ?? -1, stdout, stderr })));
  return { child, out: () => stdout + stderr, done };
}

const cli = (args: string[], cwd = work) => start(args, cwd).done;

function expectCode(r: Run, code: number, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** A release of the demo app whose entry prints a numbered tick every 100ms (or crashes first). */
async function releaseDir(version: string): Promise<string> {
  const dir = await makeDemoRelease(join(work, 'rel'), { version });
  writeFileSync(join(dir, 'main.js'), `let n = 0;\nsetInterval(() => console.log('tick ' + n++ + ' of ${version}'), 100);\nawait import('./server.js');\n`);
  return dir;
}

async function release(version: string): Promise<string> {
  return (await p.client.uploadRelease('web', packDir(await checkReleaseDir(await releaseDir(version))), { version })).id;
}

async function deployment(id: string): Promise<DeploymentView> {
  return p.client.deployment(id);
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'rollgate-view-'));
  mkdirSync(join(work, 'home'));
  writeFileSync(
    join(work, 'rollgate.yaml'),
    `apps:
  web:
    run: node main.js
    replicas: 1
    drainTimeout: 1s
    healthCheck: { path: /healthz, interval: 100ms, startTimeout: 10s }
environments:
  staging:
    listen: ${await freePort()}
    analysis: false
    strategy:
      canary:
        steps:
          - setWeight: 30
          - pause: {}
          - setWeight: 60
          - pause: {}
  qa:
    listen: ${await freePort()}
    analysis: false
    strategy:
      canary:
        steps:
          - setWeight: 50
          - pause: {}
  production:
    listen: ${await freePort()}
`,
  );
  p = await startPlatform({ dataDir: join(work, '.rollgate'), port: await freePort(), cwd: work, quiet: true });
  await until('up to apply rollgate.yaml', async () => Object.hasOwn((await p.client.appliedSpec()).apps, 'web'), 30_000);
  const v1 = await release('v1');
  assert.equal((await waitForDeployment(p.client, (await p.client.deploy({ app: 'web', env: 'staging', releaseId: v1 })).id)).status, 'succeeded');
});

after(async () => {
  await p?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('following and steering a rollout', { timeout: 240_000 }, () => {
  let depId: string;

  test('watch picks the rollout in progress; Ctrl-C leaves it running (exit 0); watching again works; --wait on promote, pause, resume, abort', async () => {
    // deploy --wait, left with Ctrl-C at the pause: exit 0, and the rollout goes on.
    const d = start(['deploy', 'web', '--env', 'staging', '--path', await releaseDir('v2'), '--version', 'v2', '--wait']);
    const held = await until('the canary to hold at its first pause', async () => {
      const [last] = await p.client.deployments({ app: 'web', env: 'staging', limit: 1 });
      return last && last.version === 'v2' && last.status === 'paused' ? last : null;
    }, 60_000);
    depId = held.id;
    d.child.kill('SIGINT');
    const dr = await d.done;
    expectCode(dr, 0, 'deploy --wait after Ctrl-C');
    // (the view it last saw may be a moment older than the pause)
    assert.match(dr.stdout, /stopped waiting: deployment .* goes on \((paused|progressing)/);

    // Two in progress: watch without an id lists them and picks none.
    // (a first deployment has no stable version to hold beside: qa gets v1 first)
    const [v1] = (await p.client.deployments({ app: 'web', env: 'staging', limit: 10 })).filter((x) => x.version === 'v1');
    assert.equal((await waitForDeployment(p.client, (await p.client.deploy({ app: 'web', env: 'qa', releaseId: v1!.releaseId })).id, 60_000)).status, 'succeeded');
    const qa = await p.client.deploy({ app: 'web', env: 'qa', releaseId: held.releaseId });
    await until('the qa canary to hold', async () => {
      const d = await deployment(qa.id);
      if (d.status !== 'paused' && d.status !== 'progressing' && d.status !== 'pending') throw new Error(`qa ${d.status}: ${d.message}`);
      return d.status === 'paused';
    }, 60_000).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${(await deployment(qa.id)).message}`);
    });
    const several = await cli(['watch']);
    expectCode(several, 2, 'watch with two deployments in progress');
    assert.match(several.stderr, /2 deployments are in progress; name one/);
    assert.ok(several.stderr.includes(depId) && several.stderr.includes(qa.id), several.stderr);
    await p.client.act(qa.id, 'abort');
    await waitForDeployment(p.client, qa.id, 60_000);

    // Without an id: the only deployment in progress.
    const w1 = start(['watch']);
    await until('watch to start', async () => w1.out().includes(`watching deployment ${depId}`), 30_000);
    w1.child.kill('SIGINT');
    const r1 = await w1.done;
    expectCode(r1, 0, 'watch after Ctrl-C');
    assert.match(r1.stdout, /stopped watching deployment .* it goes on/);
    assert.equal((await deployment(depId)).status, 'paused', 'Ctrl-C stopped the watching, not the rollout');

    // Come back, by `status --watch` this time; it follows while --wait commands steer.
    const w2 = start(['status', 'web', '--env', 'staging', '--watch']);
    await until('status --watch to start', async () => w2.out().includes('watching deployment'), 30_000);

    const promoted = await cli(['promote', 'web', '--env', 'staging', '--wait', '--json']);
    expectCode(promoted, 0, 'promote --wait');
    const atNext = JSON.parse(promoted.stdout) as DeploymentView;
    assert.equal(atNext.status, 'paused', 'promote --wait returns at the next pause');
    assert.match(atNext.message, /step 4\/\d+: pause/, atNext.message);

    const paused = await cli(['pause', 'web', '--env', 'staging', '--wait']);
    expectCode(paused, 0, 'pause --wait');
    assert.match(paused.stdout, /paused by user/);
    const resumed = await cli(['resume', 'web', '--env', 'staging', '--wait', '--json']);
    expectCode(resumed, 0, 'resume --wait');
    assert.equal((JSON.parse(resumed.stdout) as DeploymentView).state.pausedByUser, false);

    const aborted = await cli(['abort', 'web', '--env', 'staging', '--wait', '--json']);
    expectCode(aborted, 0, 'abort --wait');
    assert.equal((JSON.parse(aborted.stdout) as DeploymentView).status, 'aborted', 'abort --wait returns once rolled back');

    // The watcher saw the end: an aborted rollout is a failed operation, as for deploy --wait.
    const r2 = await w2.done;
    expectCode(r2, 1, 'status --watch of an aborted rollout');
    assert.match(r2.stdout + r2.stderr, /aborted/);

    // Nothing in progress now: watch says so and names the last one.
    const none = await cli(['watch', 'web', '--env', 'staging']);
    expectCode(none, 2, 'watch with nothing in progress');
    assert.match(none.stderr, new RegExp(`no deployment is in progress of web in staging; the last one, ${depId}`));
  });

  test('deployment show (and history ID): step timeline, who did what, the outcome', async () => {
    const shown = await cli(['deployment', 'show', depId, '--json']);
    expectCode(shown, 0, 'deployment show --json');
    const r = JSON.parse(shown.stdout) as DeploymentReport;
    assert.equal(r.outcome.status, 'aborted');
    assert.ok(r.steps.length >= 3, JSON.stringify(r.steps));
    for (const s of r.steps) assert.ok(s.startedAt && s.endedAt && s.durationMs !== null && s.durationMs >= 0, JSON.stringify(s));
    assert.match(r.steps[0]!.step, /step 1\/5: set weight 30|setWeight|30/i);
    const actor = (await deployment(depId)).requestedBy;
    assert.ok(r.audit && r.audit.length > 0, 'an admin reads the audit trail');
    const actions = r.actions.map((a) => a.action);
    for (const verb of ['promote', 'pause', 'resume', 'abort']) assert.ok(actions.some((a) => a.includes(verb)), `${verb} in ${actions.join(', ')}`);
    // The user's commands by the user; the platform's own acts (revert, finish) by `system`.
    for (const a of r.actions) assert.equal(a.actor, /revert|finish/.test(a.action) ? 'system' : actor, JSON.stringify(a));

    const human = await cli(['history', depId.slice(0, 8)]);
    expectCode(human, 0, 'history ID');
    assert.match(human.stdout, new RegExp(`deployment ${depId}`));
    assert.match(human.stdout, /steps:\n\s+STEP\s+START\s+END\s+DURATION/);
    assert.match(human.stdout, /who did what:/);
    assert.match(human.stdout, /outcome: aborted after/);
    // A viewer may not read the audit trail: who did what comes from the deployment's timeline, and it says so.
    expectCode(await cli(['users', 'add', 'vera', '--role', 'viewer', '--no-password']), 0, 'users add');
    const tok = JSON.parse((await cli(['tokens', 'create', '--user', 'vera', '--json'])).stdout) as { token: string };
    const asViewer = await new Promise<Run>((ok) => {
      const child = spawn(process.execPath, [ROLLGATE_BIN, 'deployment', 'show', depId, '--json'], { cwd: work, env: { ...env(), ROLLGATE_TOKEN: tok.token }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => ok({ code: code ?? -1, stdout, stderr }));
    });
    expectCode(asViewer, 0, 'deployment show as a viewer');
    const vr = JSON.parse(asViewer.stdout) as DeploymentReport;
    assert.equal(vr.audit, null);
    assert.match(vr.auditNote ?? '', /may not read the audit trail/);
    for (const verb of ['created', 'promote', 'pause', 'resume', 'abort']) assert.ok(vr.actions.some((a) => a.action === verb && a.actor === actor && a.from === 'timeline'), `${verb} in ${JSON.stringify(vr.actions)}`);

    const unknown = await cli(['history', '00000000']);
    expectCode(unknown, 2, 'history of an unknown id');
    assert.match(unknown.stderr, /no deployment 00000000; list them with `rollgate history`/);
  });

  test('logs --since, --grep (text and /regex/), and -f streamed from the server', async () => {
    const all = JSON.parse((await cli(['logs', 'web', '--env', 'staging', '--since', '10m', '--json'])).stdout) as { lines: { text: string }[] };
    assert.ok(all.lines.some((l) => /^tick \d+ of v1$/.test(l.text)), 'ticks of v1 are in the last 10 minutes');
    const grep = await cli(['logs', 'web', '--env', 'staging', '--grep', '/^tick \\d+ of v1$/', '--json']);
    expectCode(grep, 0, 'logs --grep /re/');
    const g = (JSON.parse(grep.stdout) as { lines: { text: string }[] }).lines;
    assert.ok(g.length > 0 && g.every((l) => /^tick \d+ of v1$/.test(l.text)), JSON.stringify(g.slice(0, 3)));
    const none = JSON.parse((await cli(['logs', 'web', '--env', 'staging', '--grep', 'no such text anywhere', '--json'])).stdout) as { lines: unknown[] };
    assert.equal(none.lines.length, 0);
    const future = JSON.parse((await cli(['logs', 'web', '--env', 'staging', '--since', new Date(Date.now() + 3_600_000).toISOString(), '--json'])).stdout) as { lines: unknown[] };
    assert.equal(future.lines.length, 0, 'nothing since an hour from now');
    const bad = await cli(['logs', 'web', '--env', 'staging', '--since', 'yesterday-ish']);
    expectCode(bad, 2, 'a bad --since');
    assert.match(bad.stderr, /--since "yesterday-ish": give a duration/);

    // The server streams: text/event-stream with a `live` marker, then lines as they are written.
    const res = await request(`${p.url}/v1/logs/stream?app=web&env=staging&tail=1`, { headers: { authorization: `Bearer ${p.token}` } });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/event-stream/);
    let text = '';
    for await (const chunk of res.body) {
      text += chunk.toString();
      if (/event: live[\s\S]*event: line[\s\S]*tick/.test(text)) break;
    }
    res.body.destroy();
    assert.match(text, /event: live[\s\S]*event: line/);

    // -f prints new matching lines as they come, and leaves with exit 0 on Ctrl-C.
    const f = start(['logs', 'web', '--env', 'staging', '-f', '--grep', 'tick', '--tail', '1']);
    let firstTick = -1;
    await until('logs -f to print new ticks', async () => {
      const ticks = [...f.out().matchAll(/tick (\d+) of v1/g)].map((m) => Number(m[1]));
      if (firstTick < 0 && ticks.length > 0) firstTick = ticks[0]!;
      return ticks.length >= 4 && ticks[ticks.length - 1]! > firstTick;
    }, 30_000);
    f.child.kill('SIGINT');
    const fr = await f.done;
    expectCode(fr, 0, 'logs -f after Ctrl-C');
    assert.doesNotMatch(fr.stdout, /demo-app v1 listening/, '--grep filters the followed lines too');
  });

  test('watchers follow the event stream from now on (after=latest): no replay of the history', async () => {
    const res = await request(`${p.url}/v1/events?after=latest`, { headers: { authorization: `Bearer ${p.token}` } });
    assert.equal(res.statusCode, 200);
    await release('v9');
    let text = '';
    for await (const chunk of res.body) {
      text += chunk.toString();
      if (/^data: /m.test(text)) break;
    }
    res.body.destroy();
    const first = JSON.parse(/^data: (.*)$/m.exec(text)![1]!) as { type: string; data: { version?: string } };
    assert.deepEqual([first.type, first.data.version], ['release.created', 'v9'], 'the first event is the new one, not event 1');
  });

  test('a forgotten --env names the environments', async () => {
    const r = await cli(['promote', 'web']);
    expectCode(r, 2, 'promote without --env');
    assert.match(r.stderr, /--env is required; environments: production, qa, staging/);
    assert.doesNotMatch(r.stderr, /required option/, 'one message, not commander\'s as well');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    const d = await cli(['deploy', 'web', '--path', '.']);
    expectCode(d, 2, 'deploy without --env');
    assert.match(d.stderr, /--env is required; environments: production, qa, staging/);
    const l = await cli(['logs', 'web']);
    expectCode(l, 2, 'logs without --env');
    assert.match(l.stderr, /--env is required; environments: production, qa, staging/);
  });

  test('a crash on start is reported by its error line, not the stack\'s last frames', async () => {
    const dir = await makeDemoRelease(join(work, 'rel'), { version: 'v3' });
    writeFileSync(join(dir, 'main.js'), `function connect() {\n  if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is not set');\n}\nconnect();\n`);
    const r = await cli(['deploy', 'web', '--env', 'staging', '--path', dir, '--version', 'v3', '--wait']);
    expectCode(r, 1, 'deploy of an app that crashes on start');
    assert.match(r.stdout + r.stderr, /Error: DATABASE_URL is not set/);
    // One duration per line: the end line does not repeat "(took …)".
    for (const line of (r.stdout + r.stderr).split('\n')) assert.ok(!(/ after \d/.test(line) && /\(took /.test(line)), line);
  });
});
