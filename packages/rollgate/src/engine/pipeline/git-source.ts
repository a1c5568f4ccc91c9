/**
 * Code for pipeline runs from a git repository: the head commit of a branch (`git ls-remote`,
 * for polling) and a checkout of one ref into a run's workspace (`git clone`, `.git` kept: builds
 * may run `git describe` or read the commit).
 *
 * git runs without a shell, with no terminal prompt (a repository asking for a password fails
 * instead of hanging), under a time limit, with `--` before the repository. URLs and refs that
 * could pass for options are refused, and credentials in a URL never reach a message.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { RollgateError } from '../../core/errors.js';

export interface Commit {
  sha: string;
  /** Committer time, ISO 8601 as git prints it (with offset). */
  time: string;
}

export interface GitSourceOptions {
  /** For the whole operation (default 60 s). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const REF_RE = /^[A-Za-z0-9._/-]{1,200}$/;
const SHA_RE = /^[0-9a-f]{7,64}$/i;
const FULL_SHA_RE = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** `scheme://user:password@host/...` → `scheme://***@host/...`, anywhere in a text. */
export function maskCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@');
}

function checkUrl(url: string): void {
  if (url.length === 0) throw new RollgateError('invalid_input', 'git repository URL is empty; give a git URL or a local path');
  if (url.startsWith('-')) throw new RollgateError('invalid_input', `git repository URL ${JSON.stringify(maskCredentials(url))} starts with "-", which git would read as an option; give a git URL or a path`);
  if (/[\x00-\x1f\x7f]/.test(url)) throw new RollgateError('invalid_input', `git repository URL ${JSON.stringify(maskCredentials(url))} contains control characters`);
}

function checkRef(ref: string, what: string): void {
  if (ref.startsWith('-')) throw new RollgateError('invalid_input', `git ${what} ${JSON.stringify(ref)} starts with "-", which git would read as an option; give a branch, tag or commit`);
  if (!REF_RE.test(ref) || ref.includes('..') || ref.endsWith('/') || ref.endsWith('.lock')) {
    throw new RollgateError('invalid_input', `git ${what} ${JSON.stringify(ref)} is not a valid name; use letters, digits, ".", "_", "-" and "/" (at most 200)`);
  }
}

function gitEnv(): NodeJS.ProcessEnv {
  // The server's own settings (tokens, keys) stay out of git and anything it runs.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ROLLGATE_')));
  env.GIT_TERMINAL_PROMPT = '0';
  env.GCM_INTERACTIVE = 'never';
  // English messages: the kind of failure is told from them.
  env.LC_ALL = 'C';
  if (env.GIT_SSH_COMMAND === undefined && env.GIT_SSH === undefined) env.GIT_SSH_COMMAND = 'ssh -o BatchMode=yes';
  return env;
}

interface GitResult {
  ok: boolean;
  stdout: string;
  /** git's first error line (without "fatal: "), or why it did not finish. */
  problem: string;
}

/** A deadline shared by the git commands of one operation. */
class Budget {
  private readonly end: number;
  constructor(readonly totalMs: number) {
    this.end = Date.now() + totalMs;
  }
  left(): number {
    return Math.max(1, this.end - Date.now());
  }
}

function git(args: string[], budget: Budget, cwd?: string): Promise<GitResult> {
  // ext:: runs arbitrary commands; git refuses it by default, say so regardless of config.
  const full = ['-c', 'protocol.ext.allow=never', ...(cwd === undefined ? [] : ['-C', cwd]), ...args];
  return new Promise((resolve) => {
    execFile('git', full, { env: gitEnv(), timeout: budget.left(), killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      if (!err) {
        resolve({ ok: true, stdout: String(stdout), problem: '' });
        return;
      }
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      let problem: string;
      if (e.killed) problem = `git did not finish within ${budget.totalMs} ms`;
      else if (e.code === 'ENOENT') problem = 'git is not installed on the server (not found on PATH)';
      else problem = firstErrorLine(String(stderr)) ?? e.message;
      resolve({ ok: false, stdout: String(stdout), problem: maskCredentials(problem) });
    });
  });
}

function firstErrorLine(stderr: string): string | null {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const line = lines.find((l) => /^(fatal|error):/i.test(l)) ?? lines[0];
  return line === undefined ? null : line.replace(/^(fatal|error):\s*/i, '');
}

function unreachable(url: string, problem: string): RollgateError {
  return new RollgateError('unavailable', `git repository ${maskCredentials(url)} is unreachable: ${problem}; check the URL and that the server can reach it`);
}

