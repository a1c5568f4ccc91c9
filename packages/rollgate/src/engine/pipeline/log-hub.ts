/**
 * Stage logs: every line is written to the store (so `rollgate logs --stage` works after the
 * run, and after a restart), then handed to live followers with its id, so a follower that
 * replays from the store and then listens misses nothing and sees nothing twice. Every line is
 * masked first (known secret values, in every encoding), as instance logs are.
 */
import type { LogStream, StageLogLine } from '../../core/pipeline.js';
import { errorMessage } from '../../core/errors.js';
import type { NewLogLine, Store } from '../../store/types.js';
import type { Logger } from '../logger.js';
import { maskStrings, type MaskText } from '../../core/secret-masker.js';
import { CUT_SUFFIX } from './command.js';

type Follower = (line: StageLogLine) => void;

/** How long lines wait to be written together; followers see them this much later at most. */
const COALESCE_MS = 25;

export class LogHub {
  /** Per (run, stage, attempt): lines not written yet, and the write in flight. */
  private readonly pending = new Map<string, { lines: NewLogLine[]; writing: Promise<void> | null }>();
  private readonly followers = new Map<string, Set<Follower>>();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly mask: MaskText = (text) => text,
  ) {}

  append(runId: string, stage: string, attempt: number, stream: LogStream, texts: string[], at = new Date().toISOString()): void {
    if (texts.length === 0) return;
    const key = `${runId}\u0000${stage}\u0000${attempt}`;
    let p = this.pending.get(key);
    if (!p) this.pending.set(key, (p = { lines: [], writing: null }));
    for (const text of texts) p.lines.push({ stream, text: maskLine(this.mask, text), at });
    // A short wait gathers the lines of a moment into one write (one fsync), off the stage's path.
    if (!p.writing) p.writing = new Promise((r) => setTimeout(r, COALESCE_MS)).then(() => this.drain(key, runId, stage, attempt));
  }

  /** `value` with every string in it masked like a log line (stage messages and results quote output too). */
  masked<T>(value: T): T {
    return maskStrings(value, this.mask);
  }

  /** Resolves once every line appended so far is stored. */
  async flush(): Promise<void> {
    for (;;) {
      const w = [...this.pending.values()].map((p) => p.writing).filter((x): x is Promise<void> => x !== null);
      if (w.length === 0) return;
      await Promise.all(w);
    }
  }

  /** Live lines of a run (all stages); returns the unsubscribe function. */
  follow(runId: string, f: Follower): () => void {
    let set = this.followers.get(runId);
    if (!set) this.followers.set(runId, (set = new Set()));
    set.add(f);
    return () => {
      set.delete(f);
      if (set.size === 0 && this.followers.get(runId) === set) this.followers.delete(runId);
    };
  }

  private async drain(key: string, runId: string, stage: string, attempt: number): Promise<void> {
    const p = this.pending.get(key)!;
    try {
      while (p.lines.length) {
        const batch = p.lines.splice(0, 2000);
        try {
          const stored = await this.store.appendStageLogs(runId, stage, attempt, batch);
          const set = this.followers.get(runId);
          if (set) for (const l of stored) for (const f of set) f(l);
        } catch (e) {
          // The run goes on; its log has a gap, said in the server log.
          this.log.error('could not store stage log lines', { runId, stage, lines: batch.length, error: errorMessage(e) });
        }
      }
    } finally {
      p.writing = null;
      if (p.lines.length) p.writing = this.drain(key, runId, stage, attempt);
      else this.pending.delete(key);
    }
  }
}

/** A line the command cut at the length limit may end in the start of a secret: that goes too. */
export function maskLine(mask: MaskText, text: string): string {
  if (text.endsWith(CUT_SUFFIX)) return mask(text.slice(0, -CUT_SUFFIX.length), { cut: true }) + CUT_SUFFIX;
  return mask(text);
}
