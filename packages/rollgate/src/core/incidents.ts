/**
 * Incidents and chaos experiments as the control plane keeps them. Times are ISO-8601 UTC
 * strings (they compare correctly as text). Incidents feed the DORA metrics: an incident's
 * duration (openedAt → resolvedAt) is its time to restore; `deploymentId` links it to the
 * change that caused it (change failure rate); `resolvedByDeploymentId` to the change that fixed
 * it (rework).
 */

export const INCIDENT_SOURCES = ['rollback', 'deployment_failed', 'alert', 'manual'] as const;
export type IncidentSource = (typeof INCIDENT_SOURCES)[number];
/** Sources opened by a deployment (one incident per deployment at most). */
export type DeploymentIncidentSource = 'rollback' | 'deployment_failed';
export const DEPLOYMENT_INCIDENT_SOURCES: readonly IncidentSource[] = ['rollback', 'deployment_failed'];

export type IncidentStatus = 'open' | 'resolved';

/** Severity words as users and Alertmanager rules write them: lower-case, short. */
export const SEVERITY_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export interface IncidentRecord {
  id: string;
  app: string;
  env: string;
  /** Whether the environment counted as production when the incident opened (DORA looks at these). */
  production: boolean;
  /** The deployment that caused it (rollback, failed deployment); null for alerts and manual ones. */
  deploymentId: string | null;
  source: IncidentSource;
  title: string;
  severity: string;
  status: IncidentStatus;
  /** When the failure began (an alert's startsAt; otherwise when Rollgate saw it). */
  openedAt: string;
  resolvedAt: string | null;
  /** `deployment:<id>`, `alertmanager`, or the actor who resolved it. */
  resolvedBy: string | null;
  resolvedByDeploymentId: string | null;
  resolution: string | null;
  /** Alertmanager's fingerprint for alert incidents: unique among open incidents of that source. */
  fingerprint: string | null;
  labels: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/** What opening an incident records; the rest of IncidentRecord follows from it. */
export type NewIncident = Pick<IncidentRecord, 'id' | 'app' | 'env' | 'production' | 'deploymentId' | 'source' | 'title' | 'severity' | 'openedAt' | 'fingerprint' | 'labels'>;

export interface IncidentResolution {
  resolvedAt: string;
  resolvedBy: string;
  resolvedByDeploymentId: string | null;
  resolution: string;
}

export interface IncidentFilter {
  app?: string | undefined;
  env?: string | undefined;
  status?: IncidentStatus | undefined;
  sources?: readonly IncidentSource[] | undefined;
  fingerprint?: string | undefined;
  deploymentId?: string | undefined;
  /** Only incidents opened at or after this time. */
  since?: string | undefined;
  limit?: number | undefined;
}

/** Milliseconds from opening to resolution (or to `now` while open). */
export function incidentDurationMs(i: Pick<IncidentRecord, 'openedAt' | 'resolvedAt'>, now = Date.now()): number {
  const end = i.resolvedAt ? Date.parse(i.resolvedAt) : now;
  return Math.max(0, end - Date.parse(i.openedAt));
}

// ---- chaos

export type ChaosKind = 'fault' | 'kill';
export type ChaosStatus = 'active' | 'stopped' | 'expired';

export interface ChaosRecord {
  id: string;
  app: string;
  env: string;
  version: string;
  kind: ChaosKind;
  /** Share of the version's requests answered 503 by the router (0..1); 0 for kills. */
  errorRate: number;
  /** Delay the router adds before each request of the version; 0 for kills. */
  latencyMs: number;
  status: ChaosStatus;
  startedAt: string;
  /** When the fault ends by itself (the agent expires it too); for a kill, the moment of the kill. */
  endsAt: string;
  stoppedAt: string | null;
  actor: string;
  /** What happened: the instance killed, why it stopped (replaced, the agent refused …). */
  detail: string | null;
}

export interface ChaosFilter {
  app?: string | undefined;
  env?: string | undefined;
  status?: ChaosStatus | undefined;
  limit?: number | undefined;
}

export interface ChaosPatch {
  status?: ChaosStatus;
  stoppedAt?: string | null;
  endsAt?: string;
  detail?: string | null;
}
