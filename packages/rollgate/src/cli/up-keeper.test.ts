/**
 * `rollgate up` notices a dead agent or a dead `up`: the real binary with the example app
 * deployed, processes killed with SIGKILL, and the listener, the API and `rollgate status` read
 * from outside as a user would.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../demo/fixtures.js';
import { instancePids, killAll, procAlive, readJsonFile, rollgate, startRollgate, until, upProject, type Daemon } from '../test/cli-run.js';

const started = new Set<number>();
const roots: string[] = [];

after(async () => {
  await killAll(started);
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

interface UpJson {
  pid: number;
  agentPid: number;
  agent?: { state: string; restarts: number; lastExit: { pid: number; how: string } | null };
}

async function serves(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
    await res.text();
    return res.status === 200;
  } catch {
    return false;
  }
}

function upJson(dataDir: string): UpJson | null {
  return readJsonFile<UpJson>(join(dataDir, 'up.json'));
}

function failWith(d: Daemon) {
  return (e: Error): never => {
    throw new Error(`${e.message}\nstdout: ${d.out()}\nstderr: ${d.err()}`);
  };
}

test('a SIGKILLed agent is reported and restarted; a SIGKILLed up is named by status and the next up adopts its agent', { timeout: 300_000 }, async () => {
  const { dir, dataDir, apiPort, stagingPort: port } = await upProject('rollgate-upkeep-', roots);
  const up = startRollgate(dir, ['up', '--port', String(apiPort)]);
  started.add(up.child.pid!);
  const first = await until('up.json', () => upJson(dataDir), 90_000).catch(failWith(up));
  started.add(first.agentPid);
  const d = await rollgate(dir, ['deploy', 'demo', '--env', 'staging', '--path', 'app', '--version', 'v1', '--wait', '--json']);
  assert.equal(d.code, 0, `deploy: ${d.stdout}\n${d.stderr}`);
  assert.ok(await serves(port), 'the listener serves v1');
  const before = await rollgate(dir, ['status']);
  assert.match(before.stdout, new RegExp(`agent: running \\(pid ${first.agentPid}`));

  // 1. The agent dies: up says so, restarts it on the same API port, and it serves again.
  process.kill(first.agentPid, 'SIGKILL');
  await until('up reports the dead agent', () => new RegExp(`the agent \\(pid ${first.agentPid}\\) died \\(killed by SIGKILL\\)`).test(up.err()), 30_000).catch(failWith(up));
  assert.match(up.err(), /every environment listener refuses connections/);
  const restarted = await until('a new agent in up.json', () => {
    const u = upJson(dataDir);
    return u && u.agentPid !== first.agentPid && u.agent?.state === 'running' ? u : null;
  }, 60_000).catch(failWith(up));
  started.add(restarted.agentPid);
  assert.equal(restarted.agent?.restarts, 1);
  assert.equal(restarted.agent?.lastExit?.pid, first.agentPid);
  assert.match(up.err(), /the agent is running again/);
  await until('the listener accepts connections again', () => serves(port), 60_000).catch(failWith(up));
  for (const pid of await instancePids(dataDir)) started.add(pid);
  const after1 = await rollgate(dir, ['status']);
  assert.equal(after1.code, 0, after1.stderr);
  assert.match(after1.stdout, new RegExp(`agent: running \\(pid ${restarted.agentPid}.*restarted 1 time\\(s\\)`));
  assert.doesNotMatch(after1.stderr, /DEAD/);

  // 2. up itself (and so the server in it) dies: the agent keeps serving; status says what is dead.
  up.child.kill('SIGKILL');
  await until('up to exit', () => up.child.exitCode !== null || up.child.signalCode !== null, 30_000);
  assert.ok(procAlive(restarted.agentPid), 'the agent outlives a killed up (its own process group)');
  assert.ok(await serves(port), 'the listener keeps serving without the server');
  const dead = await rollgate(dir, ['status']);
  assert.notEqual(dead.code, 0, 'the API is gone');
  assert.match(dead.stderr, new RegExp(`rollgate up \\(pid ${first.pid}\\) is not running.*its agent \\(pid ${restarted.agentPid}.*still serves`));

  // 3. up again: adopts the agent, the API answers, nothing recorded is lost.
  const up2 = startRollgate(dir, ['up', '--port', String(apiPort)]);
  started.add(up2.child.pid!);
  const second = await until('the second up', () => {
    const u = upJson(dataDir);
    return u && u.pid === up2.child.pid ? u : null;
  }, 90_000).catch(failWith(up2));
  assert.equal(second.agentPid, restarted.agentPid, 'the running agent is adopted');
  const history = await rollgate(dir, ['history', '--json']);
  assert.equal(history.code, 0, history.stderr);
  const deployments = JSON.parse(history.stdout) as { version: string; status: string }[];
  assert.deepEqual(deployments.map((x) => [x.version, x.status]), [['v1', 'succeeded']]);

  // 4. The adopted agent dies: seen by its pid, restarted as this up's own.
  process.kill(restarted.agentPid, 'SIGKILL');
  await until('up reports the adopted agent', () => new RegExp(`the agent \\(pid ${restarted.agentPid}\\) died`).test(up2.err()), 30_000).catch(failWith(up2));
  const third = await until('a third agent', () => {
    const u = upJson(dataDir);
    return u && u.agentPid !== restarted.agentPid && u.agent?.state === 'running' ? u : null;
  }, 60_000).catch(failWith(up2));
  started.add(third.agentPid);
  await until('the listener serves again', () => serves(port), 60_000).catch(failWith(up2));
  for (const pid of await instancePids(dataDir)) started.add(pid);

  // 5. Ctrl-C stops the agent it restarted (it is now this up's own), instances included.
  const instances = await instancePids(dataDir);
  up2.child.kill('SIGINT');
  await until('everything to stop', () => [up2.child.pid!, third.agentPid, ...instances].every((p) => !procAlive(p)), 90_000).catch(failWith(up2));
});

test('an agent that keeps dying is restarted at most 5 times a minute, then left dead, and status and a second up say so', { timeout: 300_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'rollgate-uploop-'));
  roots.push(root);
  const dataDir = join(root, '.rollgate');
  const apiPort = await freePort();
  const up = startRollgate(root, ['up', '--port', String(apiPort)]);
  started.add(up.child.pid!);
  let current = await until('up.json', () => upJson(dataDir), 90_000).catch(failWith(up));
  for (let death = 1; death <= 5; death++) {
    const pid = current.agentPid;
    started.add(pid);
    process.kill(pid, 'SIGKILL');
    current = await until(`restart ${death}`, () => {
      const u = upJson(dataDir);
      return u && u.agentPid !== pid && u.agent?.state === 'running' ? u : null;
    }, 60_000).catch(failWith(up));
    assert.equal(current.agent?.restarts, death);
    assert.match(up.err(), new RegExp(`restart ${death} of at most 5 a minute`));
  }
  const last = current.agentPid;
  started.add(last);
  process.kill(last, 'SIGKILL');
  await until('up gives up', () => upJson(dataDir)?.agent?.state === 'dead', 30_000).catch(failWith(up));
  assert.match(up.err(), new RegExp(`the agent \\(pid ${last}\\) died \\(killed by SIGKILL\\).*died 5 times within a minute, so it is not restarted again: see .*agent\\.log`));

  const status = await rollgate(root, ['status']);
  assert.match(status.stderr, new RegExp(`agent: DEAD, unreachable \\(pid ${last}, http://127\\.0\\.0\\.1:\\d+, last seen \\d{4}-\\d\\d-\\d\\d [\\d:]+Z; pid ${last} died \\(killed by SIGKILL\\)`));
  assert.match(status.stderr, /stopped restarting it/);
  assert.doesNotMatch(status.stdout, /agent: running/);

  const second = await rollgate(root, ['up', '--port', String(await freePort())]);
  assert.notEqual(second.code, 0);
  assert.match(second.stderr, new RegExp(`rollgate is already running for .*pid ${up.child.pid}; agent: DEAD, unreachable`));

  up.child.kill('SIGINT');
  await until('up to stop', () => up.child.exitCode !== null, 60_000).catch(failWith(up));
});
