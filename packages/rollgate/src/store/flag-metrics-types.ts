/**
 * Flag usage as SDKs report it (store.flagMetrics): per (app, env, flag, variant), counts added
 * up over every report and when the flag was first and last seen evaluated. `flags stale` and
 * the release guard read it; the delivery endpoints write it.
 */
import type { VersionMetrics } from '../core/dataplane.js';

/** One count to add: variant null for the flag's own yes/no, else how often that variant was served (`yes`). */
export interface FlagUsage {
  name: string;
  variant: string | null;
  yes: number;
  no: number;
}

export interface FlagUsageRecord {
  app: string;
  env: string;
  name: string;
  /** null: the flag's own yes/no counts. */
  variant: string | null;
  yes: number;
  no: number;
  firstSeenAt: string;
  lastSeenAt: string;
}

/** One (flag, variant)'s request outcomes from one SDK report: increments, the router's counter shape. */
export interface FlagOutcome {
  flag: string;
  variant: string;
  metrics: VersionMetrics;
}

export interface FlagOutcomeRow extends FlagOutcome {
  /** Increasing with insertion (not always with commit on PostgreSQL: readers look back a little). */
  seq: number;
}

export interface FlagMetricsStore {
  /** Appends one SDK report's outcomes (one transaction). */
  addOutcomes(app: string, env: string, instanceId: string, receivedAt: string, outcomes: readonly FlagOutcome[]): Promise<void>;
  /** Outcomes of (app, env) with seq above `afterSeq`, oldest first, at most `limit`. */
  outcomesAfter(app: string, env: string, afterSeq: number, limit: number): Promise<FlagOutcomeRow[]>;
  /** The highest seq there is (0: none). */
  lastOutcomeSeq(): Promise<number>;
  /** Deletes outcomes received before `before`; returns how many. */
  pruneOutcomes(before: string): Promise<number>;
  /** Adds the counts (one transaction); `seenAt` moves last-seen forward only. */
  addUsage(app: string, env: string, seenAt: string, usage: readonly FlagUsage[]): Promise<void>;
  /** By flag, the flag's own row first, then its variants by name; one flag with `name`. */
  usage(app: string, env?: string, name?: string): Promise<FlagUsageRecord[]>;
}
