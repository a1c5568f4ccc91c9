/**
 * Releases: immutable, content-hashed copies of a build, kept by the platform. A release comes
 * from an uploaded tar.gz stream or from a directory on the server (a pipeline's workspace).
 * Either way it is first put into a private incoming folder, checked, hashed, and only then
 * moved into place and recorded.
 */
import { createHash, randomUUID } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, readlink, realpath, rename, rm, stat, symlink } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { ReleaseRecord } from '../core/domain.js';
import { RollgateError, errorMessage } from '../core/errors.js';
import { SKIPPED_NAMES } from '../core/release-files.js';
import type { ArchiveLimits } from '../core/release-limits.js';
import { linkTextInside, removeUnpacked, unpackArchive } from './archive.js';
import type { Store } from '../store/types.js';

/** What is recorded with a release, whatever its files came from. */
export interface ReleaseMeta {
  app: string;
  version?: string | undefined;
  commitSha?: string | undefined;
  commitTime?: string | undefined;
  actor: string;
}

export interface ReleaseUpload extends ReleaseMeta {
  body: Readable;
  limits: ArchiveLimits;
}

export interface ReleaseFromDirectory extends ReleaseMeta {
  /** A directory on the server, e.g. inside a run's workspace. It is copied, never moved. */
  dir: string;
}

export interface ReleaseResult {
  release: ReleaseRecord;
  /** false when a release of that version with identical content already existed. */
  created: boolean;
}

export class Releases {
  constructor(
    private readonly store: Store,
    private readonly dir: string,
  ) {}

  /** A release from a tar.gz stream. */
  async upload(u: ReleaseUpload): Promise<ReleaseResult> {
    return this.create(u, (incoming) => unpackArchive(u.body, incoming, u.limits), {
      where: 'the release directory',
      show: (rel) => rel,
    });
  }

  /** A release from a directory on the server, without a tar round trip. */
  async fromDirectory(d: ReleaseFromDirectory): Promise<ReleaseResult> {
    return this.create(d, async (incoming) => copyTree(await sourceDir(d.dir), incoming, d.dir), {
      where: d.dir,
      show: (rel) => join(d.dir, rel),
    });
  }

  /** The files of `base` as a release of its own, e.g. to roll out changed settings beside it. */
  async copy(base: ReleaseRecord, version: string, actor: string): Promise<ReleaseRecord> {
    const r = await this.fromDirectory({ app: base.app, version, dir: base.artifactDir, commitSha: base.commitSha ?? undefined, commitTime: base.commitTime ?? undefined, actor });
    return r.release;
  }

  /**
   * The one path every release takes: fill a private incoming folder, check its links, hash it,
   * pick the version, keep releases immutable, move it into place and record it.
   */
  private async create(meta: ReleaseMeta, fill: (incoming: string) => Promise<void>, names: LinkNames): Promise<ReleaseResult> {
    if (!(await this.store.getApp(meta.app))) {
      throw new RollgateError('not_found', `unknown app "${meta.app}"; apply a rollgate.yaml that declares it first (rollgate apply)`);
    }
    const incoming = join(this.dir, '.incoming', randomUUID());
    await mkdir(incoming, { recursive: true });
    try {
      await fill(incoming);
      await assertLinksInside(incoming, names);
      const contentHash = await hashTree(incoming);
      const version = meta.version ?? `sha-${contentHash.slice(0, 12)}`;
      const existing = await this.store.getReleaseByVersion(meta.app, version);
      if (existing) {
        if (existing.contentHash !== contentHash) {
          throw new RollgateError('conflict', `release ${version} of "${meta.app}" already exists with other content; releases are immutable, pick a new version`);
        }
        if (existing.prunedAt === null) return { release: existing, created: false };
      }
      const target = join(this.dir, meta.app, `${version}-${contentHash.slice(0, 12)}`);
      await mkdir(join(this.dir, meta.app), { recursive: true });
      await rm(target, { recursive: true, force: true });
      await rename(incoming, target);
      // Pruned earlier: the same content brings its files back under the same record.
      if (existing) return { release: await this.store.restoreRelease(existing.id, target), created: true };
      const release = await this.store.createRelease({
        id: randomUUID(),
        app: meta.app,
        version,
        contentHash,
        artifactDir: target,
        commitSha: meta.commitSha ?? null,
        commitTime: meta.commitTime ?? null,
        createdBy: meta.actor,
      });
      // A concurrent identical release may have won the race; keep its directory, drop ours.
      if (release.artifactDir !== target) await rm(target, { recursive: true, force: true });
      return { release, created: release.artifactDir === target };
    } finally {
      await removeUnpacked(incoming);
    }
  }
}

