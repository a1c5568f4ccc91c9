/** Table types of the feature-flag tables (migration 0009). JSON is text, times ISO-8601 UTC text. */
import type { Generated } from 'kysely';

export interface FlagsTable {
  app: string;
  name: string;
  kind: string;
  owner: string | null;
  description: string;
  /** Days the flag is expected to live; null: permanent. */
  lifetime_days: number | null;
  archived_at: string | null;
  archived_by: string | null;
  created_at: string;
  created_by: string;
  updated_at: string;
}

/** A flag's rules in one environment: the Unleash Feature's state fields as JSON. */
export interface FlagStatesTable {
  app: string;
  env: string;
  name: string;
  feature: string;
  updated_at: string;
  updated_by: string;
}

export interface FlagSegmentsTable {
  app: string;
  env: string;
  id: number;
  name: string | null;
  /** JSON array of Constraint. */
  constraints: string;
  updated_at: string;
  updated_by: string;
}

export interface FlagRevisionsTable {
  app: string;
  env: string;
  revision: number;
  updated_at: string;
}

export interface FlagKeysTable {
  id: string;
  app: string;
  env: string;
  kind: string;
  name: string;
  prefix: string;
  hash: string;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  revoked_by: string | null;
}

/** SDK-reported usage per (app, env, flag, variant) (migration 0010; variant '' is the flag's yes/no). */
export interface FlagMetricsTable {
  app: string;
  env: string;
  name: string;
  variant: string;
  yes: number | string | bigint;
  no: number | string | bigint;
  first_seen_at: string;
  last_seen_at: string;
}

/** SDK-reported request outcomes per flag variant (migration 0013); metrics is a VersionMetrics-like JSON increment. */
export interface FlagOutcomesTable {
  seq: Generated<number>;
  app: string;
  env: string;
  flag: string;
  variant: string;
  instance_id: string;
  received_at: string;
  metrics: string;
}

export interface FlagsTables {
  flags: FlagsTable;
  flag_states: FlagStatesTable;
  flag_segments: FlagSegmentsTable;
  flag_revisions: FlagRevisionsTable;
  flag_keys: FlagKeysTable;
  flag_metrics: FlagMetricsTable;
  flag_outcomes: FlagOutcomesTable;
}
