/**
 * Commit times of the changes a release carries, read from a local git repository with
 * `git log --format='%H %cI' FROM..TO` (read-only). Lead time for changes starts at each of these.
 * Every failure (no git, not a repository, unknown commit, timeout) comes back as a reason in the
 * result: delivery metrics fall back to the release's own commit time, they never fail for it.
 */
import { execFile } from 'node:child_process';
import type { DeploymentRecord, ReleaseRecord } from '../core/domain.js';

export interface Commit {
  sha: string;
  /** Committer time, ISO 8601 as git prints it (with offset). */
  time: string;
}

export type CommitsResult = { ok: true; commits: Commit[] } | { ok: false; error: string };

export interface GitOptions {
  /** Per git command (default 5 s): a hung or huge repository must not hold a request. */
  timeoutMs?: number;
  /** At most this many commits per range (default 10,000): a release from an empty base walks the whole history. */
  maxCommits?: number;
  /** The git executable (default `git` on PATH). */
  gitBinary?: string;
}

/** A repository that is missing or hangs fails every range alike: stop asking after a few. */
const MAX_PROBLEMS = 3;
const SHA_RE = /^[0-9a-f]{7,64}$/i;
const LINE_RE = /^([0-9a-f]{7,64}) (\S+)$/i;

/**
 * Commits in `from..to` (every commit reachable from `to` when `from` is null), newest first.
 * Only object names are accepted as `from`/`to`, so nothing user-typed reaches git as an option.
 */
export function commitsBetween(repoDir: string, from: string | null, to: string, opts: GitOptions = {}): Promise<CommitsResult> {
  if (!SHA_RE.test(to) || (from !== null && !SHA_RE.test(from))) {
    return Promise.resolve({ ok: false, error: `not a commit sha: ${!SHA_RE.test(to) ? to : from}` });
  }
  const range = from === null ? to : `${from}..${to}`;
  const args = ['-C', repoDir, 'log', `--max-count=${opts.maxCommits ?? 10_000}`, '--format=%H %cI', range, '--'];
  return new Promise((resolve) => {
    execFile(opts.gitBinary ?? 'git', args, { timeout: opts.timeoutMs ?? 5000, maxBuffer: 16 * 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      if (err) {
        const killed = (err as { killed?: boolean }).killed === true;
        const why = killed ? `timed out after ${opts.timeoutMs ?? 5000} ms` : (String(stderr).trim().split('\n')[0] ?? '') || err.message;
        resolve({ ok: false, error: `git log ${range} in ${repoDir}: ${why}` });
        return;
      }
      const commits: Commit[] = [];
      for (const line of String(stdout).split('\n')) {
        const m = LINE_RE.exec(line.trim());
        if (m && Number.isFinite(Date.parse(m[2]!))) commits.push({ sha: m[1]!, time: m[2]! });
      }
      resolve({ ok: true, commits });
    });
  });
}

export interface ReleaseCommitTimes {
  /** Release id → commit times of every change it brought to production. */
  commitTimes: Map<string, string[]>;
  /** Why some releases have none (computeDora then uses the release's commit time). */
  problems: string[];
}

/**
 * For each release's first production deployment, the changes it brought: the commits between
 * the release serving before it (`previousReleaseId`) and itself. A release with no earlier
 * release (or one without a commit sha) counts its own commit only — the whole history would
 * inflate lead time with commits that never waited on a deploy.
 */
export async function releaseCommitTimes(
  repoDir: string,
  deployments: readonly DeploymentRecord[],
  releases: readonly ReleaseRecord[],
  isProductionDeploy: (d: DeploymentRecord) => boolean,
  opts: GitOptions = {},
): Promise<ReleaseCommitTimes> {
  const byId = new Map(releases.map((r) => [r.id, r]));
  const first = new Map<string, DeploymentRecord>();
  for (const d of deployments) {
    if (d.kind !== 'deploy' || d.status !== 'succeeded' || d.finishedAt === null || !isProductionDeploy(d)) continue;
    const prev = first.get(d.releaseId);
    if (!prev || d.finishedAt < prev.finishedAt!) first.set(d.releaseId, d);
  }
  const commitTimes = new Map<string, string[]>();
  const problems: string[] = [];
  // One git process at a time: the machine is shared and each is quick.
  for (const [releaseId, d] of first) {
    const rel = byId.get(releaseId);
    if (!rel?.commitSha) continue;
    const base = d.previousReleaseId ? (byId.get(d.previousReleaseId)?.commitSha ?? null) : null;
    if (base === null) continue;
    if (base === rel.commitSha) continue; // a rebuild of the same commit: nothing new
    if (problems.length >= MAX_PROBLEMS) {
      problems.push('more releases skipped after repeated git failures');
      break;
    }
    const r = await commitsBetween(repoDir, base, rel.commitSha, opts);
    if (!r.ok) problems.push(`${rel.app} ${rel.version}: ${r.error}`);
    else if (r.commits.length > 0) commitTimes.set(releaseId, r.commits.map((c) => c.time));
  }
  return { commitTimes, problems };
}
