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
import type { StrategySpec } from '../core/spec.js';
import type {
  ChaosExperimentsTable,
  DeploymentEventsTable,
  DeploymentsTable,
  EventsTable,
  IncidentsTable,
  ReleasesTable,
  ServiceStateTable,
  SpecTable,
} from './schema.js';

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
