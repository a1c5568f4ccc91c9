/**
 * Domain records as the control plane keeps them. Times are ISO-8601 UTC strings.
 */
import type { VersionDesired } from './dataplane.js';
import type { StrategySpec } from './spec.js';

export interface AppRecord {
  name: string;
  /** The app's spec (AppSpec) as last applied, JSON. */
  spec: unknown;
  createdAt: string;
  updatedAt: string;
}

export interface EnvironmentRecord {
  name: string;
  /** The environment's spec (EnvironmentSpec) as last applied, JSON. */
  spec: unknown;
  createdAt: string;
  updatedAt: string;
}

/** One immutable build of an app. */
export interface ReleaseRecord {
  id: string;
  app: string;
  version: string;
  /** sha256 over the release's files (paths, modes, contents). */
  contentHash: string;
  /** Where the platform keeps the release's files (read-only copy). */
  artifactDir: string;
  commitSha: string | null;
  commitTime: string | null;
  createdAt: string;
  createdBy: string;
  /** When retention removed its files (the record stays: deployments and metrics name it); null while kept. */
  prunedAt: string | null;
}

export type DeploymentStatus =
  | 'pending'
  | 'progressing'
  | 'paused'
  | 'succeeded'
  | 'failed'
  | 'aborted'
  | 'rolled_back';

export const ACTIVE_DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = ['pending', 'progressing', 'paused'];

export function isActiveStatus(s: DeploymentStatus): boolean {
  return ACTIVE_DEPLOYMENT_STATUSES.includes(s);
}

export type DeploymentKind = 'deploy' | 'rollback';

/**
 * Mutable control state of a deployment, advanced by the executor and by user commands.
 * Persisted as JSON before any effect so a restarted server resumes where it stopped.
 */
export interface DeploymentState {
  /** Index of the current step in the compiled plan. */
  stepIndex: number;
  /** When the current step began (pauses count from here). */
  stepStartedAt: string;
  /** A user asked to continue past the current pause. */
  promoteRequested: boolean;
  /** A user asked to skip all remaining steps (full promotion). */
  promoteFull: boolean;
  /** A user paused the rollout; the executor holds at the current step. */
  pausedByUser: boolean;
  /** A user asked to abort: traffic back to stable, candidate removed. */
  abortRequested: boolean;
  /** With abortRequested: how the deployment ends (`rollgate fail` ends it rolled back) and why. */
  abortStatus?: 'aborted' | 'rolled_back' | undefined;
  abortReason?: string | undefined;
  /**
   * Set when the deployment is being reverted (abort, failure, progress deadline): the status it
   * ends with once stable serves again, and why.
   */
  revert: RevertIntent | null;
  /** A user promoted with --skip-analysis: no more automated judgement for this deployment. */
  skipAnalysis: boolean;
  /** The latest analysis verdicts (for status views); null when no analysis ran. */
  analysis: AnalysisSnapshot | null;
  /** False until the end-of-deployment hooks (incidents, notifications) have run. */
  endHandled?: boolean | undefined;
  /** Set once the candidate serves all traffic: the old version stays warm until then, for instant rollback. */
  scaleDownAt: string | null;
  /** The old version's instances were stopped after `scaleDownAt`. */
  oldScaledDown: boolean;
  /** Ready instances of the candidate when progress was last seen (progress = more ready or a new step). */
  lastReady: number;
  /** Last time the rollout made progress (for the progress deadline). */
  lastProgressAt: string;
  /**
   * What each side runs with, fixed when the deployment was created: the candidate the spec of
   * that moment, the stable what it was deployed with. A later spec change reaches neither.
   * Absent on deployments made before versions carried their settings (the applied spec then).
   */
  settings?: { candidate: VersionSettings; stable: VersionSettings | null } | undefined;
}

/** What a version runs with (command, health check, port variable, configuration, drain, isolation). */
export type VersionSettings = Omit<VersionDesired, 'version' | 'releaseId' | 'dir' | 'replicas'>;

export interface RevertIntent {
  status: 'aborted' | 'failed' | 'rolled_back';
  reason: string;
  at: string;
  /**
   * Keep the candidate's instances (without traffic) after the revert, to be stopped after the
   * strategy's abortScaleDownDelay: they are there to debug, and traffic leaves them at once anyway.
   */
  keepCandidate: boolean;
}

/** `not_judged`: too little traffic to judge within `noTrafficAfter` outside production; the rollout went on. */
export type AnalysisVerdict = 'running' | 'pass' | 'fail' | 'inconclusive' | 'not_judged';

export interface MetricSnapshot {
  name: string;
  verdict: 'pass' | 'fail' | 'inconclusive';
  reason: string;
  canary: number | null;
  stable: number | null;
}

export interface AnalysisSnapshot {
  /** Which analysis: background, a step's, pre- or post-promotion. */
  phase: string;
  verdict: AnalysisVerdict;
  reason: string;
  startedAt: string;
  at: string;
  metrics: MetricSnapshot[];
}

export interface DeploymentRecord {
  id: string;
  app: string;
  env: string;
  kind: DeploymentKind;
  releaseId: string;
  version: string;
  /** The release serving before this deployment began (null for the first deployment). */
  previousReleaseId: string | null;
  previousVersion: string | null;
  strategy: StrategySpec;
  status: DeploymentStatus;
  state: DeploymentState;
  /** Last human-readable message: what it waits for, or why it ended. */
  message: string;
  requestedBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

/** One entry on a deployment's timeline. */
export interface DeploymentEventRecord {
  id: number;
  deploymentId: string;
  at: string;
  kind: string;
  message: string;
  data: unknown;
}

/** What serves in a service (app × environment) now, and what served before it. */
export interface ServiceStateRecord {
  app: string;
  env: string;
  currentReleaseId: string | null;
  previousReleaseId: string | null;
  updatedAt: string;
}

/** An entry of the platform-wide event stream (SSE). */
export interface EventRecord {
  id: number;
  at: string;
  type: string;
  app: string | null;
  env: string | null;
  deploymentId: string | null;
  data: unknown;
}
