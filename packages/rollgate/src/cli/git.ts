/** Reads the commit a release directory was built from (read-only git commands; failures mean "unknown"). */
import { execFile } from 'node:child_process';

export interface CommitInfo {
  sha: string;
  time: string;
}

function git(dir: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, ...args], { timeout: 5000, windowsHide: true }, (err, stdout) => resolve(err ? null : stdout.trim()));
  });
}

export async function readCommit(dir: string): Promise<CommitInfo | null> {
  if ((await git(dir, ['rev-parse', '--is-inside-work-tree'])) !== 'true') return null;
  const sha = await git(dir, ['rev-parse', 'HEAD']);
  const time = await git(dir, ['log', '-1', '--format=%cI']);
  if (!sha || !/^[0-9a-f]{7,64}$/.test(sha) || !time) return null;
  return { sha, time };
}
