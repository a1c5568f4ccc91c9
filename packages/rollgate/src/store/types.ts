/**
 * The one typed query layer over SQLite and PostgreSQL. Every implementation passes the
 * shared suite in test/store.suite.ts.
 */
import type {
  AppRecord,
  DeploymentEventRecord,
  DeploymentRecord,
  DeploymentStatus,
  EnvironmentRecord,
  EventRecord,
  ReleaseRecord,
  ServiceStateRecord,
} from '../core/domain.js';
import type {
  ChaosFilter,
  ChaosPatch,
  ChaosRecord,
  IncidentFilter,
  IncidentRecord,
  IncidentResolution,
  NewIncident,
} from '../core/incidents.js';
import type { ApprovalRecord, LogStream, PipelineRunRecord, RunSource, RunStatus, StageLogLine, StageRecord, StageStatus } from '../core/pipeline.js';
import type { DeliveryAttempt, DeliveryFilter } from '../notify/delivery-log.js';
import type { AuditStore } from './audit-types.js';
import type { AuthStore } from './auth-types.js';
import type { SecretsStore } from './secrets-types.js';
import type { FlagsStore } from './flags-types.js';
import type { FlagMetricsStore } from './flag-metrics-types.js';

export interface NewEvent {
  type: string;
  app?: string | null;
  env?: string | null;
  deploymentId?: string | null;
  data?: unknown;
}

export interface DeploymentPatch {
  status?: DeploymentStatus;
  state?: DeploymentRecord['state'];
  message?: string;
  startedAt?: string | null;
  finishedAt?: string | null;
}

export type NewRun = Omit<PipelineRunRecord, 'seq' | 'createdAt' | 'updatedAt' | 'startedAt' | 'finishedAt' | 'releaseId' | 'releaseVersion' | 'cancelRequested' | 'status' | 'message'>;
export type NewStage = Pick<StageRecord, 'name' | 'index' | 'kind'>;

export interface RunPatch {
  status?: RunStatus;
  /** Filled in once a git source is checked out (commit sha and time). */
  source?: RunSource;
  message?: string;
  releaseId?: string | null;
  releaseVersion?: string | null;
  cancelRequested?: boolean;
  startedAt?: string | null;
  finishedAt?: string | null;
}

export interface StagePatch {
  status?: StageStatus;
  attempt?: number;
  message?: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  waitingSince?: string | null;
  result?: unknown;
  deploymentId?: string | null;
}

export interface RunFilter {
  pipeline?: string | undefined;
  app?: string | undefined;
  status?: RunStatus | undefined;
  /** Newest first; default 100. */
  limit?: number | undefined;
}

export interface NewLogLine {
  stream: LogStream;
  text: string;
  at: string;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** The audit trail (append-only, hash-chained). */
  readonly audit: AuditStore;
  /** Users, roles, API tokens, browser sessions, login attempts. */
  readonly auth: AuthStore;
  /** Encrypted secrets (ciphertext only; the store never sees a value). */
  readonly secrets: SecretsStore;
  /** Feature flags: metadata per app, state and segments per (app, env), revisions, SDK keys. */
  readonly flags: FlagsStore;
  /** Flag usage as SDKs report it (counts and last-seen per flag and variant). */
  readonly flagMetrics: FlagMetricsStore;

  /** Applies pending migrations (idempotent). */
  migrate(): Promise<void>;
  close(): Promise<void>;

  // settings (small key/value facts, e.g. the generated API token hash)
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;

  // apps and environments (spec as last applied)
  upsertApp(name: string, spec: unknown): Promise<AppRecord>;
  getApp(name: string): Promise<AppRecord | null>;
  listApps(): Promise<AppRecord[]>;
  upsertEnvironment(name: string, spec: unknown): Promise<EnvironmentRecord>;
  getEnvironment(name: string): Promise<EnvironmentRecord | null>;
  listEnvironments(): Promise<EnvironmentRecord[]>;

  // releases (immutable)
  /** Inserts a release; throws RollgateError('conflict') when (app, version) exists with another content hash. */
  createRelease(r: Omit<ReleaseRecord, 'createdAt' | 'prunedAt'>): Promise<ReleaseRecord>;
  getRelease(id: string): Promise<ReleaseRecord | null>;
  getReleaseByVersion(app: string, version: string): Promise<ReleaseRecord | null>;
  /** Newest first, pruned ones included. */
  listReleases(app: string, limit?: number): Promise<ReleaseRecord[]>;
  /** Marks a kept release pruned; false when it already was (or does not exist). */
  markReleasePruned(id: string): Promise<boolean>;
  /** Keeps a pruned release again, its files (same content) back at `artifactDir`. */
  restoreRelease(id: string, artifactDir: string): Promise<ReleaseRecord>;

