/** Row <-> record mapping: JSON text columns are parsed here into the domain records. */
import type { Selectable } from 'kysely';
import type {
  AppRecord,
  DeploymentEventRecord,
  DeploymentKind,
  DeploymentRecord,
  DeploymentState,
  DeploymentStatus,
  EnvironmentRecord,
  EventRecord,
  ReleaseRecord,
  ServiceStateRecord,
} from '../core/domain.js';
import type { ChaosKind, ChaosRecord, ChaosStatus, IncidentRecord, IncidentSource, IncidentStatus } from '../core/incidents.js';
import type { ApprovalRecord, LogStream, PipelineRunRecord, RunSource, RunStatus, StageLogLine, StageRecord, StageStatus, TriggerKind } from '../core/pipeline.js';
import type { PipelineSpec, StageKind } from '../core/pipeline-spec.js';
import type { StrategySpec } from '../core/spec.js';
import type { AttemptOutcome, DeliveryAttempt } from '../notify/delivery-log.js';
import type { Notification, NotifierKind } from '../notify/types.js';
import type {
  ChaosExperimentsTable,
  DeploymentEventsTable,
  DeploymentsTable,
  EventsTable,
  IncidentsTable,
  NotificationDeliveriesTable,
  PipelineApprovalsTable,
  PipelineRunsTable,
  PipelineStagesTable,
  ReleasesTable,
  ServiceStateTable,
  SpecTable,
  StageLogsTable,
} from './schema.js';
import type { NewRun, NewStage } from './types.js';

/** undefined and null both become SQL NULL; anything else JSON text. */
export function toJson(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}

export function fromJson(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}

export function now(): string {
  return new Date().toISOString();
}

export function specRecord(r: Selectable<SpecTable>): AppRecord & EnvironmentRecord {
  return { name: r.name, spec: fromJson(r.spec), createdAt: r.created_at, updatedAt: r.updated_at };
}

export function releaseRecord(r: Selectable<ReleasesTable>): ReleaseRecord {
  return {
    id: r.id,
    app: r.app,
    version: r.version,
    contentHash: r.content_hash,
    artifactDir: r.artifact_dir,
    commitSha: r.commit_sha,
    commitTime: r.commit_time,
    createdAt: r.created_at,
    createdBy: r.created_by,
    prunedAt: r.pruned_at ?? null,
  };
}

export function deploymentRecord(r: Selectable<DeploymentsTable>): DeploymentRecord {
  return {
    id: r.id,
    app: r.app,
    env: r.env,
    // The CHECK constraints of the migration guarantee these are members of the unions.
    kind: r.kind as DeploymentKind,
    releaseId: r.release_id,
    version: r.version,
    previousReleaseId: r.previous_release_id,
    previousVersion: r.previous_version,
    strategy: fromJson(r.strategy) as StrategySpec,
    status: r.status as DeploymentStatus,
    state: fromJson(r.state) as DeploymentState,
    message: r.message,
    requestedBy: r.requested_by,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
  };
}

export function deploymentRow(
  d: Omit<DeploymentRecord, 'createdAt' | 'updatedAt'>,
  at: string,
): Omit<Selectable<DeploymentsTable>, 'seq'> {
  return {
    id: d.id,
    app: d.app,
    env: d.env,
    kind: d.kind,
    release_id: d.releaseId,
    version: d.version,
    previous_release_id: d.previousReleaseId,
    previous_version: d.previousVersion,
    strategy: JSON.stringify(d.strategy),
    status: d.status,
    state: JSON.stringify(d.state),
    message: d.message,
    requested_by: d.requestedBy,
    created_at: at,
    started_at: d.startedAt,
    finished_at: d.finishedAt,
    updated_at: at,
  };
}

export function deploymentEventRecord(r: Selectable<DeploymentEventsTable>): DeploymentEventRecord {
  return { id: Number(r.id), deploymentId: r.deployment_id, at: r.at, kind: r.kind, message: r.message, data: fromJson(r.data) };
}

export function serviceStateRecord(r: Selectable<ServiceStateTable>): ServiceStateRecord {
  return {
    app: r.app,
    env: r.env,
    currentReleaseId: r.current_release_id,
    previousReleaseId: r.previous_release_id,
    updatedAt: r.updated_at,
  };
}

export function eventRecord(r: Selectable<EventsTable>): EventRecord {
  return {
    id: Number(r.id),
    at: r.at,
    type: r.type,
    app: r.app,
    env: r.env,
    deploymentId: r.deployment_id,
    data: fromJson(r.data),
  };
}

