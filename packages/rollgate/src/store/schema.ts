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
  /** Set once retention removed the files (the row stays for history). */
  pruned_at: string | null;
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

export interface PipelineRunsTable {
  /** Queue order across all runs. */
  seq: Generated<number>;
  id: string;
  pipeline: string;
  app: string;
  spec: string;
  status: string;
  message: string;
  trigger: string;
  source: string;
  version: string | null;
  release_id: string | null;
  release_version: string | null;
  cancel_requested: number;
  created_by: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

export interface PipelineStagesTable {
  run_id: string;
  name: string;
  idx: number;
  kind: string;
  status: string;
  attempt: number;
  message: string;
  started_at: string | null;
  finished_at: string | null;
  waiting_since: string | null;
  result: string | null;
  deployment_id: string | null;
  updated_at: string;
}

export interface PipelineApprovalsTable {
  seq: Generated<number>;
  run_id: string;
  stage: string;
  attempt: number;
  actor: string;
  decision: string;
  reason: string | null;
  at: string;
}

export interface StageLogsTable {
  id: Generated<number>;
  run_id: string;
  stage: string;
  attempt: number;
  stream: string;
  text: string;
  at: string;
}

export interface NotificationDeliveriesTable {
  seq: Generated<number>;
  delivery_id: string;
  attempt: number;
  channel: string;
  kind: string;
  target: string;
  notification_id: string;
  notification: string;
  at: string;
  outcome: string;
  http_status: number | null;
  error: string | null;
  duration_ms: number;
  retry_in_ms: number | null;
  next_attempt_at: string | null;
  resend_of: string | null;
}

import type { AuditTables } from './schema-audit.js';
import type { AuthTables } from './schema-auth.js';
import type { SecretsTables } from './schema-secrets.js';
import type { FlagsTables } from './schema-flags.js';
import type { FlagRolloutTables } from './schema-flag-rollouts.js';
import type { FlagChangeRequestTables } from './schema-flag-change-requests.js';

export interface Database extends AuditTables, AuthTables, SecretsTables, FlagsTables, FlagRolloutTables, FlagChangeRequestTables {
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
  pipeline_runs: PipelineRunsTable;
  pipeline_stages: PipelineStagesTable;
  pipeline_approvals: PipelineApprovalsTable;
  stage_logs: StageLogsTable;
  notification_deliveries: NotificationDeliveriesTable;
}

export type SqlDialect = 'sqlite' | 'postgres';
