/**
 * What `rollgate up` checks and keeps at start, against the real binary: a taken port (API or an
 * environment's listener) is refused before anything starts, naming the port and the process
 * holding it; the first admin's one-time password survives a failed or crashed first start in
 * `<data-dir>/initial-admin.txt` (0600) until that admin logs in; the data directory keeps itself
 * out of git.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../demo/fixtures.js';
import { killAll, portFree, procAlive, readJsonFile, rollgate, startRollgate, until } from '../test/cli-run.js';

const started = new Set<number>();
const roots: string[] = [];

after(async () => {
  await killAll(started);
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function projectDir(spec: string): string {
  const root = mkdtempSync(join(tmpdir(), 'rollgate-upstart-'));
  roots.push(root);
  const dir = join(root, 'project');
  mkdirSync(dir);
  writeFileSync(join(dir, 'rollgate.yaml'), spec);
  return dir;
}

const spec = (stagingPort: number) => `apps:
  demo:
    run: node server.js
environments:
  staging:
    listen: ${stagingPort}
`;

/** Another program holding a port, as a user's stray dev server would. */
async function holdPort(port: number): Promise<number> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.add(child.pid!);
  await new Promise<void>((res) => child.stdout.once('data', () => res()));
  return child.pid!;
}

async function stopUp(child: ReturnType<typeof startRollgate>['child']): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
}

describe('rollgate up at start', { timeout: 300_000, concurrency: 1 }, () => {
  test('a taken environment port or API port is refused, naming the port and its holder; nothing starts', async () => {
    const [apiPort, stagingPort] = [await freePort(), await freePort()];
    const dir = projectDir(spec(stagingPort));
    const holder = await holdPort(stagingPort);
    const r = await rollgate(dir, ['up', '--port', String(apiPort)]);
    assert.equal(r.code, 2, `exit code of a usage error: ${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`port ${stagingPort} on 127\\.0\\.0\\.1 \\(environment staging, listen in rollgate\\.yaml\\) is taken by process ${holder} \\(.*node -e`));
    assert.doesNotMatch(r.stdout, /rollgate is up/);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(`http://127\\.0\\.0\\.1:${stagingPort}`), 'no URL is printed for a listener that cannot open');
    assert.equal(existsSync(join(dir, '.rollgate', 'agent.json')), false, 'no agent was started');
    assert.equal(await portFree(apiPort), true);

    const apiHolder = await holdPort(apiPort);
    const j = await rollgate(dir, ['up', '--port', String(apiPort), '--json']);
    assert.equal(j.code, 2);
    const doc = JSON.parse(j.stdout) as { error: { code: string; message: string; details: { ports: { port: number }[] } } };
    assert.equal(doc.error.code, 'port_in_use');
    assert.deepEqual(doc.error.details.ports.map((p) => p.port).sort(), [apiPort, stagingPort].sort());
    assert.match(doc.error.message, new RegExp(`port ${apiPort} .*\\(the API, --port\\) is taken by process ${apiHolder}`));
    const detached = await rollgate(dir, ['up', '--detach', '--port', String(apiPort)]);
    assert.equal(detached.code, 2, `up --detach refuses the same way: ${detached.stderr}`);
    assert.match(detached.stderr, new RegExp(`port ${stagingPort} .* is taken by process ${holder}`));
    assert.equal(existsSync(join(dir, '.rollgate', 'agent.json')), false, 'no agent was started');
  });

  test('the first admin password outlives a failed and a crashed first start, until that admin logs in', async () => {
    const [apiPort, stagingPort] = [await freePort(), await freePort()];
    const dir = projectDir(spec(stagingPort));
    const dataDir = join(dir, '.rollgate');
    const holder = await holdPort(apiPort);
    const failed = await rollgate(dir, ['up', '--port', String(apiPort)]);
    assert.equal(failed.code, 2, failed.stderr);
    process.kill(holder, 'SIGKILL');
    await until('the API port to be free', () => portFree(apiPort));

    // First start that runs: the password is shown, and kept in a private file.
    const first = startRollgate(dir, ['up', '--port', String(apiPort)]);
    started.add(first.child.pid!);
    await until('up to run', () => first.out().includes('rollgate is up'), 90_000);
    const password = /password: (\S+)/.exec(first.err())?.[1];
    assert.ok(password, `the first start shows the password: ${first.err()}`);
    const file = join(dataDir, 'initial-admin.txt');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, 'utf8'), new RegExp(`password: ${password}`));
    const agentPid = readJsonFile<{ pid: number }>(join(dataDir, 'agent.json'))!.pid;
    started.add(agentPid);
    // It crashes before anyone noted the password.
    first.child.kill('SIGKILL');
    await until('the crashed up to be gone', () => !procAlive(first.child.pid!));

    const second = startRollgate(dir, ['up', '--port', String(apiPort)]);
    started.add(second.child.pid!);
    await until('the second up to run', () => second.out().includes('rollgate is up'), 90_000);
    assert.match(second.err(), /the first admin has not logged in yet: its one-time password is in \.rollgate\/initial-admin\.txt/);
    assert.doesNotMatch(second.err(), new RegExp(password), 'a later start names the file, not the password');

    // Another user's login leaves the file; the admin's first login removes it.
    const wrong = await fetch(`http://127.0.0.1:${apiPort}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'admin', password: 'not-it' }) });
    assert.equal(wrong.status, 401);
    assert.equal(existsSync(file), true, 'a failed login keeps the file');
    const login = await fetch(`http://127.0.0.1:${apiPort}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'admin', password }) });
    assert.equal(login.status, 200, await login.text());
    assert.equal(existsSync(file), false, 'deleted at the first login');
    await stopUp(second.child);
    assert.equal(procAlive(agentPid), true, 'the adopted agent (left by the crashed up) is left running');

    const third = await rollgate(dir, ['up', '--detach', '--port', String(apiPort)]);
    assert.equal(third.code, 0, third.stderr);
    assert.doesNotMatch(third.stderr, /initial-admin|password/);
    const down = await rollgate(dir, ['down']);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(procAlive(agentPid), false, '`down` stops the adopted agent too');
  });

  test('the data directory keeps itself out of git', async () => {
    const dir = projectDir(spec(await freePort()));
    const none = await rollgate(dir, ['down']);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /nothing runs .*no such data directory/);
    assert.equal(existsSync(join(dir, '.rollgate')), false, '`down` creates no data directory');
    const apiPort = await freePort();
    await holdPort(apiPort);
    const r = await rollgate(dir, ['up', '--port', String(apiPort)]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(readFileSync(join(dir, '.rollgate', '.gitignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).join(), '*');
  });
});
