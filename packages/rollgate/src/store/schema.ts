/**
 * Table types for Kysely. Columns are snake_case; JSON is stored as text and times as
 * ISO-8601 UTC text so one schema means the same thing on SQLite and PostgreSQL.
 */
import type { Generated } from 'kysely';

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface SpecTable {
  name: string;
  spec: string;
  created_at: string;
  updated_at: string;
}

export interface ReleasesTable {
  /** Insertion order: ties in created_at (same millisecond) still list newest first. */
  seq: Generated<number>;
  id: string;
  app: string;
  version: string;
  content_hash: string;
  artifact_dir: string;
  commit_sha: string | null;
  commit_time: string | null;
  created_at: string;
  created_by: string;
}

export interface DeploymentsTable {
  seq: Generated<number>;
  id: string;
  app: string;
  env: string;
  kind: string;
  release_id: string;
  version: string;
  previous_release_id: string | null;
  previous_version: string | null;
  strategy: string;
  status: string;
  state: string;
  message: string;
  requested_by: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

export interface DeploymentEventsTable {
  id: Generated<number>;
  deployment_id: string;
  at: string;
  kind: string;
  message: string;
  data: string | null;
}

export interface ServiceStateTable {
  app: string;
  env: string;
  current_release_id: string | null;
  previous_release_id: string | null;
  updated_at: string;
}

export interface EventsTable {
  id: Generated<number>;
  at: string;
  type: string;
  app: string | null;
  env: string | null;
  deployment_id: string | null;
  data: string | null;
}

export interface IncidentsTable {
  seq: Generated<number>;
  id: string;
  app: string;
  env: string;
  production: number;
  deployment_id: string | null;
  source: string;
  title: string;
  severity: string;
  status: string;
  opened_at: string;
  resolved_at: string | null;
  resolved_by: string | null;
  resolved_by_deployment_id: string | null;
  resolution: string | null;
  fingerprint: string | null;
  labels: string;
  created_at: string;
  updated_at: string;
}

export interface ChaosExperimentsTable {
  seq: Generated<number>;
  id: string;
  app: string;
  env: string;
  version: string;
  kind: string;
  error_rate: number;
  latency_ms: number;
  status: string;
  started_at: string;
  ends_at: string;
  stopped_at: string | null;
  actor: string;
  detail: string | null;
}

export interface Database {
  settings: SettingsTable;
  apps: SpecTable;
  environments: SpecTable;
  releases: ReleasesTable;
  deployments: DeploymentsTable;
  deployment_events: DeploymentEventsTable;
  service_state: ServiceStateTable;
  events: EventsTable;
  incidents: IncidentsTable;
  chaos_experiments: ChaosExperimentsTable;
}

export type SqlDialect = 'sqlite' | 'postgres';
