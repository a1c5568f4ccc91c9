/**
 * End to end: the real `rollgate` binary, `up` with its own agent process, the example app
 * deployed, moved by canary, promoted, rolled back, then everything stopped with SIGINT.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../demo/fixtures.js';
import { cleanEnv, rollgate, until, type Run } from '../test/cli-run.js';

const BIN = fileURLToPath(new URL('../../bin/rollgate.js', import.meta.url));
const DEMO_APP = fileURLToPath(new URL('../../../../examples/demo-app/', import.meta.url));





function parseJson(r: Run): unknown {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr: ${r.stderr}`);
  }
}

function expectCode(r: Run, code: number, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** The version that answers on an environment listener (the demo app reports it). */
function versionAt(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        try {
          resolve((JSON.parse(body) as { version: string }).version);
        } catch {
          reject(new Error(`listener answered ${res.statusCode}: ${body}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}


interface StatusDoc {
  app: string;
  env: string;
  currentVersion: string | null;
  versions: { version: string; instances: { pid: number | null; state: string }[] }[];
  activeDeployment: { id: string; status: string; step: string | null } | null;
}

describe('rollgate CLI end to end', { timeout: 240_000 }, () => {
  let root: string;
  let project: string;
  let up: ChildProcess | null = null;
  let upOut = '';
  let upErr = '';
  let apiPort: number;
  let stagingPort: number;
  let prodPort: number;
  const pids = new Set<number>();

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'rollgate-e2e-'));
    project = join(root, 'project');
    cpSync(DEMO_APP, join(project, 'app'), { recursive: true });
    [apiPort, stagingPort, prodPort] = [await freePort(), await freePort(), await freePort()];
    // The example's spec with free ports, one replica and a canary that waits for `promote`.
    writeFileSync(
      join(project, 'rollgate.yaml'),
      `apps:
  demo:
    run: ${JSON.stringify(`${JSON.stringify(process.execPath)} server.js`)}
    portEnv: PORT
    replicas: 1
    drainTimeout: 2s
    healthCheck:
      path: /healthz
      interval: 200ms
      timeout: 1s
      startTimeout: 15s
environments:
  staging:
    listen: ${stagingPort}
  production:
    listen: ${prodPort}
    strategy:
      canary:
        steps:
          - setWeight: 20
          - pause: {}
          - setWeight: 50
          - pause: { duration: 1s }
        scaleDownDelay: 1s
`,
    );
  });

  after(async () => {
    // Whatever the outcome, leave no process behind: the agent stops its instances on SIGTERM.
    if (up && up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
    try {
      const agentPid = (JSON.parse(readFileSync(join(project, '.rollgate', 'agent.json'), 'utf8')) as { pid: number }).pid;
      pids.add(agentPid);
      if (isAlive(agentPid)) {
        process.kill(agentPid, 'SIGTERM');
        for (let i = 0; i < 150 && isAlive(agentPid); i++) await sleep(100);
      }
    } catch {
      // no agent was started, or it stopped cleanly
    }
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  test('up, deploy, canary + promote, rollback, history, logs, errors, SIGINT', async () => {
    // --- up: its own agent process, the server in-process, the spec applied, URLs printed.
    up = spawn(process.execPath, [BIN, 'up', '--port', String(apiPort)], { cwd: project, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    up.stdout!.on('data', (c: Buffer) => (upOut += c.toString()));
    up.stderr!.on('data', (c: Buffer) => (upErr += c.toString()));
    await until('`rollgate up` to print where it listens', async () => {
      if (up!.exitCode !== null) throw new Error(`up exited ${up!.exitCode}: ${upErr}`);
      return upOut.includes('Ctrl-C');
    }, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\nstdout: ${upOut}\nstderr: ${upErr}`);
    });
    assert.match(upOut, new RegExp(`API:\\s+http://127\\.0\\.0\\.1:${apiPort}`));
    assert.match(upOut, new RegExp(`production:\\s+http://127\\.0\\.0\\.1:${prodPort}`));
    assert.match(upOut, new RegExp(`staging:\\s+http://127\\.0\\.0\\.1:${stagingPort}`));
    const agentPid = (JSON.parse(readFileSync(join(project, '.rollgate', 'agent.json'), 'utf8')) as { pid: number }).pid;
    pids.add(agentPid);
    assert.notEqual(agentPid, up.pid, 'the agent runs in a process of its own');

    // --- first deployment, followed to its end.
    const d1 = await rollgate(project, ['deploy', 'demo', '--env', 'production', '--path', 'app', '--version', 'v1', '--wait', '--json']);
    expectCode(d1, 0, 'deploy v1');
    const d1doc = parseJson(d1) as { release: { version: string }; deployment: { status: string; version: string } };
    assert.equal(d1doc.deployment.status, 'succeeded');
    assert.equal(d1doc.release.version, 'v1');
    assert.equal(await versionAt(prodPort), 'v1');

    const st = await rollgate(project, ['status', 'demo', '--env', 'production', '--json']);
    expectCode(st, 0, 'status');
    const services = parseJson(st) as StatusDoc[];
    assert.equal(services.length, 1);
    assert.equal(services[0]!.currentVersion, 'v1');
    for (const v of services[0]!.versions) for (const i of v.instances) if (i.pid) pids.add(i.pid);
    const human = await rollgate(project, ['status']);
    expectCode(human, 0, 'status (table)');
    assert.match(human.stdout, /demo\s+production\s+v1/);
    // What each instance costs, sampled by the agent about once a second: CPU % needs two samples.
    await until('status to show each instance CPU and memory', async () => {
      const r = await rollgate(project, ['status']);
      return /INSTANCE\s+VERSION\s+STATE\s+CPU\s+RSS/.test(r.stdout) && /\sv1\s+ready\s+\d+\.\d%\s+\d+\.\d MiB/.test(r.stdout) ? r : null;
    });

    // --- second version by canary: --wait follows it while another command promotes it.
    const app2 = join(root, 'app2');
    cpSync(join(project, 'app'), app2, { recursive: true });
    writeFileSync(join(app2, 'behavior.json'), JSON.stringify({ version: 'v2' }));
    const waiting = rollgate(project, ['deploy', 'demo', '--env', 'production', '--path', app2, '--version', 'v2', '--wait', '--json']);
    const paused = await until('the canary to hold at its pause', async () => {
      const r = await rollgate(project, ['status', 'demo', '--env', 'production', '--json']);
      const s = (parseJson(r) as StatusDoc[])[0];
      for (const v of s?.versions ?? []) for (const i of v.instances) if (i.pid) pids.add(i.pid);
      return s?.activeDeployment?.status === 'paused' || /pause/i.test(s?.activeDeployment?.step ?? '') ? s : null;
    });
    assert.equal(paused.activeDeployment?.status === 'paused' || paused.activeDeployment?.status === 'progressing', true);
    // No traffic reaches this canary, so its (default) analysis can never pass: go on without it.
    const promote = await rollgate(project, ['promote', 'demo', '--env', 'production', '--skip-analysis', '--json']);
    expectCode(promote, 0, 'promote');
    const d2 = await waiting;
    expectCode(d2, 0, 'deploy v2 --wait');
    assert.equal((parseJson(d2) as { deployment: { status: string } }).deployment.status, 'succeeded');
    assert.equal(await versionAt(prodPort), 'v2');

    // --- nothing in progress now: steering commands say so (exit 2).
    const none = await rollgate(project, ['pause', 'demo', '--env', 'production']);
    expectCode(none, 2, 'pause with nothing in progress');
    assert.match(none.stderr, /no deployment of demo is in progress in production/);

    // --- rollback to v1.
    const rb = await rollgate(project, ['rollback', 'demo', '--env', 'production', '--wait', '--json']);
    expectCode(rb, 0, 'rollback');
    assert.equal((parseJson(rb) as { version: string; status: string }).version, 'v1');
    assert.equal(await versionAt(prodPort), 'v1');

    // --- history, apps, logs.
    const hist = await rollgate(project, ['history', 'demo', '--env', 'production', '--json']);
    expectCode(hist, 0, 'history');
    const list = parseJson(hist) as { version: string; kind: string; status: string }[];
    assert.deepEqual(
      list.slice(0, 3).map((d) => [d.version, d.kind, d.status]),
      [
        ['v1', 'rollback', 'succeeded'],
        ['v2', 'deploy', 'succeeded'],
        ['v1', 'deploy', 'succeeded'],
      ],
    );
    const apps = await rollgate(project, ['apps', '--json']);
    expectCode(apps, 0, 'apps');
    assert.ok((parseJson(apps) as { name: string }[]).some((a) => a.name === 'demo'));
    const logs = await rollgate(project, ['logs', 'demo', '--env', 'production', '--tail', '20', '--json']);
    expectCode(logs, 0, 'logs');
    assert.ok(Array.isArray((parseJson(logs) as { lines: unknown[] }).lines));

    // --- user errors: exit 2 and a message that says what is wrong; nothing deployed.
    writeFileSync(join(project, 'bad.yaml'), 'apps:\n  demo:\n    run: x\n    replicas: many\nenvironments: {}\n');
    const bad = await rollgate(project, ['deploy', 'demo', '--env', 'production', '--path', 'app', '--file', 'bad.yaml']);
    expectCode(bad, 2, 'invalid spec');
    assert.match(bad.stderr, /bad\.yaml:4:\d+: apps\.demo\.replicas/);
    const unknownApp = await rollgate(project, ['deploy', 'nope', '--env', 'production', '--path', 'app', '--json']);
    expectCode(unknownApp, 2, 'unknown app');
    assert.match((parseJson(unknownApp) as { error: { message: string } }).error.message, /app "nope" is not declared/);
    const notDir = await rollgate(project, ['deploy', 'demo', '--env', 'production', '--path', 'rollgate.yaml']);
    expectCode(notDir, 2, 'path not a directory');
    assert.match(notDir.stderr, /is not a directory/);
    const gone = await rollgate(project, ['status', '--server', `http://127.0.0.1:${await freePort()}`]);
    expectCode(gone, 3, 'unreachable server');
    assert.equal((await versionAt(prodPort)), 'v1', 'traffic stays on the last good version');

    // Instances as they are now (rollouts started and stopped some).
    const last = parseJson(await rollgate(project, ['status', '--json'])) as StatusDoc[];
    for (const s of last) for (const v of s.versions) for (const i of v.instances) if (i.pid) pids.add(i.pid);

    // --- SIGINT: the server stops, then the agent and its instances; nothing is left.
    up.kill('SIGINT');
    const code = await new Promise<number | null>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`up did not stop within 60s\nstderr: ${upErr}`)), 60_000);
      if (up!.exitCode !== null) return resolve(up!.exitCode);
      up!.once('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    assert.equal(code, 0, `up exit code\nstderr: ${upErr}`);
    await until('every process to be gone', async () => [...pids].every((p) => !isAlive(p)), 10_000).catch(() => {
      throw new Error(`still running: ${[...pids].filter(isAlive).join(', ')}`);
    });
    assert.equal(await portOpen(prodPort), false, 'the production listener is closed');
    assert.equal(await portOpen(apiPort), false, 'the API is closed');
  });
});
