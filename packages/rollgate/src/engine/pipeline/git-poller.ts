/**
 * Starts runs from new commits: polls the branch of every pipeline with `source.git.poll`
 * (`git ls-remote`, no clone) and remembers the last commit it saw in the store, so a restart
 * neither misses a commit pushed meanwhile nor releases one twice. The first look at a branch
 * only records where it is: applying a spec does not release by itself.
 */
import { errorMessage } from '../../core/errors.js';
import { parseDuration } from '../../core/duration.js';
import type { Store } from '../../store/types.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { PipelineCatalog } from './catalog.js';
import { remoteHead } from './git-source.js';
import type { Pipelines } from './pipelines.js';

const seenKey = (pipeline: string) => `pipeline.${pipeline}.git.seen`;

export class GitPoller {
  private timer: NodeJS.Timeout | null = null;
  private readonly due = new Map<string, number>();
  private readonly lastError = new Map<string, string>();
  private busy = false;
  private closed = false;

  constructor(
    private readonly d: { store: Store; catalog: PipelineCatalog; pipelines: Pipelines; events: EventBus; log: Logger; now?: () => number },
  ) {}

  start(): void {
    if (this.closed) return;
    this.timer = setInterval(() => void this.pollDue(), 250);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** Looks at every pipeline whose poll interval has passed. */
  async pollDue(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      const now = (this.d.now ?? Date.now)();
      for (const [name, spec] of Object.entries(await this.d.catalog.all())) {
        const git = spec.source?.git;
        if (!git?.poll) continue;
        if ((this.due.get(name) ?? 0) > now) continue;
        this.due.set(name, now + parseDuration(git.poll));
        await this.pollOne(name, git.url, git.branch);
      }
    } catch (e) {
      this.d.log.warn('git polling failed', { error: errorMessage(e) });
    } finally {
      this.busy = false;
    }
  }

  /** Returns the run started, if the branch moved. */
  async pollOne(pipeline: string, url: string, branch: string): Promise<string | null> {
    let head: string;
    try {
      head = await remoteHead(url, branch);
    } catch (e) {
      const msg = errorMessage(e);
      // Said once per distinct problem, not every few seconds.
      if (this.lastError.get(pipeline) !== msg) {
        this.lastError.set(pipeline, msg);
        this.d.log.warn('git source unreachable', { pipeline, error: msg });
        await this.d.events.emit({ type: 'pipeline.source.error', data: { pipeline, error: msg } });
      }
      return null;
    }
    this.lastError.delete(pipeline);
    const key = seenKey(pipeline);
    const seen = await this.d.store.getSetting(key);
    if (seen === head) return null;
    await this.d.store.setSetting(key, head);
    if (seen === null) return null;
    const run = await this.d.pipelines.start({ pipeline, source: { kind: 'git', ref: head }, trigger: 'git-poll', actor: `git-poll:${pipeline}` });
    this.d.log.info('new commit: pipeline run started', { pipeline, commit: head, runId: run.id });
    return run.id;
  }
}
