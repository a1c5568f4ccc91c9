/**
 * Evidence from the SDKs (apps behind another proxy than the Rollgate router): the request
 * outcomes @rollgate/sdk's middleware reports (POST /api/client/outcomes, store.flagMetrics),
 * added up per (app, env) into counters that only grow from this reader's first read, the shape
 * the router reports, so the same guard judges them.
 *
 * Rows are read forward by seq. On PostgreSQL a seq can become visible after a higher one (two
 * reports committing out of order), so each read looks back over what arrived in the last
 * LOOK_BACK_MS and skips the rows it has already added.
 */
import { sumMetrics } from '../../core/analysis/counters.js';
import type { FlagMetrics, VersionMetrics } from '../../core/dataplane.js';
import type { FlagMetricsStore } from '../../store/flag-metrics-types.js';
import type { FlagEvidence } from './types.js';

const LOOK_BACK_MS = 10_000;
const READ_LIMIT = 5000;
const MAX_PAIRS = 256;
const PRUNE_EVERY_MS = 60_000;
const KEEP_MS = 3_600_000;

interface Service {
  /** Every row at or below this seq has been added (or was there before the first read). */
  floor: number;
  /** Rows above the floor already added, with when they were first read. */
  seen: Map<number, number>;
  pairs: Map<string, { flag: string; variant: string; metrics: VersionMetrics }>;
  dropped: number;
}

export class SdkEvidence implements FlagEvidence {
  readonly name = 'sdk' as const;
  private readonly services = new Map<string, Service>();
  private prunedAt = 0;

  constructor(
    private readonly store: FlagMetricsStore,
    private readonly now: () => number = Date.now,
  ) {}

  async read(app: string, env: string): Promise<FlagMetrics | undefined> {
    const key = `${app}\u0000${env}`;
    let s = this.services.get(key);
    if (!s) {
      // Counters start at this first read: what was reported before it is not evidence of this guard.
      s = { floor: await this.store.lastOutcomeSeq(), seen: new Map(), pairs: new Map(), dropped: 0 };
      this.services.set(key, s);
    }
    const now = this.now();
    for (;;) {
      const rows = await this.store.outcomesAfter(app, env, s.floor, READ_LIMIT);
      for (const r of rows) {
        if (s.seen.has(r.seq)) continue;
        s.seen.set(r.seq, now);
        const k = `${r.flag}\u0000${r.variant}`;
        const cur = s.pairs.get(k);
        if (cur) cur.metrics = sumMetrics(cur.metrics, r.metrics);
        else if (s.pairs.size < MAX_PAIRS) s.pairs.set(k, { flag: r.flag, variant: r.variant, metrics: r.metrics });
        else s.dropped++;
      }
      this.raiseFloor(s, now);
      if (rows.length < READ_LIMIT) break;
    }
    await this.maybePrune(now);
    if (s.pairs.size === 0) return undefined;
    return { pairs: [...s.pairs.values()].map((p) => ({ ...p, metrics: structuredClone(p.metrics) })), droppedPairs: s.dropped, malformed: 0, appDropped: 0, maxPairs: MAX_PAIRS };
  }

  /** Rows read more than LOOK_BACK_MS ago can no longer have a lower seq still to come: the floor moves past them. */
  private raiseFloor(s: Service, now: number): void {
    let floor = s.floor;
    for (const [seq, at] of s.seen) if (now - at > LOOK_BACK_MS && seq > floor) floor = seq;
    s.floor = floor;
    for (const seq of s.seen.keys()) if (seq <= floor) s.seen.delete(seq);
  }

  private async maybePrune(now: number): Promise<void> {
    if (now - this.prunedAt < PRUNE_EVERY_MS) return;
    this.prunedAt = now;
    await this.store.pruneOutcomes(new Date(now - KEEP_MS).toISOString());
  }
}
