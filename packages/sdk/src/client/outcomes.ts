/**
 * Request outcomes per flag variant, for guarded rollouts of apps that are not behind the
 * Rollgate router (behind it, the router counts them itself): the Node middleware records each
 * response's status class and latency against the variants the request was served with; the
 * client reports the increments every second to the server, whose guard judges them like the
 * router's counts (same shape: requests, byClass, cutShort, a cumulative latency histogram).
 * Bounded: at most MAX_OUTCOME_PAIRS (flag, variant) pairs between two reports; more are counted
 * in `droppedPairs`, never kept.
 */

/** The router's latency buckets (ms), so both sources read alike. */
export const OUTCOME_LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);
export const MAX_OUTCOME_PAIRS = 256;

export interface OutcomePair {
  flag: string;
  variant: string;
  requests: number;
  /** '2xx', '3xx', '4xx', '5xx' (and '1xx'). */
  byClass: Record<string, number>;
  /** Responses that ended before they were complete (the connection closed first). */
  cutShort: number;
  latency: { boundsMs: number[]; counts: number[]; sumMs: number; count: number };
}

export interface OutcomeBatch {
  pairs: OutcomePair[];
  droppedPairs: number;
}

/** What the middleware tells about each finished response. */
export interface OutcomeSink {
  recordOutcome(variants: Iterable<readonly [string, string]>, status: number, latencyMs: number, cutShort: boolean): void;
}

interface Counter {
  flag: string;
  variant: string;
  requests: number;
  byClass: Record<string, number>;
  cutShort: number;
  buckets: number[];
  sumMs: number;
}

const bucketOf = (ms: number) => {
  const b = OUTCOME_LATENCY_BOUNDS_MS;
  for (let i = 0; i < b.length; i++) if (ms <= b[i]!) return i;
  return b.length;
};

export class Outcomes implements OutcomeSink {
  private pairs = new Map<string, Counter>();
  private dropped = 0;

  recordOutcome(variants: Iterable<readonly [string, string]>, status: number, latencyMs: number, cutShort: boolean): void {
    const cls = status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
    const ms = Number.isFinite(latencyMs) && latencyMs >= 0 ? latencyMs : 0;
    const bucket = bucketOf(ms);
    for (const [flag, variant] of variants) {
      const key = `${flag}\u0000${variant}`;
      let c = this.pairs.get(key);
      if (!c) {
        if (this.pairs.size >= MAX_OUTCOME_PAIRS) {
          this.dropped++;
          continue;
        }
        c = { flag, variant, requests: 0, byClass: {}, cutShort: 0, buckets: new Array<number>(OUTCOME_LATENCY_BOUNDS_MS.length + 1).fill(0), sumMs: 0 };
        this.pairs.set(key, c);
      }
      c.requests++;
      c.byClass[cls] = (c.byClass[cls] ?? 0) + 1;
      if (cutShort) c.cutShort++;
      c.buckets[bucket]!++;
      c.sumMs += ms;
    }
  }

  /** What was recorded since the last take (null: nothing), and a fresh start. */
  take(): OutcomeBatch | null {
    if (this.pairs.size === 0 && this.dropped === 0) return null;
    const pairs = [...this.pairs.values()].map((c) => {
      let acc = 0;
      const counts = c.buckets.map((n) => (acc += n));
      return { flag: c.flag, variant: c.variant, requests: c.requests, byClass: c.byClass, cutShort: c.cutShort, latency: { boundsMs: [...OUTCOME_LATENCY_BOUNDS_MS], counts, sumMs: c.sumMs, count: c.requests } };
    });
    const out = { pairs, droppedPairs: this.dropped };
    this.pairs = new Map();
    this.dropped = 0;
    return out;
  }

  /** Puts back a batch whose report failed, so no outcome is lost (bounded like recording). */
  restore(batch: OutcomeBatch): void {
    this.dropped += batch.droppedPairs;
    for (const p of batch.pairs) {
      const key = `${p.flag}\u0000${p.variant}`;
      let c = this.pairs.get(key);
      if (!c) {
        if (this.pairs.size >= MAX_OUTCOME_PAIRS) {
          this.dropped++;
          continue;
        }
        c = { flag: p.flag, variant: p.variant, requests: 0, byClass: {}, cutShort: 0, buckets: new Array<number>(OUTCOME_LATENCY_BOUNDS_MS.length + 1).fill(0), sumMs: 0 };
        this.pairs.set(key, c);
      }
      c.requests += p.requests;
      for (const [k, n] of Object.entries(p.byClass)) c.byClass[k] = (c.byClass[k] ?? 0) + n;
      c.cutShort += p.cutShort;
      c.sumMs += p.latency.sumMs;
      // Back from cumulative to per-bucket counts.
      p.latency.counts.forEach((n, i) => (c.buckets[i]! += n - (i > 0 ? p.latency.counts[i - 1]! : 0)));
    }
  }
}