  // deployments
  /**
   * Inserts a deployment. Throws RollgateError('deployment_in_progress') naming the active
   * one when (app, env) already has a deployment in an active status; atomic under concurrency.
   */
  createDeployment(d: Omit<DeploymentRecord, 'createdAt' | 'updatedAt'>): Promise<DeploymentRecord>;
  getDeployment(id: string): Promise<DeploymentRecord | null>;
  /** The active (pending/progressing/paused) deployment of a service, if any. */
  getActiveDeployment(app: string, env: string): Promise<DeploymentRecord | null>;
  /** Every active deployment (the executor resumes these on start). */
  listActiveDeployments(): Promise<DeploymentRecord[]>;
  listDeployments(filter: { app?: string; env?: string; limit?: number }): Promise<DeploymentRecord[]>;
  updateDeployment(id: string, patch: DeploymentPatch): Promise<DeploymentRecord>;

  // deployment timeline
  addDeploymentEvent(deploymentId: string, kind: string, message: string, data?: unknown): Promise<DeploymentEventRecord>;
  listDeploymentEvents(deploymentId: string): Promise<DeploymentEventRecord[]>;

  // what serves per service
  getServiceState(app: string, env: string): Promise<ServiceStateRecord | null>;
  setServiceState(app: string, env: string, currentReleaseId: string | null, previousReleaseId: string | null): Promise<void>;
  listServiceStates(): Promise<ServiceStateRecord[]>;

  // platform event stream
  appendEvent(e: NewEvent): Promise<EventRecord>;
  /** Events with id > afterId, oldest first. */
  listEvents(afterId: number, limit?: number): Promise<EventRecord[]>;
  /** The newest `limit` events with id > afterId, oldest first (a bounded replay's window). */
  listLatestEvents(afterId: number, limit: number): Promise<EventRecord[]>;

  // incidents
  /**
   * Opens an incident, idempotently: when the deployment already has an incident, or the
   * fingerprint an open incident of the same source, that one is returned with created=false
   * (atomic under concurrency). Throws RollgateError('conflict') when the id is taken.
   */
  createIncident(i: NewIncident): Promise<{ incident: IncidentRecord; created: boolean }>;
  getIncident(id: string): Promise<IncidentRecord | null>;
  /** Newest first; at most `limit` (default 100). */
  listIncidents(filter: IncidentFilter): Promise<IncidentRecord[]>;
  /**
   * Resolves an open incident. changed=false when it was already resolved (it is returned as it
   * is); null when there is no such incident.
   */
  resolveIncident(id: string, r: IncidentResolution): Promise<{ incident: IncidentRecord; changed: boolean } | null>;

  // chaos experiments
  /** Throws RollgateError('conflict') when the version already has an active fault, or the id is taken. */
  createChaos(c: ChaosRecord): Promise<ChaosRecord>;
  getChaos(id: string): Promise<ChaosRecord | null>;
  /** Newest first; at most `limit` (default 100). */
  listChaos(filter: ChaosFilter): Promise<ChaosRecord[]>;
  /** Patches an experiment only while it is active; null when it is not (any more). */
  updateActiveChaos(id: string, patch: ChaosPatch): Promise<ChaosRecord | null>;
  /** Marks the active experiments of a service (one version, or all) stopped; returns those it changed. */
  stopActiveChaos(app: string, env: string, version: string | null, at: string, detail: string): Promise<ChaosRecord[]>;
  /** Marks active experiments whose endsAt is at or before `now` expired; returns those it changed. */
  expireChaos(now: string): Promise<ChaosRecord[]>;

  // pipeline runs
  /** Inserts a run (status queued) and its stages (status pending, attempt 0) in one transaction. */
  createRun(run: NewRun, stages: NewStage[]): Promise<PipelineRunRecord>;
  getRun(id: string): Promise<PipelineRunRecord | null>;
  listRuns(filter: RunFilter): Promise<PipelineRunRecord[]>;
  /** Runs queued, running or waiting, oldest (lowest seq) first. */
  listActiveRuns(): Promise<PipelineRunRecord[]>;
  updateRun(id: string, patch: RunPatch): Promise<PipelineRunRecord>;
  /** The run's stages in pipeline order. */
  listStages(runId: string): Promise<StageRecord[]>;
  updateStage(runId: string, name: string, patch: StagePatch): Promise<StageRecord>;

  /** Records a decision; throws RollgateError('conflict') when this actor already decided on this attempt of the stage. */
  addApproval(a: Omit<ApprovalRecord, 'at'>): Promise<ApprovalRecord>;
  /** Oldest first; only the given attempt when set. */
  listApprovals(runId: string, stage?: string, attempt?: number): Promise<ApprovalRecord[]>;

  /** Appends lines in the given order; returns them with their ids. */
  appendStageLogs(runId: string, stage: string, attempt: number, lines: NewLogLine[]): Promise<StageLogLine[]>;
  /** Lines with id > afterId, oldest first, at most `limit` (default 1000). */
  listStageLogs(runId: string, filter: { stage?: string | undefined; attempt?: number | undefined; afterId?: number | undefined; limit?: number | undefined }): Promise<StageLogLine[]>;

  // notification delivery log (one row per attempt)
  recordDelivery(a: DeliveryAttempt): Promise<void>;
  /** Newest first (default limit 100). */
  listDeliveries(filter: DeliveryFilter): Promise<DeliveryAttempt[]>;
}
