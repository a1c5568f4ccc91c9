/**
 * Pipeline runs as the control plane keeps them. A run freezes its pipeline's spec when it is
 * queued, so editing rollgate.yaml never changes a run in flight. Every stage has a row, written
 * before the stage acts, so a restarted server knows exactly where each run was.
 */
import type { PipelineSpec, StageKind } from './pipeline-spec.js';

export type RunStatus = 'queued' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'cancelled';
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'waiting'];
export const isActiveRun = (s: RunStatus): boolean => ACTIVE_RUN_STATUSES.includes(s);

/**
 * pending: not started (its needs have not all succeeded); running: acting now; waiting: for a
 * person, a window, a free environment or a duration; then one of the ended states.
 */
export type StageStatus = 'pending' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
export const ENDED_STAGE_STATUSES: readonly StageStatus[] = ['succeeded', 'failed', 'skipped', 'cancelled'];
export const isEndedStage = (s: StageStatus): boolean => ENDED_STAGE_STATUSES.includes(s);

export type TriggerKind = 'cli' | 'api' | 'git-poll' | 'git-push';

export interface RunSource {
  kind: 'upload' | 'git';
  /** Git: the repository and the ref asked for. */
  url?: string | undefined;
  ref?: string | undefined;
  commitSha: string | null;
  commitTime: string | null;
}

export interface PipelineRunRecord {
  id: string;
  /** Queue order across all runs. */
  seq: number;
  pipeline: string;
  app: string;
  spec: PipelineSpec;
  status: RunStatus;
  message: string;
  trigger: TriggerKind;
  source: RunSource;
  /** The release version asked for (null: derived from the content). */
  version: string | null;
  /** The one release every deploy stage of the run promotes, once built. */
  releaseId: string | null;
  releaseVersion: string | null;
  cancelRequested: boolean;
  createdBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

export interface StageRecord {
  runId: string;
  name: string;
  /** Position in the pipeline's stage list. */
  index: number;
  kind: StageKind;
  status: StageStatus;
  /** 1 on the first try; a retried stage counts up. 0 while never started. */
  attempt: number;
  message: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** When the stage began waiting (deploy queue order, approval expiry, healthy-for clocks). */
  waitingSince: string | null;
  /** Kind-specific outcome: exit code, gate result, approvals, the verdict of a verify. */
  result: unknown;
  deploymentId: string | null;
  updatedAt: string;
}

export interface ApprovalRecord {
  runId: string;
  stage: string;
  attempt: number;
  actor: string;
  decision: 'approve' | 'reject';
  reason: string | null;
  at: string;
}

export type LogStream = 'stdout' | 'stderr' | 'system';

export interface StageLogLine {
  id: number;
  runId: string;
  stage: string;
  attempt: number;
  stream: LogStream;
  text: string;
  at: string;
}
