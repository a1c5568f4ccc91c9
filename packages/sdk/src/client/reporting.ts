/**
 * What an SDK instance tells the server about itself, for both clients: its registration at
 * start, and its usage (evaluations per flag and variant) every `intervalMs`, at close, and in a
 * browser when the page is hidden or left; a failed report keeps its counts for the next. `intervalMs` 0: it says nothing.
 */
import type { Transport } from './transport.js';
import { Usage } from './usage.js';

export interface ReportingPaths {
  register: string;
  metrics: string;
  /** The strategies the SDK says it knows (Unleash's registration). */
  strategies?: string[];
}

export class Reporting {
  readonly usage = new Usage();
  private stop: (() => void) | undefined;

  constructor(
    private readonly t: Transport,
    private readonly paths: ReportingPaths,
    private readonly intervalMs: number,
    /** A report failed (the flags are not affected). */
    private readonly onError: (message: string) => void,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.stop) return;
    const stopTimer = this.t.every(this.intervalMs, () => void this.flush());
    const stopPage = onPageHidden(() => void this.flush());
    this.stop = () => {
      stopTimer();
      stopPage();
    };
    void this.t.register(this.paths.register, this.intervalMs, this.paths.strategies).catch((e: unknown) => this.failed(`registration failed: ${messageOf(e)}`));
  }

  /** Reports usage since the last report. */
  async flush(): Promise<void> {
    try {
      await this.t.reportUsage(this.paths.metrics, this.usage);
    } catch (e) {
      this.failed(messageOf(e));
    }
  }

  /** Stops the timer and reports what is left (call after the transport closed: the report outlives it). */
  async close(): Promise<void> {
    this.stop?.();
    if (this.intervalMs > 0) await this.flush();
  }

  private failed(message: string): void {
    if (!this.t.closed) this.onError(message);
  }
}

/**
 * In a browser, calls `fn` when the page is hidden or left (the last moment a report is sure to
 * be sent: a tab closed is never "closed" by the app); elsewhere nothing. Returns the removal.
 */
function onPageHidden(fn: () => void): () => void {
  const g = globalThis as { document?: { visibilityState?: string }; addEventListener?: (type: string, fn: () => void) => void; removeEventListener?: (type: string, fn: () => void) => void };
  if (!g.document || typeof g.addEventListener !== 'function') return () => undefined;
  const hidden = () => {
    if (g.document?.visibilityState === 'hidden') fn();
  };
  g.addEventListener('visibilitychange', hidden);
  g.addEventListener('pagehide', fn);
  return () => {
    g.removeEventListener?.('visibilitychange', hidden);
    g.removeEventListener?.('pagehide', fn);
  };
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