/** sha256 over every entry's relative path, type, executable bit and content (or link target), in path order. */
export async function hashTree(root: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const p = join(dir, name);
      const rel = relative(root, p).split(sep).join('/');
      const st = await lstat(p);
      if (st.isDirectory()) {
        h.update(`d ${rel}\n`);
        await walk(p);
      } else if (st.isSymbolicLink()) {
        h.update(`l ${rel} ${await readlink(p)}\n`);
      } else if (st.isFile()) {
        h.update(`f ${rel} ${st.mode & 0o111 ? 'x' : '-'} ${st.size}\n`);
        await pipeline(createReadStream(p), async function* (src) {
          for await (const chunk of src) h.update(chunk as Buffer);
          yield* [];
        });
      }
    }
  };
  await walk(root);
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Links

/** How link errors name the release and a link in it (uploads and server directories differ). */
interface LinkNames {
  where: string;
  show: (rel: string) => string;
}

/**
 * Every symlink in the tree must stay inside it: by its text, and where it resolves, by where
 * the system really lands (a link through another link, e.g. `a -> b/..` with `b -> .`, can
 * escape although each text looks inside).
 */
async function assertLinksInside(root: string, names: LinkNames): Promise<void> {
  const realRoot = await realpath(root);
  const walk = async (dir: string): Promise<void> => {
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, ent.name);
      if (ent.isDirectory()) {
        await walk(p);
        continue;
      }
      if (!ent.isSymbolicLink()) continue;
      const rel = relative(root, p);
      const target = await readlink(p);
      let lands: string | null = null;
      if (linkTextInside(rel, target)) {
        const real = await realpath(p).catch(() => null); // dangling: judged by its text alone
        if (real === null || isInside(realRoot, real)) continue;
        lands = relative(realRoot, real);
      }
      const via = lands ? ` (through other links it reaches ${lands})` : '';
      throw new RollgateError('invalid_input', `symlink ${names.show(rel)} -> ${target} leads outside ${names.where}${via}; make it a relative link that stays inside, or copy the file in`);
    }
  };
  await walk(root);
}

function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel));
}

// ---------------------------------------------------------------------------------------------
// Server directories

/** The real path of a release directory given by a pipeline; it must exist and hold something. */
async function sourceDir(dir: string): Promise<string> {
  const st = await stat(dir).catch(() => null);
  if (!st) throw new RollgateError('invalid_input', `release directory ${dir} does not exist; build into it first, or fix the release path`);
  if (!st.isDirectory()) throw new RollgateError('invalid_input', `release directory ${dir} is not a directory; the release path must name the directory that holds the app's files`);
  const root = await realpath(dir);
  if ((await readdir(root)).every((n) => SKIPPED_NAMES.has(n))) {
    throw new RollgateError('invalid_input', `release directory ${dir} is empty; did the build write its output somewhere else?`);
  }
  return root;
}

/**
 * Copies the tree at `from` into `to` as a release holds it: skipped names left out at any
 * depth, links copied as links (judged later, with the copy), no write bits for group/others.
 */
async function copyTree(from: string, to: string, shownAs: string): Promise<void> {
  const walk = async (src: string, dest: string): Promise<void> => {
    for (const ent of await readdir(src, { withFileTypes: true })) {
      if (SKIPPED_NAMES.has(ent.name)) continue;
      const s = join(src, ent.name);
      const d = join(dest, ent.name);
      if (ent.isDirectory()) {
        await mkdir(d, { mode: 0o755 });
        await walk(s, d);
      } else if (ent.isSymbolicLink()) {
        await symlink(await readlink(s), d);
      } else if (ent.isFile()) {
        // A clone where the file system can, a plain copy elsewhere.
        await copyFile(s, d, constants.COPYFILE_FICLONE);
        await chmod(d, (await lstat(s)).mode & 0o755);
      } else {
        throw new RollgateError('invalid_input', `${join(shownAs, relative(from, s))} is not a regular file, directory or symlink (a socket, FIFO or device); remove it from the release directory`);
      }
    }
  };
  try {
    await walk(from, to);
  } catch (e) {
    if (e instanceof RollgateError) throw e;
    // A file changed or vanished while it was read: say so instead of a bare errno.
    throw new RollgateError('invalid_input', `copying release directory ${shownAs} failed (${errorMessage(e)}); retry when nothing is writing to it`);
  }
}
