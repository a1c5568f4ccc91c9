/**
 * Flag usage as SDKs report it (store.flagMetrics): per (app, env, flag, variant), counts added
 * up over every report and when the flag was first and last seen evaluated. `flags stale` and
 * the release guard read it; the delivery endpoints write it.
 */

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

export interface FlagMetricsStore {
  /** Adds the counts (one transaction); `seenAt` moves last-seen forward only. */
  addUsage(app: string, env: string, seenAt: string, usage: readonly FlagUsage[]): Promise<void>;
  /** By flag, the flag's own row first, then its variants by name; one flag with `name`. */
  usage(app: string, env?: string, name?: string): Promise<FlagUsageRecord[]>;
}
