/** Git sources against real repositories made with `git init` in a temp dir, and real sockets. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RollgateError } from '../../core/errors.js';
import { checkoutInto, maskCredentials, remoteHead } from './git-source.js';

let root: string;
let repo: string;
let n = 0;

function git(dir: string, args: string[], date?: string): string {
  const env = { ...process.env, ...(date ? { GIT_COMMITTER_DATE: date, GIT_AUTHOR_DATE: date } : {}) };
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-C', dir, ...args], { env, encoding: 'utf8' }).trim();
}

async function commitFile(name: string, content: string, date?: string): Promise<string> {
  await writeFile(join(repo, name), content);
  git(repo, ['add', name]);
  git(repo, ['commit', '-q', '-m', `write ${name}`], date);
  return git(repo, ['rev-parse', 'HEAD']);
}

const newDir = () => join(root, `checkout-${++n}`);

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<RollgateError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof RollgateError, `expected RollgateError(${code}), got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

let mainV1: string;
let mainV2: string;
let tagged: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'rollgate-git-'));
  repo = join(root, 'repo');
  await mkdir(repo);
  git(repo, ['init', '-q', '-b', 'main']);
  mainV1 = await commitFile('app.txt', 'v1\n', '2024-05-01T10:00:00+02:00');
  git(repo, ['tag', 'v1.0']);
  tagged = mainV1;
  mainV2 = await commitFile('app.txt', 'v2\n', '2024-05-02T11:30:00+00:00');
  // A branch whose name ends like "main" must not be taken for it.
  git(repo, ['branch', 'x/main', mainV1]);
  git(repo, ['branch', 'feature/login', mainV1]);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('remoteHead: the commit a branch points to, and it moves with new commits', async () => {
  assert.equal(await remoteHead(repo, 'main'), mainV2);
  assert.equal(await remoteHead(repo, 'refs/heads/main'), mainV2);
  assert.equal(await remoteHead(repo, 'feature/login'), mainV1);
  assert.equal(await remoteHead(`file://${repo}`, 'x/main'), mainV1);
  git(repo, ['checkout', '-q', 'feature/login']);
  const next = await commitFile('login.txt', 'form\n');
  git(repo, ['checkout', '-q', 'main']);
  assert.equal(await remoteHead(repo, 'feature/login'), next);
  assert.notEqual(next, mainV1);
});

test('remoteHead: an unknown branch is not_found and names the branches there are', async () => {
  const e = await rejects(remoteHead(repo, 'nope'), 'not_found', /branch "nope" does not exist/);
  assert.match(e.message, /branches: .*main/);
});

test('checkoutInto a branch, a tag and a sha: the right files and commit, .git kept, HEAD detached', async () => {
  const d1 = newDir();
  const c1 = await checkoutInto(repo, 'main', d1);
  assert.equal(c1.sha, mainV2);
  assert.equal(Date.parse(c1.time), Date.parse('2024-05-02T11:30:00Z'));
  assert.equal(await readFile(join(d1, 'app.txt'), 'utf8'), 'v2\n');
  assert.ok(existsSync(join(d1, '.git')));
  assert.equal(git(d1, ['rev-parse', 'HEAD']), mainV2);
  assert.equal(git(d1, ['status', '--porcelain']), '', 'the work tree matches the commit');
  assert.equal(git(d1, ['rev-parse', '--abbrev-ref', 'HEAD']), 'HEAD', 'HEAD is detached');

  const d2 = newDir();
  await mkdir(d2); // an existing empty directory is fine too
  const c2 = await checkoutInto(repo, 'v1.0', d2);
  assert.equal(c2.sha, tagged);
  assert.equal(c2.time, '2024-05-01T10:00:00+02:00');
  assert.equal(await readFile(join(d2, 'app.txt'), 'utf8'), 'v1\n');

  const d3 = newDir();
  const c3 = await checkoutInto(repo, mainV1, d3);
  assert.equal(c3.sha, mainV1);
  assert.equal(await readFile(join(d3, 'app.txt'), 'utf8'), 'v1\n');

  const d4 = newDir();
  const c4 = await checkoutInto(repo, mainV2.slice(0, 10), d4);
  assert.equal(c4.sha, mainV2);
});

test('checkoutInto a commit no branch or tag holds (fetched by ref and by sha)', async () => {
  git(repo, ['checkout', '-q', '-b', 'pr-temp', mainV2]);
  const pr = await commitFile('pr.txt', 'proposed\n');
  git(repo, ['checkout', '-q', 'main']);
  git(repo, ['update-ref', 'refs/pull/7/head', pr]);
  git(repo, ['branch', '-q', '-D', 'pr-temp']);
  const byRef = await checkoutInto(repo, 'refs/pull/7/head', newDir());
  assert.equal(byRef.sha, pr);
  const d = newDir();
  const bySha = await checkoutInto(repo, pr, d);
  assert.equal(bySha.sha, pr);
  assert.equal(await readFile(join(d, 'pr.txt'), 'utf8'), 'proposed\n');
});

test('checkoutInto an unknown ref is not_found and leaves the directory as it was', async () => {
  const missing = newDir();
  await rejects(checkoutInto(repo, 'no-such-branch', missing), 'not_found', /"no-such-branch" is not a branch, tag or commit .*branches: /);
  assert.equal(existsSync(missing), false);
  const empty = newDir();
  await mkdir(empty);
  await rejects(checkoutInto(repo, 'a'.repeat(40), empty), 'not_found');
  assert.deepEqual(await readdir(empty), []);
});

test('checkoutInto refuses a directory that is not empty', async () => {
  const d = newDir();
  await mkdir(d);
  await writeFile(join(d, 'keep.txt'), 'mine');
  await rejects(checkoutInto(repo, 'main', d), 'conflict', /not empty/);
  assert.equal(await readFile(join(d, 'keep.txt'), 'utf8'), 'mine');
});

test('an unreachable repository is unavailable, with git\'s reason', async () => {
  const path = join(root, 'does-not-exist');
  await rejects(remoteHead(path, 'main'), 'unavailable', /git repository .*does-not-exist is unreachable: .*does not appear to be a git repository; check the URL/);
  const d = newDir();
  await rejects(checkoutInto(path, 'main', d), 'unavailable', /is unreachable/);
  assert.equal(existsSync(d), false);
});

test('credentials in a URL never appear in a message', async () => {
  const url = `http://alice:s3cr3t-token@127.0.0.1:${await closedPort()}/team/app.git`;
  for (const attempt of [() => remoteHead(url, 'main'), () => checkoutInto(url, 'main', newDir())]) {
    const e = await rejects(attempt(), 'unavailable');
    assert.ok(!e.message.includes('s3cr3t'), e.message);
    assert.ok(!e.message.includes('alice'), e.message);
    assert.match(e.message, /http:\/\/\*\*\*@127\.0\.0\.1:\d+\/team\/app\.git/);
  }
  assert.equal(maskCredentials('fatal: https://ghp_abc@github.com/o/r and ssh://git:pw@h/x'), 'fatal: https://***@github.com/o/r and ssh://***@h/x');
});

test('a server that never answers: the time limit applies', async () => {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => sockets.push(s)); // accepts, says nothing
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    await rejects(remoteHead(`http://127.0.0.1:${port}/app.git`, 'main', { timeoutMs: 500 }), 'unavailable', /did not finish within 500 ms/);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('URLs and refs that git would read as options are refused', async () => {
  const witness = join(root, 'pwned');
  await rejects(remoteHead(`--upload-pack=touch ${witness}`, 'main'), 'invalid_input', /starts with "-"/);
  await rejects(checkoutInto(`--upload-pack=touch ${witness}`, 'main', newDir()), 'invalid_input', /starts with "-"/);
  await rejects(remoteHead(repo, '--upload-pack=x'), 'invalid_input', /starts with "-"/);
  await rejects(checkoutInto(repo, '-b', newDir()), 'invalid_input', /starts with "-"/);
  await rejects(checkoutInto(repo, 'main:refs/heads/evil', newDir()), 'invalid_input', /not a valid name/);
  await rejects(checkoutInto(repo, 'main..v1.0', newDir()), 'invalid_input');
  await rejects(remoteHead('', 'main'), 'invalid_input');
  assert.equal(existsSync(witness), false);
});
