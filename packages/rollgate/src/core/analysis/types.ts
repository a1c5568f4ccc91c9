/** Shared types of the analysis judge. */

/** `inconclusive`: not enough evidence either way (yet), e.g. too little traffic. */
export type Verdict = 'pass' | 'fail' | 'inconclusive';

export type Detail = number | string | boolean | null;

/** One metric's verdict with the numbers behind it, as shown by `rollgate status` and events. */
export interface MetricVerdict {
  metric: string;
  verdict: Verdict;
  /**
   * True when the verdict can no longer change during this analysis: every `fail`, and an
   * `inconclusive` past its limit. A non-final `pass` means "pass so far"; a non-final
   * `inconclusive` means "not enough data yet, keep watching".
   */
  final: boolean;
  /** One sentence a user can read: what was compared and why this verdict. */
  reason: string;
  /** The headline value for each side (error rate as a fraction, latency in ms, a measured value). */
  canary: number | null;
  stable: number | null;
  /** Counts, bounds, statistics, thresholds: everything needed to re-check the verdict by hand. */
  details: Record<string, Detail>;
}

/** Requests and failed requests of one version over some interval. */
export interface Counts {
  requests: number;
  errors: number;
}

/**
 * Latency histogram as per-bucket (non-cumulative) counts. `counts[i]` is the number of
 * requests with `boundsMs[i-1] < latency <= boundsMs[i]`; the extra last entry is +Inf.
 */
export interface Buckets {
  boundsMs: readonly number[];
  counts: readonly number[];
}
