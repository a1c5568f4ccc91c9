/**
 * Run workspaces: one directory per run under the data dir, holding the source (uploaded or
 * checked out from git) and whatever the stages build in it. Kept after a failed run so a
 * stage can be retried; removed once a run succeeds (its release is a copy of its own).
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { removeUnpacked, unpackArchive } from '../archive.js';
import type { ArchiveLimits } from '../../core/release-limits.js';
import { checkoutInto, type Commit } from './git-source.js';

const RUN_ID_RE = /^[0-9a-f-]{36}$/;

export class Workspaces {
  constructor(readonly root: string) {}

  dir(runId: string): string {
    if (!RUN_ID_RE.test(runId)) throw new Error(`not a run id: ${runId}`);
    return join(this.root, runId);
  }

  async fromArchive(runId: string, body: Readable, limits: ArchiveLimits): Promise<string> {
    const dir = this.dir(runId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await unpackArchive(body, dir, limits, { what: 'pipeline source' });
    } catch (e) {
      await removeUnpacked(dir);
      throw e;
    }
    return dir;
  }

  async fromGit(runId: string, url: string, ref: string): Promise<Commit> {
    const dir = this.dir(runId);
    await rm(dir, { recursive: true, force: true });
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    return checkoutInto(url, ref, dir);
  }

  async exists(runId: string): Promise<boolean> {
    return stat(this.dir(runId)).then(
      (s) => s.isDirectory(),
      () => false,
    );
  }

  async remove(runId: string): Promise<void> {
    await rm(this.dir(runId), { recursive: true, force: true });
  }

  /** Removes workspaces of runs that are not in `keep` (ended long ago, or unknown). */
  async prune(keep: (runId: string) => Promise<boolean>): Promise<number> {
    let n = 0;
    const names = await readdir(this.root).catch(() => [] as string[]);
    for (const name of names) {
      if (!RUN_ID_RE.test(name)) continue;
      if (await keep(name)) continue;
      await rm(join(this.root, name), { recursive: true, force: true });
      n++;
    }
    return n;
  }
}