/** Branch names of the repository, a few, for a "does not exist" message (best effort). */
async function someBranches(url: string, budget: Budget): Promise<string> {
  const r = await git(['ls-remote', '--heads', '--', url], budget);
  if (!r.ok) return '';
  const names = r.stdout
    .split('\n')
    .map((l) => l.split('\t')[1]?.replace(/^refs\/heads\//, ''))
    .filter((n): n is string => !!n);
  if (names.length === 0) return '; the repository has no branches';
  return `; branches: ${names.slice(0, 10).join(', ')}${names.length > 10 ? `, … (${names.length})` : ''}`;
}

/** The commit a branch of the repository points to, via `git ls-remote`. */
export async function remoteHead(url: string, branch: string, opts: GitSourceOptions = {}): Promise<string> {
  checkUrl(url);
  checkRef(branch, 'branch');
  const name = branch.startsWith('refs/heads/') ? branch : `refs/heads/${branch}`;
  const budget = new Budget(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const r = await git(['ls-remote', '--', url, name], budget);
  if (!r.ok) throw unreachable(url, r.problem);
  // The pattern matches by suffix (refs/heads/x/main matches "main"): keep the exact name only.
  for (const line of r.stdout.split('\n')) {
    const [sha, ref] = line.trim().split('\t');
    if (ref === name && sha && SHA_RE.test(sha)) return sha;
  }
  throw new RollgateError('not_found', `branch "${branch}" does not exist in git repository ${maskCredentials(url)}${await someBranches(url, budget)}`);
}

async function dirState(dir: string): Promise<'missing' | 'empty' | 'used'> {
  try {
    return (await readdir(dir)).length === 0 ? 'empty' : 'used';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
}

/** The commit `ref` names in a fresh clone: a branch, a tag, a commit, or anything the remote can send. */
async function resolveRef(dir: string, url: string, ref: string, budget: Budget): Promise<string | null> {
  const candidates = ref.startsWith('refs/heads/')
    ? [`refs/remotes/origin/${ref.slice('refs/heads/'.length)}`]
    : ref.startsWith('refs/')
      ? [ref]
      : [`refs/remotes/origin/${ref}`, `refs/tags/${ref}`, ...(SHA_RE.test(ref) ? [ref] : [])];
  for (const c of candidates) {
    const r = await git(['rev-parse', '--verify', '--quiet', `${c}^{commit}`], budget, dir);
    if (r.ok) return r.stdout.trim();
  }
  // Not among the branches and tags a clone brings (a commit on no branch, refs/pull/…): ask for it.
  const f = await git(['fetch', '--quiet', '--no-tags', '--', 'origin', ref], budget, dir);
  if (!f.ok) {
    if (/couldn't find remote ref|not our ref|no such remote ref|not a valid object|unadvertised object/i.test(f.problem)) return null;
    throw unreachable(url, f.problem);
  }
  const h = await git(['rev-parse', '--verify', '--quiet', 'FETCH_HEAD^{commit}'], budget, dir);
  return h.ok ? h.stdout.trim() : null;
}

/**
 * Clones the repository into `dir` (missing or empty) and detaches at `ref` (branch, tag or
 * commit sha). On failure `dir` is left as it was found.
 */
export async function checkoutInto(url: string, ref: string, dir: string, opts: GitSourceOptions = {}): Promise<Commit> {
  checkUrl(url);
  checkRef(ref, 'ref');
  const state = await dirState(dir);
  if (state === 'used') throw new RollgateError('conflict', `cannot check out ${maskCredentials(url)} into ${dir}: the directory is not empty`);
  const budget = new Budget(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    const c = await git(['clone', '--quiet', '--no-checkout', '--', url, dir], budget);
    if (!c.ok) throw unreachable(url, c.problem);
    const sha = await resolveRef(dir, url, ref, budget);
    if (sha === null || !FULL_SHA_RE.test(sha)) {
      throw new RollgateError('not_found', `"${ref}" is not a branch, tag or commit of git repository ${maskCredentials(url)}${await someBranches(url, budget)}`);
    }
    const co = await git(['checkout', '--quiet', '--detach', sha], budget, dir);
    if (!co.ok) throw new RollgateError('internal', `checking out ${sha} of ${maskCredentials(url)} in ${dir} failed: ${co.problem}`);
    const log = await git(['log', '-1', '--format=%H %cI', sha, '--'], budget, dir);
    const [logSha, time] = log.stdout.trim().split(' ');
    if (!log.ok || logSha !== sha || !time) throw new RollgateError('internal', `reading commit ${sha} in ${dir} failed: ${log.problem || 'unexpected output'}`);
    return { sha, time };
  } catch (e) {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    if (state === 'empty') await mkdir(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}
