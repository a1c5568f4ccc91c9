/**
 * Keeps the platform's own keys out of a release. A release directory must not be, sit inside,
 * contain, or link into the data directory (master.key, api.token, agent.token, rollgate.db) or
 * the saved credentials, judged by what the paths really are (real paths, device and inode),
 * never by their names: `--path .` in a project whose data dir is `data/`, a symlink
 * `keys -> ../.rollgate`, a bind mount or a hardlinked master.key are all caught.
 */
import { existsSync, lstatSync, readdirSync, realpathSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { RollgateError } from '../core/errors.js';
import { credentialsPath, DEFAULT_DATA_DIR } from './config.js';

export interface ProtectedDir {
  path: string;
  /** How a refusal names it, e.g. "the platform's data directory". */
  what: string;
}

interface Known extends ProtectedDir {
  real: string;
  id: string;
  /** dev:ino of the files directly inside (the keys), to catch hardlinks to them. */
  files: Map<string, string>;
}

/** Files whose presence together marks a Rollgate data directory wherever it is. */
const KEY_FILE = 'master.key';
const COMPANIONS = ['api.token', 'agent.token', 'rollgate.db'];

/** The directories this CLI knows hold the platform's keys or its credentials. */
export function platformDirs(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ProtectedDir[] {
  const dirs: ProtectedDir[] = [{ path: resolve(cwd, DEFAULT_DATA_DIR), what: "the platform's data directory" }];
  const creds = credentialsPath(env);
  if (creds) dirs.push({ path: dirname(creds), what: 'the directory of your saved Rollgate credentials' });
  return dirs;
}

const idOf = (st: Stats) => `${st.dev}:${st.ino}`;

function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel));
}

export class DataDirGuard {
  private readonly known: Known[] = [];

  constructor(
    dirs: ProtectedDir[],
    /** How refusals name paths: as the user gave them. */
    private readonly shown: (abs: string) => string,
  ) {
    for (const d of dirs) {
      if (!existsSync(d.path)) continue;
      const real = realpathSync(d.path);
      const st = lstatSync(real);
      if (!st.isDirectory()) continue;
      const files = new Map<string, string>();
      for (const ent of readdirSync(real, { withFileTypes: true })) {
        if (ent.isFile()) files.set(idOf(lstatSync(resolve(real, ent.name))), ent.name);
      }
      this.known.push({ ...d, real, id: idOf(st), files });
    }
  }

  /** The release root itself: not a protected directory, nor inside one. */
  checkRoot(root: string, given: string): void {
    for (const k of this.known) {
      if (root === k.real) throw new RollgateError('invalid_input', `--path ${given} is ${k.what} (${k.real}), which holds the platform's keys; give the directory that holds only the app's build output`);
      if (isInside(k.real, root)) throw new RollgateError('invalid_input', `--path ${given} is inside ${k.what} (${k.real}), which holds the platform's keys; give a directory outside it that holds only the app's build output`);
    }
  }

  /** A directory met in the walk (not a skipped name). */
  checkDir(abs: string, st: Stats, entries: string[]): void {
    const k = this.known.find((x) => x.id === idOf(st));
    if (k) throw new RollgateError('invalid_input', `${this.shown(abs)} is ${k.what} (${k.real}); it would ship the platform's keys. Keep the data directory outside the release directory (rollgate up --data-dir elsewhere) or deploy a subdirectory that holds only the app`);
    if (entries.includes(KEY_FILE) && COMPANIONS.some((c) => entries.includes(c))) {
      throw new RollgateError('invalid_input', `${this.shown(abs)} looks like a Rollgate data directory (it holds ${KEY_FILE}); it would ship the platform's keys. Move it out of the release directory, or deploy a subdirectory that holds only the app`);
    }
  }

  /** A regular file met in the walk: not one of the keys under another name (a hardlink). */
  checkFile(abs: string, st: Stats): void {
    for (const k of this.known) {
      const name = k.files.get(idOf(st));
      if (name) throw new RollgateError('invalid_input', `${this.shown(abs)} is the same file as ${resolve(k.real, name)} in ${k.what} (a hardlink); remove it from the release directory`);
    }
  }

  /** A symlink met in the walk, by where it really lands (when it resolves). */
  checkLink(abs: string, target: string): void {
    let real: string;
    try {
      real = realpathSync(abs);
    } catch {
      return; // dangling: nothing to ship through it
    }
    for (const k of this.known) {
      if (isInside(k.real, real)) {
        throw new RollgateError('invalid_input', `symlink ${this.shown(abs)} -> ${target} leads to ${k.what} (${k.real}); remove the link, a release must never reach the platform's keys`);
      }
    }
  }
}
