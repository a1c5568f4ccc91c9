/** Exponential restart backoff: initial, doubling, capped; reset once an instance has stayed ready a while. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** An instance ready at least this long before it crashed starts again from `initialMs`. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000, resetAfterMs: 10_000 };

export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {}

  /** Delay before the next restart; each call doubles the following one. */
  next(): number {
    const ms = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return ms;
  }

  /** Forget past failures if the instance was ready for `resetAfterMs` (pass how long it was). */
  noteReadyFor(ms: number): void {
    if (ms >= this.opts.resetAfterMs) this.attempt = 0;
  }

  reset(): void {
    this.attempt = 0;
  }
}
