/**
 * `rollgate up` stops what it started — the server, its agent, every instance — on SIGINT,
 * SIGTERM, SIGHUP and when the process reading its stdout pipe exits (`up | tee log` whose tee
 * is gone); `up --detach` returns once the platform runs, and `rollgate down` stops it all.
 * Each case runs the real binary with the example app deployed, then checks /proc and the ports.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROLLGATE_BIN, freePort } from '../demo/fixtures.js';
import { cleanEnv, instancePids, killAll, portFree, procAlive, readJsonFile, rollgate, startRollgate, until, upProject, type Daemon, type UpProject } from '../test/cli-run.js';

const started = new Set<number>();
const roots: string[] = [];

after(async () => {
  await killAll(started);
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

type Project = UpProject;
const project = () => upProject('rollgate-upstop-', roots);

/** Waits for `up` to be running, deploys the app, and returns every pid the platform runs. */
async function deployed(p: Project, daemon: Daemon | null): Promise<{ up: number; agent: number; instances: number[] }> {
  const upFile = await until('up.json', () => {
    if (daemon && daemon.child.exitCode !== null) throw new Error(`up exited ${daemon.child.exitCode}: ${daemon.err()}`);
    return readJsonFile<{ pid: number; agentPid: number }>(join(p.dataDir, 'up.json'));
  }, 90_000).catch((e: Error) => {
    throw new Error(`${e.message}\nstdout: ${daemon?.out()}\nstderr: ${daemon?.err()}`);
  });
  started.add(upFile.pid).add(upFile.agentPid);
  const d = await rollgate(p.dir, ['deploy', 'demo', '--env', 'staging', '--path', 'app', '--version', 'v1', '--wait', '--json']);
  assert.equal(d.code, 0, `deploy: ${d.stdout}\n${d.stderr}`);
  const instances = await instancePids(p.dataDir);
  assert.equal(instances.length, 2, 'two instances run');
  for (const pid of instances) started.add(pid);
  assert.equal(await portFree(p.stagingPort), false, 'the staging listener is open');
  return { up: upFile.pid, agent: upFile.agentPid, instances };
}

async function assertAllGone(p: Project, pids: { up: number; agent: number; instances: number[] }, what: string): Promise<void> {
  await until(`${what}: up, agent and instances to exit`, () => [pids.up, pids.agent, ...pids.instances].every((pid) => !procAlive(pid)), 90_000).catch(() => {
    const alive = [pids.up, pids.agent, ...pids.instances].filter(procAlive);
    assert.fail(`${what}: still running: ${alive.join(', ')} (up ${pids.up}, agent ${pids.agent}, instances ${pids.instances.join(', ')})`);
  });
  assert.equal(await portFree(p.apiPort), true, `${what}: the API port is free`);
  assert.equal(await portFree(p.stagingPort), true, `${what}: the staging port is free`);
}

describe('rollgate up stops what it started', { timeout: 600_000, concurrency: 1 }, () => {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    test(`${sig}: server, agent and instances stop; ports are free`, async () => {
      const p = await project();
      const up = startRollgate(p.dir, ['up', '--port', String(p.apiPort)]);
      started.add(up.child.pid!);
      const pids = await deployed(p, up);
      up.child.kill(sig);
      await assertAllGone(p, pids, sig);
      assert.match(up.out(), /stopping the agent/);
    });
  }

  test('the process reading its stdout exits (broken pipe): everything stops', async () => {
    const p = await project();
    const quit = join(p.dir, 'reader-quit');
    // `rollgate up | reader`: the reader takes the output until told to exit, like a killed tee.
    const reader = `const fs=require('fs');process.stdin.resume();setInterval(()=>{if(fs.existsSync(${JSON.stringify(quit)}))process.exit(0)},100)`;
    const sh = spawn('sh', ['-c', `"$NODE" "$BIN" up --port ${p.apiPort} | "$NODE" -e "$READER"`], {
      cwd: p.dir,
      env: { ...cleanEnv(), NODE: process.execPath, BIN: ROLLGATE_BIN, READER: reader },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    sh.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const pids = await deployed(p, null).catch((e: Error) => {
      throw new Error(`${e.message}\nstderr: ${err}`);
    });
    writeFileSync(quit, '');
    await assertAllGone(p, pids, 'broken pipe');
    await until('the pipeline to end', () => sh.exitCode !== null, 30_000);
  });

  test('Ctrl-C on `rollgate up | reader` (SIGINT to the whole pipeline): everything stops', async () => {
    const p = await project();
    const reader = `process.stdin.resume()`;
    // Its own process group, as a shell job: the terminal's Ctrl-C reaches up and the reader at once.
    const sh = spawn('sh', ['-c', `"$NODE" "$BIN" up --port ${p.apiPort} | "$NODE" -e "$READER"`], {
      cwd: p.dir,
      env: { ...cleanEnv(), NODE: process.execPath, BIN: ROLLGATE_BIN, READER: reader },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let err = '';
    sh.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const pids = await deployed(p, null).catch((e: Error) => {
      throw new Error(`${e.message}\nstderr: ${err}`);
    });
    process.kill(-sh.pid!, 'SIGINT');
    await assertAllGone(p, pids, 'Ctrl-C on a pipeline');
  });

  test('up --detach returns while the platform runs; a second up says where it is; down stops it all', async () => {
    const p = await project();
    const d = await rollgate(p.dir, ['up', '--detach', '--port', String(p.apiPort)]);
    assert.equal(d.code, 0, `up --detach: ${d.stdout}\n${d.stderr}`);
    assert.match(d.stdout, /up in the background/);
    assert.match(d.stdout, /up\.log/);
    assert.match(d.stdout, /`rollgate down` stops it/);
    assert.match(d.stderr, /password: \S+/, 'the first start shows the password on the terminal');
    const pids = await deployed(p, null);
    assert.ok(procAlive(pids.up), 'the detached up runs after `up --detach` returned');

    const again = await rollgate(p.dir, ['up', '--port', String(await freePort())]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, new RegExp(`already running for .*: API http://127\\.0\\.0\\.1:${p.apiPort}, pid ${pids.up}`));
    assert.match(again.stderr, /rollgate down/);

    const down = await rollgate(p.dir, ['down']);
    assert.equal(down.code, 0, `down: ${down.stdout}\n${down.stderr}`);
    assert.match(down.stdout, /stopped rollgate up/);
    assert.match(down.stdout, /2 instance\(s\) stopped/);
    await assertAllGone(p, pids, 'down');
    const nothing = await rollgate(p.dir, ['down']);
    assert.equal(nothing.code, 0);
    assert.match(nothing.stdout, /nothing runs/);
  });
});
