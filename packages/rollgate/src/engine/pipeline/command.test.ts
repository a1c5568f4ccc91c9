/** Stage commands as real processes: output lines and batches, exit, timeout, kill, leftovers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CUT_SUFFIX, MAX_LINE_BYTES, startCommand, stopLeftover, type CommandOutcome, type CommandSpec, type OutputLine } from './command.js';

let seq = 0;
function spec(command: string, over: Partial<CommandSpec> = {}): CommandSpec {
  return { command, cwd: tmpdir(), env: {}, home: tmpdir(), timeoutMs: 30_000, marker: `test-run/${process.pid}/${++seq}`, killGraceMs: 1000, ...over };
}

async function run(s: CommandSpec): Promise<{ outcome: CommandOutcome; lines: OutputLine[]; calls: number; biggest: number }> {
  const lines: OutputLine[] = [];
  let calls = 0;
  let biggest = 0;
  const h = startCommand(s, (batch) => {
    calls++;
    biggest = Math.max(biggest, batch.length);
    lines.push(...batch);
  });
  return { outcome: await h.done, lines, calls, biggest };
}

const texts = (lines: OutputLine[], stream: OutputLine['stream']) => lines.filter((l) => l.stream === stream).map((l) => l.text);

/** Alive and not a zombie (a zombie holds its pid until its parent reaps it, but runs nothing). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await alive(pid))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

test('exit codes and durations', async () => {
  const ok = await run(spec('true'));
  assert.deepEqual([ok.outcome.exitCode, ok.outcome.signal, ok.outcome.error, ok.outcome.timedOut, ok.outcome.killedBecause], [0, null, null, false, null]);
  assert.ok(ok.outcome.durationMs >= 0);
  const bad = await run(spec('echo nope >&2; exit 3'));
  assert.equal(bad.outcome.exitCode, 3);
  assert.deepEqual(texts(bad.lines, 'stderr'), ['nope']);
  const missing = await run(spec('no-such-command-rollgate-test'));
  assert.equal(missing.outcome.exitCode, 127);
});

test('stdout and stderr are kept apart, in order within each stream, with times', async () => {
  const { lines, outcome } = await run(spec('echo a; echo b >&2; echo c; echo d >&2; printf "e\\r\\nlast"; printf "tail" >&2'));
  assert.equal(outcome.exitCode, 0);
  assert.deepEqual(texts(lines, 'stdout'), ['a', 'c', 'e', 'last']);
  assert.deepEqual(texts(lines, 'stderr'), ['b', 'd', 'tail']);
  for (const l of lines) assert.ok(Number.isFinite(Date.parse(l.at)), l.at);
});

test('100k lines all arrive, in batches of at most 500', async () => {
  const { lines, calls, biggest, outcome } = await run(spec('seq 1 100000'));
  assert.equal(outcome.exitCode, 0);
  assert.equal(lines.length, 100_000);
  lines.forEach((l, i) => assert.equal(l.text, String(i + 1)));
  assert.ok(calls < lines.length / 10, `${calls} calls for ${lines.length} lines`);
  assert.ok(biggest <= 500, `a batch of ${biggest}`);
});

test('a line longer than 16 KiB is cut; the next line is whole', async () => {
  const { lines } = await run(spec(`head -c 100000 /dev/zero | tr '\\0' x; echo; echo short; head -c ${MAX_LINE_BYTES} /dev/zero | tr '\\0' y`));
  const out = texts(lines, 'stdout');
  assert.equal(out.length, 3);
  assert.equal(out[0], 'x'.repeat(MAX_LINE_BYTES) + CUT_SUFFIX);
  assert.equal(out[1], 'short');
  assert.equal(out[2], 'y'.repeat(MAX_LINE_BYTES)); // exactly the limit is not cut
});

test('a cut does not split a UTF-8 character', async () => {
  // "é" is 2 bytes: 1 byte of padding puts a character across the limit.
  const { lines } = await run(spec(`printf a; i=0; while [ $i -lt 9000 ]; do printf 'é'; i=$((i+1)); done; echo`));
  const [line] = texts(lines, 'stdout');
  assert.ok(line!.endsWith(CUT_SUFFIX));
  const body = line!.slice(0, -CUT_SUFFIX.length);
  assert.equal(body, 'a' + 'é'.repeat((MAX_LINE_BYTES - 2) / 2));
});

test('timeout stops the shell and its children (SIGTERM to the group)', async () => {
  const lines: OutputLine[] = [];
  const h = startCommand(spec('sleep 60 & echo $!; sleep 60', { timeoutMs: 300 }), (b) => lines.push(...b));
  const o = await h.done;
  assert.equal(o.timedOut, true);
  assert.equal(o.killedBecause, null);
  assert.equal(o.exitCode, null);
  assert.equal(o.signal, 'SIGTERM');
  const grandchild = Number(texts(lines, 'stdout')[0]);
  assert.ok(grandchild > 1, `grandchild pid ${grandchild}`);
  assert.equal(await waitGone(grandchild), true, `grandchild ${grandchild} still runs`);
  assert.equal(await waitGone(h.pid!), true);
});

test('SIGKILL follows when the group ignores SIGTERM', async () => {
  const lines: OutputLine[] = [];
  const h = startCommand(spec(`trap '' TERM; sleep 60 & echo $!; sleep 60`, { timeoutMs: 200, killGraceMs: 300 }), (b) => lines.push(...b));
  const o = await h.done;
  assert.equal(o.timedOut, true);
  assert.equal(o.signal, 'SIGKILL');
  const grandchild = Number(texts(lines, 'stdout')[0]);
  assert.equal(await waitGone(grandchild), true, `grandchild ${grandchild} still runs`);
});

test('kill(reason) stops the command and says why', async () => {
  const lines: OutputLine[] = [];
  const h = startCommand(spec('echo started; sleep 60'), (b) => lines.push(...b));
  assert.ok(h.pid! > 0);
  // Kill once it is surely running (its first line arrived).
  while (lines.length === 0) await new Promise((r) => setTimeout(r, 20));
  h.kill('cancelled by alice');
  h.kill('second reason is ignored');
  const o = await h.done;
  assert.equal(o.killedBecause, 'cancelled by alice');
  assert.equal(o.timedOut, false);
  assert.equal(o.signal, 'SIGTERM');
  assert.deepEqual(texts(lines, 'stdout'), ['started']);
});

test('a child holding the pipes after the shell exits neither hangs the end nor outlives it', async () => {
  const lines: OutputLine[] = [];
  const h = startCommand(spec('sleep 60 & echo $!; echo bye'), (b) => lines.push(...b));
  const o = await h.done;
  assert.equal(o.exitCode, 0);
  const [grandchild, bye] = texts(lines, 'stdout');
  assert.equal(bye, 'bye');
  assert.equal(await waitGone(Number(grandchild)), true, `background child ${grandchild} still runs`);
});

test('the environment: nothing of the server, the stage env over PATH, HOME and LANG, and the marker', async () => {
  const server = { ROLLGATE_TEST_SECRET_TOKEN: 'hunter2-rollgate', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', WEBHOOK_SECRET: 'whsec_server_own_value' };
  Object.assign(process.env, server);
  const home = await mkdtemp(join(tmpdir(), 'rollgate-home-'));
  try {
    const s = spec('env', { env: { FOO: 'bar baz', ROLLGATE_APP: 'web' }, home });
    const { lines } = await run(s);
    const env = texts(lines, 'stdout');
    const names = env.map((l) => l.slice(0, l.indexOf('='))).filter((n) => n !== 'PWD' && n !== 'SHLVL' && n !== '_' && n !== 'OLDPWD');
    assert.deepEqual(names.sort(), ['FOO', 'HOME', 'LANG', 'PATH', 'ROLLGATE_APP', 'ROLLGATE_STAGE_MARKER'], `only the declared and base variables: ${env.join(' | ')}`);
    for (const v of Object.values(server)) assert.ok(!env.some((l) => l.includes(v)), 'a server variable leaked');
    assert.ok(env.includes('FOO=bar baz'));
    assert.ok(env.includes('ROLLGATE_APP=web'));
    assert.ok(env.includes(`HOME=${home}`), 'HOME is the one given, not the server\'s');
    assert.ok(env.includes('LANG=C.UTF-8'));
    assert.ok(env.includes(`ROLLGATE_STAGE_MARKER=${s.marker}`));
    const path = env.find((l) => l.startsWith('PATH='))!.slice(5).split(':');
    assert.ok(path.includes(dirname(process.execPath)), 'the Node.js of the server is found');
    const system = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
    assert.deepEqual(path, system.includes(dirname(process.execPath)) ? system : [dirname(process.execPath), ...system], "a fixed PATH, not the server's");
    // What the stage declares wins over the base; the marker cannot be overridden.
    const s2 = spec('echo "$PATH|$HOME|$ROLLGATE_STAGE_MARKER"; node -e "process.stdout.write(String(1+1))"', { env: { PATH: `/opt/tools:${process.env.PATH ?? ''}`, HOME: '/tmp/declared', ROLLGATE_STAGE_MARKER: 'fake' }, home });
    const [line, two] = texts((await run(s2)).lines, 'stdout');
    const [p2, h2, m2] = line!.split('|');
    assert.ok(p2!.startsWith('/opt/tools:'), 'a declared PATH is used');
    assert.equal(h2, '/tmp/declared', 'a declared HOME is used');
    assert.equal(m2, s2.marker, 'the marker is the platform\'s');
    assert.equal(two, '2', 'node is found on the base PATH');
  } finally {
    for (const k of Object.keys(server)) delete process.env[k];
    await rm(home, { recursive: true, force: true });
  }
});

test('the working directory is used; a missing one is a clear error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rollgate-cmd-'));
  try {
    const { lines } = await run(spec('pwd', { cwd: dir }));
    assert.deepEqual(texts(lines, 'stdout'), [dir]);
    const missing = join(dir, 'nope');
    const h = startCommand(spec('true', { cwd: missing }), () => assert.fail('no output expected'));
    assert.equal(h.pid, undefined);
    const o = await h.done;
    assert.equal(o.exitCode, null);
    assert.match(o.error ?? '', /working directory .*nope does not exist/);
    const rel = await startCommand(spec('true', { cwd: 'relative/dir' }), () => {}).done;
    assert.match(rel.error ?? '', /not an absolute path/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('stopLeftover without a pid (never recorded) finds the group by its marker alone', async () => {
  const marker = `unrecorded/${process.pid}`;
  const p = spawn('/bin/sh', ['-c', 'sleep 60 & echo $!; sleep 60'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ROLLGATE_STAGE_MARKER: marker } });
  p.unref();
  const grandchild = await new Promise<number>((resolve) => p.stdout!.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
  p.stdout!.destroy();
  try {
    assert.equal(await stopLeftover(undefined, `${marker}/other`), 'gone', 'no process carries that marker');
    assert.equal(await alive(p.pid!), true);
    assert.equal(await stopLeftover(undefined, marker), 'stopped');
    assert.equal(await waitGone(p.pid!), true);
    assert.equal(await waitGone(grandchild), true);
  } finally {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      // stopped already
    }
  }
});

test('stopLeftover: only a group carrying the marker is stopped', async () => {
  const marker = `leftover/${process.pid}`;
  // What a dead server leaves: a detached shell with a child, carrying the marker.
  const p = spawn('/bin/sh', ['-c', 'sleep 60 & echo $!; sleep 60'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ROLLGATE_STAGE_MARKER: marker } });
  p.unref();
  const grandchild = await new Promise<number>((resolve) => p.stdout!.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
  p.stdout!.destroy();
  const pid = p.pid!;
  try {
    assert.equal(await stopLeftover(pid, 'some/other/marker'), 'not-ours');
    assert.equal(await alive(pid), true, 'a wrong marker must not stop it');
    assert.equal(await alive(grandchild), true);
    assert.equal(await stopLeftover(pid, marker), 'stopped');
    assert.equal(await waitGone(pid), true);
    assert.equal(await waitGone(grandchild), true);
    assert.equal(await stopLeftover(pid, marker), 'gone');
  } finally {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // stopped already
    }
  }
});

test('stopLeftover: a live pid that leads no group of ours, and a pid that is gone', async () => {
  // This test process runs, but is no group leader carrying the marker.
  assert.equal(await stopLeftover(process.pid, 'x/y/1'), 'not-ours');
  assert.equal(await alive(process.pid), true);
  const p = spawn('true', { stdio: 'ignore' });
  await new Promise((r) => p.on('exit', r));
  assert.equal(await stopLeftover(p.pid!, 'x/y/1'), 'gone');
});
