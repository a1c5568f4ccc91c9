/**
 * The control plane's HTTP API: request bodies (zod, parsed at the edge) and response shapes.
 * The CLI and the dashboard use these same types.
 *
 * Every route but GET /v1/health needs `Authorization: Bearer <token>`.
 * Errors: `{ "error": { "code", "message" } }` with a 4xx/5xx status.
 *
 *   GET  /v1/health                                  -> { ok, version, dialect }
 *   POST /v1/spec               { spec }             -> { apps: string[], environments: string[] }   (apply rollgate.yaml content)
 *   GET  /v1/spec                                    -> { apps, environments, pipelines, notifications: { channels, sha256 } | null }   (as applied; api/spec-view.ts)
 *   GET  /v1/apps                                    -> AppSummary[]
 *   GET  /v1/environments                            -> { name, listen, spec }[]
 *   POST /v1/apps/:app/releases  body: tar.gz of the release directory; query ?version=&commitSha=&commitTime=
 *                                                    -> ReleaseRecord (201 new, 200 when identical content exists)
 *   GET  /v1/apps/:app/releases                      -> ReleaseView[] (records + what uses each; routes-releases.ts)
 *   POST /v1/apps/:app/releases/prune  { keep?, dryRun? } -> PruneResult
 *   POST /v1/deployments        DeployRequest        -> DeploymentView (201); 409 deployment_in_progress
 *   GET  /v1/deployments?app=&env=&limit=            -> DeploymentRecord[] (newest first)
 *   GET  /v1/deployments/:id                         -> DeploymentView
 *   POST /v1/deployments/:id/promote { full?, skipAnalysis? } -> DeploymentView
 *   POST /v1/deployments/:id/pause                   -> DeploymentView
 *   POST /v1/deployments/:id/resume                  -> DeploymentView
 *   POST /v1/deployments/:id/abort                   -> DeploymentView
 *   POST /v1/deployments/:id/fail  { reason? }       -> DeploymentView  (force a rollback)
 *   POST /v1/retry              { app, env }         -> DeploymentView (201): the last failed release again
 *   POST /v1/rollback           RollbackRequest      -> DeploymentView (201)
 *   GET  /v1/status?app=&env=                        -> ServiceStatus[]
 *   GET  /v1/logs?app=&env=&version=&instance=&tail= -> { lines: LogLine[] }
 *   GET  /v1/logs/stream?app=&env=&version=&instance=&tail= -> text/event-stream: `line` events (LogLine): the tail, `live`, then new lines
 *   GET  /v1/notifications/deliveries?channel=&outcome=&limit= -> delivery attempts, newest first
 *   POST /v1/notifications/deliveries/:id/resend     -> { deliveryId } (202)
 *   GET  /v1/dora?app=&env=&since=90d              -> DORA metrics with 2024 tiers (dora/load.ts DoraResult)
 *   GET  /v1/events?after=                           -> text/event-stream of EventRecord (id = event id; Last-Event-ID resumes; after=latest: new ones only)
 *                                                      (replay bounded by count and age; a cut starts with event
 *                                                      `replay.truncated` {requestedAfter, resumedAfter, reason}; 429 past the stream caps)
 */
import { z } from 'zod';
import { NAME_RE, VERSION_RE } from '../core/spec.js';
import type { DeploymentEventRecord, DeploymentRecord, ReleaseRecord } from '../core/domain.js';
import type { InstanceObserved, RouteSpec } from '../core/dataplane.js';

export const AppName = z.string().regex(NAME_RE, { message: 'app names are lower-case letters, digits and dashes, starting with a letter' });
export const EnvName = z.string().regex(NAME_RE, { message: 'environment names are lower-case letters, digits and dashes, starting with a letter' });
export const Version = z.string().regex(VERSION_RE, { message: 'versions are letters, digits, ".", "_", "+" and "-" (at most 64), starting with a letter or digit' });
export const StrategyName = z.enum(['rolling', 'blue-green', 'canary', 'recreate']);

export const ApplySpecRequest = z.object({ spec: z.unknown() }).strict();

export const DeliveryId = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, { message: 'delivery ids are letters, digits, "_" and "-"' });
export const DeliveriesQuery = z.object({
  channel: z.string().max(63).optional(),
  outcome: z.enum(['delivered', 'retrying', 'failed', 'dropped']).optional(),
  deliveryId: DeliveryId.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const DeployRequest = z
  .object({
    app: AppName,
    env: EnvName,
    /** Release to deploy, by id or by version. */
    releaseId: z.string().min(1).max(100).optional(),
    version: Version.optional(),
    /** Override the strategy type from the spec (its parameters come from the spec when it names that type, else defaults). */
    strategy: StrategyName.optional(),
  })
  .strict()
  .refine((r) => r.releaseId !== undefined || r.version !== undefined, { message: 'give releaseId or version' });
export type DeployRequest = z.infer<typeof DeployRequest>;

export const PromoteRequest = z.object({ full: z.boolean().default(false), skipAnalysis: z.boolean().default(false) }).strict();
export const FailRequest = z.object({ reason: z.string().max(500).optional() }).strict();
export const RetryRequest = z.object({ app: AppName, env: EnvName }).strict();

export const RollbackRequest = z
  .object({
    app: AppName,
    env: EnvName,
    /** Version to return to; defaults to the release that served before the current one. */
    toVersion: Version.optional(),
  })
  .strict();
export type RollbackRequest = z.infer<typeof RollbackRequest>;

export const ReleaseQuery = z.object({
  version: Version.optional(),
  commitSha: z.string().regex(/^[0-9a-f]{7,64}$/, { message: 'commitSha is a hex git commit id' }).optional(),
  commitTime: z.string().datetime({ offset: true, message: 'commitTime is an ISO-8601 time' }).optional(),
});

export const LogsQuery = z.object({
  app: AppName,
  env: EnvName,
  version: Version.optional(),
  instance: z.string().regex(/^[A-Za-z0-9._+-]{1,200}$/, { message: 'instance ids are letters, digits, ".", "_", "+" and "-"' }).optional(),
  tail: z.coerce.number().int().min(1).max(10_000).default(200),
});

export interface DeploymentView extends DeploymentRecord {
  timeline: DeploymentEventRecord[];
  /** Current step description and candidate weight, from the last plan. */
  step: string | null;
  candidateWeight: number | null;
}

export interface VersionStatus {
  version: string;
  releaseId: string;
  weight: number;
  desiredReplicas: number;
  ready: number;
  instances: InstanceObserved[];
  failed: boolean;
  failureReason: string | null;
  requests: number;
  errors5xx: number;
}

export interface ServiceStatus {
  app: string;
  env: string;
  listen: string;
  currentVersion: string | null;
  previousVersion: string | null;
  routes: RouteSpec | null;
  versions: VersionStatus[];
  activeDeployment: DeploymentView | null;
  /** Set when the data plane could not be asked (the view is then from the store only). */
  dataPlaneError: string | null;
  /** How the agent isolates the instances (`none`: they can read the platform's files); null when unknown. */
  isolation: string | null;
}

export interface AppSummary {
  name: string;
  environments: { env: string; currentVersion: string | null; status: string | null }[];
  releases: number;
}

export interface LogLine {
  at: string;
  instance: string;
  version: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

export type { ReleaseRecord };
