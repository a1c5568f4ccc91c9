/**
 * Outlier ejection (circuit breaking), in the manner of Envoy's outlier detection:
 * N consecutive failures (connection failures or 5xx) eject a backend for a time that
 * doubles on each repeat ejection (capped); after it the backend is readmitted on
 * probation, where one failure ejects it again and one success clears the probation.
 * An ejection that would leave a service with no backend at all is refused (Envoy's
 * max ejection percent), so a fully failing service still answers with what it has.
 */

export interface OutlierOptions {
  ejectAfterFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  onBackendState?: ((backendId: string, ejected: boolean, reason: string) => void) | undefined;
}

/** The outlier fields of a backend (kept on the backend object itself: no lookup per request). */
export interface OutlierSubject {
  readonly id: string;
  consecutiveFailures: number;
  ejected: boolean;
  probation: boolean;
  ejections: number;
  lastEjectionEnd: number;
  readmitTimer: NodeJS.Timeout | null;
}

/** Decides whether ejecting a backend still leaves its service something to serve with. */
export interface EjectionGuard {
  canEject(subject: OutlierSubject): boolean;
}

export class OutlierDetector {
  /** Bumped on every ejection or readmission; route tables recompute availability when it moves. */
  epoch = 0;

  constructor(private readonly opts: OutlierOptions) {}

  onSuccess(b: OutlierSubject): void {
    b.consecutiveFailures = 0;
    if (b.probation) b.probation = false;
  }

  onFailure(b: OutlierSubject, guard: EjectionGuard, what: string): void {
    if (b.ejected) return;
    b.consecutiveFailures++;
    if (!b.probation && b.consecutiveFailures < this.opts.ejectAfterFailures) return;
    if (!guard.canEject(b)) return;
    this.eject(b, b.probation ? `failed on probation (${what})` : `${b.consecutiveFailures} consecutive failures (last: ${what})`);
  }

  private eject(b: OutlierSubject, why: string): void {
    const now = Date.now();
    // A backend that stayed healthy longer than the longest ejection starts over at the base time.
    if (b.ejections > 0 && now - b.lastEjectionEnd > this.opts.maxEjectionMs) b.ejections = 0;
    const ms = Math.min(this.opts.baseEjectionMs * 2 ** b.ejections, this.opts.maxEjectionMs);
    b.ejections++;
    b.ejected = true;
    b.probation = false;
    b.consecutiveFailures = 0;
    this.epoch++;
    if (b.readmitTimer) clearTimeout(b.readmitTimer);
    b.readmitTimer = setTimeout(() => this.readmit(b, ms), ms);
    b.readmitTimer.unref();
    this.opts.onBackendState?.(b.id, true, `${why}; ejected for ${ms} ms`);
  }

  private readmit(b: OutlierSubject, ms: number): void {
    b.readmitTimer = null;
    if (!b.ejected) return;
    b.ejected = false;
    b.probation = true;
    b.lastEjectionEnd = Date.now();
    this.epoch++;
    this.opts.onBackendState?.(b.id, false, `readmitted on probation after ${ms} ms`);
  }

  /** Stops the readmission timer of a backend that is gone. */
  forget(b: OutlierSubject): void {
    if (b.readmitTimer) clearTimeout(b.readmitTimer);
    b.readmitTimer = null;
  }
}
