import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeploymentRecord, ReleaseRecord } from '../core/domain.js';
import { commitsBetween, releaseCommitTimes } from './git.js';

let dir: string;
let repo: string;
const shas: string[] = [];
const TIMES = ['2024-01-01T10:00:00+00:00', '2024-01-02T11:00:00+00:00', '2024-01-03T12:00:00+00:00', '2024-01-04T13:00:00+00:00'];

function git(args: string[], env: Record<string, string> = {}): string {
  return execFileSync('git', ['-C', repo, ...args], {
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.test', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.test', GIT_CONFIG_NOSYSTEM: '1', HOME: dir, ...env },
    encoding: 'utf8',
    timeout: 10_000,
  }).trim();
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rollgate-dora-git-'));
  repo = join(dir, 'repo');
  execFileSync('git', ['init', '-q', repo], { timeout: 10_000, env: { ...process.env, HOME: dir } });
  for (const [n, t] of TIMES.entries()) {
    writeFileSync(join(repo, 'f.txt'), `change ${n}\n`);
    git(['add', 'f.txt']);
    // Author date differs on purpose: lead time starts at the committer time (%cI).
    git(['commit', '-q', '-m', `change ${n}`], { GIT_COMMITTER_DATE: t, GIT_AUTHOR_DATE: '2020-01-01T00:00:00+00:00' });
    shas.push(git(['rev-parse', 'HEAD']));
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('commitsBetween', () => {
  test('a range lists the commits after FROM up to TO, newest first, with committer times', async () => {
    const r = await commitsBetween(repo, shas[0]!, shas[2]!);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.commits.map((c) => c.sha), [shas[2], shas[1]]);
    assert.deepEqual(r.commits.map((c) => Date.parse(c.time)), [Date.parse(TIMES[2]!), Date.parse(TIMES[1]!)]);
  });

  test('without FROM: everything reachable from TO', async () => {
    const r = await commitsBetween(repo, null, shas[3]!);
    assert.ok(r.ok);
    assert.equal(r.commits.length, 4);
  });

  test('failures are reported, not thrown', async () => {
    const unknown = await commitsBetween(repo, shas[0]!, 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef');
    assert.equal(unknown.ok, false);
    const notRepo = await commitsBetween(dir, null, shas[0]!);
    assert.ok(!notRepo.ok && /not a git repository/i.test(notRepo.error), JSON.stringify(notRepo));
    const option = await commitsBetween(repo, null, '--output=/tmp/x');
    assert.ok(!option.ok && option.error.startsWith('not a commit sha'));
    const noGit = await commitsBetween(repo, null, shas[0]!, { gitBinary: join(dir, 'no-such-git') });
    assert.equal(noGit.ok, false);
  });

  test('a git that hangs is stopped at the timeout', async () => {
    const fake = join(dir, 'slow-git');
    writeFileSync(fake, `#!${process.execPath}\nsetTimeout(() => {}, 30000);\n`);
    chmodSync(fake, 0o755);
    const r = await commitsBetween(repo, null, shas[0]!, { gitBinary: fake, timeoutMs: 300 });
    assert.ok(!r.ok && /timed out after 300 ms/.test(r.error), JSON.stringify(r));
  });
});

describe('releaseCommitTimes', () => {
  const release = (id: string, sha: string | null): ReleaseRecord => ({ id, app: 'shop', version: id, contentHash: 'x', artifactDir: '/x', commitSha: sha, commitTime: null, createdAt: '2024-01-01T00:00:00Z', createdBy: 't', prunedAt: null });
  const deploy = (id: string, releaseId: string, previousReleaseId: string | null, finishedAt: string, env = 'production'): DeploymentRecord =>
    ({ id, app: 'shop', env, kind: 'deploy', releaseId, previousReleaseId, status: 'succeeded', finishedAt }) as DeploymentRecord;

  test('each release gets the commits since the release that served before it in production', async () => {
    const releases = [release('r1', shas[0]!), release('r2', shas[2]!), release('r3', shas[3]!), release('gone', null)];
    const deployments = [
      deploy('d1', 'r1', null, '2024-01-01T12:00:00Z'),
      deploy('s2', 'r3', 'r1', '2024-01-04T14:00:00Z', 'staging'), // staging does not count
      deploy('d2', 'r2', 'r1', '2024-01-03T13:00:00Z'),
      deploy('d2b', 'r2', 'r2', '2024-01-05T00:00:00Z'), // a redeploy: the first deploy decides
      deploy('d3', 'gone', 'r2', '2024-01-05T00:00:00Z'), // no sha: nothing to read
    ];
    const r = await releaseCommitTimes(repo, deployments, releases, (d) => d.env === 'production');
    assert.deepEqual(r.problems, []);
    assert.deepEqual([...r.commitTimes.keys()], ['r2']); // r1 has no base: its own commit time is used
    assert.deepEqual(r.commitTimes.get('r2')!.map((t) => Date.parse(t)), [Date.parse(TIMES[2]!), Date.parse(TIMES[1]!)]);
  });

  test('a missing repository gives problems and no times, and stops asking after a few', async () => {
    const releases = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, n) => release(id, shas[n % 4]!.replace(/^./, n % 2 ? 'a' : 'b')));
    const deployments = releases.slice(1).map((r, n) => deploy(`d${n}`, r.id, releases[n]!.id, `2024-01-0${n + 1}T00:00:00Z`));
    const r = await releaseCommitTimes(join(dir, 'nowhere'), deployments, releases, () => true);
    assert.equal(r.commitTimes.size, 0);
    assert.equal(r.problems.length, 4);
    assert.match(r.problems[3]!, /skipped after repeated git failures/);
  });
});
