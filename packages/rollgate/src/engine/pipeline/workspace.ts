/**
 * Run workspaces: one directory per run under the data dir, holding the source (uploaded or
 * checked out from git) and whatever the stages build in it. Kept after a failed run so a
 * stage can be retried; removed once a run succeeds (its release is a copy of its own).
 * Beside each, `<run>.home`: the HOME of the run's commands (caches, tool settings), outside the
 * workspace so that nothing a tool keeps there is taken for the project's files.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { removeUnpacked, unpackArchive } from '../archive.js';
import type { ArchiveLimits } from '../../core/release-limits.js';
import { checkoutInto, type Commit } from './git-source.js';

const RUN_ID_RE = /^[0-9a-f-]{36}$/;
const HOME_SUFFIX = '.home';

export class Workspaces {
  constructor(readonly root: string) {}

  dir(runId: string): string {
    if (!RUN_ID_RE.test(runId)) throw new Error(`not a run id: ${runId}`);
    return join(this.root, runId);
  }

  /** HOME of the run's commands: its own, never the server's. */
  home(runId: string): string {
    return `${this.dir(runId)}${HOME_SUFFIX}`;
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
    await rm(this.home(runId), { recursive: true, force: true });
  }

  /**
   * Removes workspaces of runs that are not in `keep` (ended long ago, or unknown). With
   * `touchedBefore` (epoch ms), a directory changed since then is left alone: it may be the
   * workspace of a run being created right now, filled before its run is recorded.
   */
  async prune(keep: (runId: string) => Promise<boolean>, opts: { touchedBefore?: number } = {}): Promise<number> {
    let n = 0;
    const names = await readdir(this.root).catch(() => [] as string[]);
    for (const name of names) {
      const home = name.endsWith(HOME_SUFFIX);
      const runId = home ? name.slice(0, -HOME_SUFFIX.length) : name;
      if (!RUN_ID_RE.test(runId)) continue;
      if (await keep(runId)) continue;
      if (opts.touchedBefore !== undefined) {
        const st = await stat(join(this.root, name)).catch(() => null);
        if (!st || st.mtimeMs >= opts.touchedBefore) continue;
      }
      await rm(join(this.root, name), { recursive: true, force: true });
      if (!home) n++;
    }
    return n;
  }
}
