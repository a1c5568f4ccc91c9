/**
 * The flag scheduler: one loop per server for rollout steps and scheduled changes. It sleeps until
 * the earliest time due in the store (never longer than `maxWaitMs`, so what another server
 * started is found too), or until woken by a command of this server. Time comes from the records
 * (`next_step_at`, `at`), never from memory, so a restarted server resumes at the right step; each
 * step is claimed by compare and set on the rollout's step count (flags/rollouts.ts), so with
 * several servers on one database each step is applied once.
 */
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../engine/logger.js';
import type { Store } from '../store/types.js';
import type { FlagRollouts } from './rollouts.js';
import type { FlagSchedules } from './schedules.js';

export interface FlagSchedulerDeps {
  store: Store;
  log?: Logger | undefined;
  now?: () => number;
  /** Longest sleep between two looks at the store (default 1s). */
  maxWaitMs?: number;
}

export class FlagScheduler {
  rollouts: FlagRollouts | null = null;
  schedules: FlagSchedules | null = null;
  private readonly now: () => number;
  private readonly maxWaitMs: number;
  private wakeFn: (() => void) | null = null;
  private woken = false;
  private stopped = true;
  private loop: Promise<void> | null = null;

  constructor(private readonly d: FlagSchedulerDeps) {
    this.now = d.now ?? Date.now;
    this.maxWaitMs = d.maxWaitMs ?? 1000;
  }

  start(rollouts: FlagRollouts, schedules: FlagSchedules): void {
    this.rollouts = rollouts;
    this.schedules = schedules;
    if (this.loop) return;
    this.stopped = false;
    this.loop = this.run();
  }

  /** Something may be due sooner than the loop thinks: look now. */
  wake = (): void => {
    this.woken = true;
    this.wakeFn?.();
  };

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
    this.loop = null;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.woken = false;
      let waitMs = this.maxWaitMs;
      try {
        waitMs = await this.tick();
      } catch (e) {
        // The store is unreachable or a step failed for a reason a retry may fix: look again soon.
        this.d.log?.warn('flag scheduler tick failed; retrying', { error: errorMessage(e) });
      }
      if (this.stopped) break;
      await this.sleep(waitMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.woken || ms <= 0) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeFn = done;
    }).then(() => {
      this.wakeFn = null;
    });
  }

  /** Applies everything due; returns how long to sleep until the next thing is. */
  private async tick(): Promise<number> {
    const q = this.d.store.flags.rollouts;
    const at = new Date(this.now()).toISOString();
    for (const r of await q.dueRollouts(at)) {
      if (this.stopped) return 0;
      await this.rollouts!.applyStep(r);
    }
    for (const s of await q.dueSchedules(at)) {
      if (this.stopped) return 0;
      await this.schedules!.apply(s);
    }
    const next = await q.nextDue();
    if (next === null) return this.maxWaitMs;
    return Math.max(0, Math.min(this.maxWaitMs, Date.parse(next) - this.now()));
  }
}
