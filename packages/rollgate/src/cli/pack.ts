/**
 * Checks a release directory and packs it as a gzipped tar stream.
 * The checks run before anything is sent, so a bad directory changes nothing on the server.
 */
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep, dirname } from 'node:path';
import { create } from 'tar';
import { RollgateError, errorMessage } from '../core/errors.js';
import { SKIPPED_NAMES } from '../core/release-files.js';
import { DataDirGuard, platformDirs, type ProtectedDir } from './data-dir-guard.js';

export interface CheckedDir {
  /** Real absolute path of the directory. */
  root: string;
  /** Top-level entries to pack (skipped names removed). */
  entries: string[];
  files: number;
}

export interface CheckOptions {
  /** Directories a release must never be, sit in, contain or link into (default: the platform's, see data-dir-guard.ts). */
  protect?: ProtectedDir[];
}

/**
 * Verifies `dir` is a directory whose symlinks all stay inside it and that ships nothing of the
 * platform's data directory. Throws invalid_input naming the problem.
 */
export async function checkReleaseDir(dir: string, opts: CheckOptions = {}): Promise<CheckedDir> {
  const given = resolve(dir);
  let st;
  try {
    st = await stat(given);
  } catch {
    throw new RollgateError('invalid_input', `--path ${dir} does not exist; give the directory that holds the app's files`);
  }
  if (!st.isDirectory()) throw new RollgateError('invalid_input', `--path ${dir} is not a directory; give the directory that holds the app's files`);
  const root = await realpath(given);
  const guard = new DataDirGuard(opts.protect ?? platformDirs(), (abs) => shown(dir, root, abs));
  guard.checkRoot(root, dir);
  let files = 0;
  const walk = async (abs: string): Promise<void> => {
    const list = await readdir(abs, { withFileTypes: true });
    guard.checkDir(abs, await lstat(abs), list.map((e) => e.name));
    for (const ent of list) {
      if (SKIPPED_NAMES.has(ent.name)) continue;
      const p = join(abs, ent.name);
      if (ent.isSymbolicLink()) {
        await checkLink(root, p, dir);
        guard.checkLink(p, await readlink(p));
        files++;
      } else if (ent.isDirectory()) {
        await walk(p);
      } else if (ent.isFile()) {
        guard.checkFile(p, await lstat(p));
        files++;
      } else {
        throw new RollgateError('invalid_input', `${shown(dir, root, p)} is not a regular file, directory or symlink (a socket, FIFO or device); remove it from the release directory`);
      }
    }
  };
  await walk(root);
  const entries = (await readdir(root)).filter((n) => !SKIPPED_NAMES.has(n)).sort();
  if (entries.length === 0) throw new RollgateError('invalid_input', `--path ${dir} is empty; give the directory that holds the app's files`);
  return { root, entries, files };
}

async function checkLink(root: string, link: string, dir: string): Promise<void> {
  const target = await readlink(link);
  const name = shown(dir, root, link);
  if (isAbsolute(target)) {
    // An absolute target would point at this machine's path, not into the release copy.
    throw new RollgateError('invalid_input', `symlink ${name} points to the absolute path ${target}; a release may only hold relative links that stay inside ${dir}`);
  }
  // Where the system really lands (through any directory links on the way), when the target exists.
  let real: string | null = null;
  try {
    real = await realpath(link);
  } catch {
    real = null; // dangling: judged by its text alone
  }
  const lands = real ?? resolve(dirname(link), target);
  if (!isInside(root, lands)) {
    const via = real !== null && real !== resolve(dirname(link), target) ? ` (it leads to ${real})` : '';
    throw new RollgateError('invalid_input', `symlink ${name} -> ${target} points outside ${dir}${via}; copy the file into the directory or remove the link`);
  }
}

function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

function shown(dir: string, root: string, p: string): string {
  return join(dir, relative(root, p));
}

/** A gzipped tar of the checked directory, produced as it is read (nothing buffered whole). */
export async function* packDir(checked: CheckedDir): AsyncGenerator<Uint8Array> {
  const pack = create(
    {
      gzip: true,
      portable: true,
      cwd: checked.root,
      follow: false,
      // Hardlinked files go as plain copies: the server refuses hardlink entries.
      linkCache: new NoLinks(),
      filter: (path: string) => !path.split('/').some((seg) => SKIPPED_NAMES.has(seg)),
    },
    checked.entries,
  );
  try {
    for await (const chunk of pack) yield chunk as Uint8Array;
  } catch (e) {
    // A file changed or vanished while it was read: say so instead of blaming the network.
    throw new RollgateError('invalid_input', `reading ${checked.root} failed while packing it (${errorMessage(e)}); retry when the directory is not being changed`);
  }
}

/** A link cache that remembers nothing, so tar never writes a hardlink entry. */
class NoLinks extends Map<`${number}:${number}`, string> {
  override set(): this {
    return this;
  }
}
