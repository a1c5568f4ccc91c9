/**
 * The data directory holds the platform's keys (master.key, api.token, agent.token), its
 * database and every release: nobody but the platform's own user may read or change any of it.
 * `secureDataDir` is called first by every entry point that owns a data directory (server,
 * agent, `rollgate up`): it sets the process umask so whatever is created later is private, and
 * takes group and other access off what an older version left readable.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RollgateError } from '../core/errors.js';
import { MASTER_KEY_FILE } from '../engine/secrets/master-key.js';

/** Files created from now on: no group or other access (0600 files, 0700 directories). */
export const PRIVATE_UMASK = 0o077;

export interface DataDirReport {
  dir: string;
  /** Paths whose mode was tightened (created by an older version, or by hand). */
  tightened: string[];
  /** Loud notices for the operator (e.g. the directory was writable by others). */
  warnings: string[];
}

export function secureDataDir(dir: string, opts: { warn?: (message: string) => void } = {}): DataDirReport {
  process.umask(PRIVATE_UMASK);
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true, mode: 0o700 });
  const st = lstatSync(abs);
  const me = process.geteuid?.();
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new RollgateError('invalid_input', `data directory ${abs} is not a directory${st.isSymbolicLink() ? ' (it is a symbolic link)' : ''}; give --data-dir a real directory`);
  }
  if (me !== undefined && st.uid !== me) {
    throw new RollgateError(
      'invalid_input',
      `data directory ${abs} belongs to user id ${st.uid}, not to the user running Rollgate (${me}): its owner could read the keys or replace files; chown it to this user or use another --data-dir`,
    );
  }
  const report: DataDirReport = { dir: abs, tightened: [], warnings: [] };
  if ((st.mode & 0o022) !== 0) {
    report.warnings.push(
      `data directory ${abs} was writable by ${st.mode & 0o002 ? 'every user' : 'its group'} (mode ${octal(st.mode)}); it is now 0700, but check that nothing in it was planted or changed, and rotate the API tokens if in doubt`,
    );
  }
  tighten(abs, me, report, true, join(abs, MASTER_KEY_FILE));
  for (const w of report.warnings) opts.warn?.(w);
  return report;
}

/** Takes group and other bits off every entry the platform's user owns (owner bits are kept, so programs stay executable). */
function tighten(path: string, me: number | undefined, report: DataDirReport, top: boolean, masterKey: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // removed meanwhile (the agent or server may be running)
  }
  // Symbolic links have no mode of their own; entries of other users (e.g. a release handed to an
  // isolated instance user) are managed by whoever handed them over.
  if (st.isSymbolicLink() || (me !== undefined && st.uid !== me)) return;
  const mode = st.mode & 0o7777;
  if (path === masterKey && (mode & 0o077) !== 0) {
    // Not quietly fixed: whoever could read it can decrypt every secret, so the server refuses to
    // start until the operator has looked (engine/secrets/master-key.ts says what to do).
    report.warnings.push(`${path} can be read by other users (mode ${octal(mode)}); the server will not start until it is 0600`);
    return;
  }
  // setuid/setgid/sticky bits have no business in the data directory either. A release handed to
  // an app's isolation group (isolation/os-accounts.ts) keeps that group's read access.
  const sharedWithGroup = !top && process.getegid !== undefined && st.gid !== process.getegid();
  const want = top ? 0o700 : mode & (sharedWithGroup ? 0o750 : 0o700);
  if (mode !== want) {
    chmodSync(path, want);
    report.tightened.push(path);
  }
  if (!st.isDirectory()) return;
  let names: string[];
  try {
    names = readdirSync(path);
  } catch {
    return;
  }
  for (const name of names) tighten(join(path, name), me, report, false, masterKey);
}

function octal(mode: number): string {
  return '0' + (mode & 0o777).toString(8);
}
