/**
 * Releases: immutable, content-hashed copies of a build, kept by the platform. An upload is a
 * tar.gz stream; it is unpacked into a private incoming folder, checked, hashed, and only then
 * moved into place and recorded.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename, rm } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import * as tar from 'tar';
import type { ReleaseRecord } from '../core/domain.js';
import { RollgateError } from '../core/errors.js';
import type { Store } from '../store/types.js';

export interface ReleaseUpload {
  app: string;
  version?: string | undefined;
  commitSha?: string | undefined;
  commitTime?: string | undefined;
  actor: string;
  body: Readable;
  maxBytes: number;
}

export class Releases {
  constructor(
    private readonly store: Store,
    private readonly dir: string,
  ) {}

  /** Returns the release and whether it was new (false when identical content already existed). */
  async upload(u: ReleaseUpload): Promise<{ release: ReleaseRecord; created: boolean }> {
    if (!(await this.store.getApp(u.app))) {
      throw new RollgateError('not_found', `unknown app "${u.app}"; apply a rollgate.yaml that declares it first (rollgate apply)`);
    }
    const incoming = join(this.dir, '.incoming', randomUUID());
    await mkdir(incoming, { recursive: true });
    try {
      await this.unpack(u.body, incoming, u.maxBytes);
      const contentHash = await hashTree(incoming);
      const version = u.version ?? `sha-${contentHash.slice(0, 12)}`;
      const existing = await this.store.getReleaseByVersion(u.app, version);
      if (existing) {
        if (existing.contentHash !== contentHash) {
          throw new RollgateError('conflict', `release ${version} of "${u.app}" already exists with other content; releases are immutable, pick a new version`);
        }
        return { release: existing, created: false };
      }
      const target = join(this.dir, u.app, `${version}-${contentHash.slice(0, 12)}`);
      await mkdir(join(this.dir, u.app), { recursive: true });
      await rm(target, { recursive: true, force: true });
      await rename(incoming, target);
      const release = await this.store.createRelease({
        id: randomUUID(),
        app: u.app,
        version,
        contentHash,
        artifactDir: target,
        commitSha: u.commitSha ?? null,
        commitTime: u.commitTime ?? null,
        createdBy: u.actor,
      });
      // A concurrent identical upload may have won the race; keep its directory, drop ours.
      if (release.artifactDir !== target) await rm(target, { recursive: true, force: true });
      return { release, created: release.artifactDir === target };
    } finally {
      await rm(incoming, { recursive: true, force: true });
    }
  }

  private async unpack(body: Readable, into: string, maxBytes: number): Promise<void> {
    let bytes = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > maxBytes) cb(new RollgateError('payload_too_large', `release upload is larger than ${Math.round(maxBytes / 1048576)} MiB; leave build caches out of the release directory`));
        else cb(null, chunk);
      },
    });
    let bad: RollgateError | null = null;
    const extract = tar.x({
      cwd: into,
      strict: true,
      preservePaths: false,
      filter: (path, entry) => {
        const e = entry as tar.ReadEntry;
        const target = normalize(path);
        if (isAbsolute(target) || target.split(sep).includes('..')) {
          bad ??= new RollgateError('invalid_input', `release archive entry "${path}" points outside the release directory; remove it`);
          return false;
        }
        if (e.type === 'SymbolicLink' || e.type === 'Link') {
          const link = e.linkpath ?? '';
          const resolved = normalize(join(target, '..', link));
          if (isAbsolute(link) || resolved.split(sep)[0] === '..') {
            bad ??= new RollgateError('invalid_input', `link "${path}" -> "${link}" leads outside the release directory; make it relative and inside, or copy the file in`);
            return false;
          }
        }
        return e.type === 'File' || e.type === 'OldFile' || e.type === 'Directory' || e.type === 'SymbolicLink' || e.type === 'ContiguousFile';
      },
    });
    try {
      await pipeline(body, limit, extract);
    } catch (e) {
      if (e instanceof RollgateError) throw e;
      throw new RollgateError('invalid_input', `release upload is not a readable tar.gz archive: ${(e as Error).message}`);
    }
    if (bad) throw bad;
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