export function incidentRecord(r: Selectable<IncidentsTable>): IncidentRecord {
  return {
    id: r.id,
    app: r.app,
    env: r.env,
    production: Number(r.production) === 1,
    deploymentId: r.deployment_id,
    // The CHECK constraints of the migration guarantee these are members of the unions.
    source: r.source as IncidentSource,
    title: r.title,
    severity: r.severity,
    status: r.status as IncidentStatus,
    openedAt: r.opened_at,
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    resolvedByDeploymentId: r.resolved_by_deployment_id,
    resolution: r.resolution,
    fingerprint: r.fingerprint,
    labels: (fromJson(r.labels) ?? {}) as Record<string, string>,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function chaosRecord(r: Selectable<ChaosExperimentsTable>): ChaosRecord {
  return {
    id: r.id,
    app: r.app,
    env: r.env,
    version: r.version,
    kind: r.kind as ChaosKind,
    errorRate: Number(r.error_rate),
    latencyMs: Number(r.latency_ms),
    status: r.status as ChaosStatus,
    startedAt: r.started_at,
    endsAt: r.ends_at,
    stoppedAt: r.stopped_at,
    actor: r.actor,
    detail: r.detail,
  };
}

export function runRow(r: NewRun, at: string): Omit<Selectable<PipelineRunsTable>, 'seq'> {
  return {
    id: r.id,
    pipeline: r.pipeline,
    app: r.app,
    spec: JSON.stringify(r.spec),
    status: 'queued',
    message: 'queued',
    trigger: r.trigger,
    source: JSON.stringify(r.source),
    version: r.version,
    release_id: null,
    release_version: null,
    cancel_requested: 0,
    created_by: r.createdBy,
    created_at: at,
    started_at: null,
    finished_at: null,
    updated_at: at,
  };
}

export function runRecord(r: Selectable<PipelineRunsTable>): PipelineRunRecord {
  return {
    id: r.id,
    seq: Number(r.seq),
    pipeline: r.pipeline,
    app: r.app,
    spec: fromJson(r.spec) as PipelineSpec,
    // The CHECK constraints of the migration guarantee the status is a member of the union;
    // trigger and source are only ever written from the typed records.
    status: r.status as RunStatus,
    message: r.message,
    trigger: r.trigger as TriggerKind,
    source: fromJson(r.source) as RunSource,
    version: r.version,
    releaseId: r.release_id,
    releaseVersion: r.release_version,
    cancelRequested: Number(r.cancel_requested) === 1,
    createdBy: r.created_by,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
  };
}

export function stageRow(runId: string, s: NewStage, at: string): Selectable<PipelineStagesTable> {
  return {
    run_id: runId,
    name: s.name,
    idx: s.index,
    kind: s.kind,
    status: 'pending',
    attempt: 0,
    message: '',
    started_at: null,
    finished_at: null,
    waiting_since: null,
    result: null,
    deployment_id: null,
    updated_at: at,
  };
}

export function stageRecord(r: Selectable<PipelineStagesTable>): StageRecord {
  return {
    runId: r.run_id,
    name: r.name,
    index: Number(r.idx),
    kind: r.kind as StageKind,
    status: r.status as StageStatus,
    attempt: Number(r.attempt),
    message: r.message,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    waitingSince: r.waiting_since,
    result: fromJson(r.result),
    deploymentId: r.deployment_id,
    updatedAt: r.updated_at,
  };
}

export function approvalRecord(r: Selectable<PipelineApprovalsTable>): ApprovalRecord {
  return {
    runId: r.run_id,
    stage: r.stage,
    attempt: Number(r.attempt),
    actor: r.actor,
    decision: r.decision as ApprovalRecord['decision'],
    reason: r.reason,
    at: r.at,
  };
}

export function logLineRecord(r: Selectable<StageLogsTable>): StageLogLine {
  return { id: Number(r.id), runId: r.run_id, stage: r.stage, attempt: Number(r.attempt), stream: r.stream as LogStream, text: r.text, at: r.at };
}

export function deliveryRow(a: DeliveryAttempt): Omit<Selectable<NotificationDeliveriesTable>, 'seq'> {
  return {
    delivery_id: a.deliveryId,
    attempt: a.attempt,
    channel: a.channel,
    kind: a.kind,
    target: a.target,
    notification_id: a.notification.id,
    notification: JSON.stringify(a.notification),
    at: a.at,
    outcome: a.outcome,
    http_status: a.httpStatus,
    error: a.error,
    duration_ms: Math.round(a.durationMs),
    retry_in_ms: a.retryInMs === null ? null : Math.round(a.retryInMs),
    next_attempt_at: a.nextAttemptAt,
    resend_of: a.resendOf,
  };
}

export function deliveryRecord(r: Selectable<NotificationDeliveriesTable>): DeliveryAttempt {
  return {
    deliveryId: r.delivery_id,
    attempt: Number(r.attempt),
    channel: r.channel,
    kind: r.kind as NotifierKind,
    target: r.target,
    notification: fromJson(r.notification) as Notification,
    at: r.at,
    outcome: r.outcome as AttemptOutcome,
    httpStatus: r.http_status === null ? null : Number(r.http_status),
    error: r.error,
    durationMs: Number(r.duration_ms),
    retryInMs: r.retry_in_ms === null ? null : Number(r.retry_in_ms),
    nextAttemptAt: r.next_attempt_at,
    resendOf: r.resend_of,
  };
}
