/**
 * Runs an async job after a burst of requests, never two at once, and tells each caller when a
 * run that started after its request has finished (so "the router now knows" can be awaited).
 */
export class Coalescer {
  private pending = false;
  private running = false;
  private waiting: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly job: () => void | Promise<void>,
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {}

  /** Schedules a run; resolves when a run started after this call has finished. */
  request(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const p = new Promise<void>((r) => this.waiting.push(r));
    this.kick();
    return p;
  }

  kick(): void {
    if (this.pending || this.closed) return;
    this.pending = true;
    setImmediate(() => void this.loop());
  }

  private async loop(): Promise<void> {
    if (this.running) return; // the active loop sees `pending` and runs again
    this.running = true;
    while (this.pending) {
      this.pending = false;
      const batch = this.waiting;
      this.waiting = [];
      try {
        await this.job();
      } catch (e) {
        this.onError(e);
      }
      for (const r of batch) r();
    }
    this.running = false;
  }

  close(): void {
    this.closed = true;
    this.pending = false;
    for (const r of this.waiting) r();
    this.waiting = [];
  }
}
