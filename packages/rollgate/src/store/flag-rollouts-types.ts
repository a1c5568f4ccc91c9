/**
 * Flag rollouts and scheduled flag changes in the store (store/flag-rollouts-queries.ts). The same
 * queries run on the store's connection (reads) and inside a flag change's transaction
 * (`FlagsTx.rollouts`), so a step and the flag state it sets commit together.
 */

export const FLAG_ROLLOUT_STATUSES = ['running', 'paused', 'completed', 'aborted', 'failed'] as const;
export type FlagRolloutStatus = (typeof FLAG_ROLLOUT_STATUSES)[number];
export const ACTIVE_ROLLOUT_STATUSES: readonly FlagRolloutStatus[] = ['running', 'paused'];

export interface FlagRolloutRecord {
  id: string;
  app: string;
  env: string;
  flag: string;
  /** Null: the flexibleRollout percentage moves; else this variant's share of the variants. */
  variant: string | null;
  /** Percentages, strictly increasing. */
  steps: number[];
  everyMs: number;
  /** Steps applied so far: steps[applied - 1] is the percentage now (0: none yet). */
  applied: number;
  /** When steps[applied] is due; null unless running. */
  nextStepAt: string | null;
  /** Paused: what was left of the wait, given back on resume. */
  remainingMs: number | null;
  status: FlagRolloutStatus;
  /** Why it is paused, failed or aborted. */
  reason: string | null;
  /** Reserved for guarded rollouts (not yet available): always null for now. */
  guard: unknown;
  startedBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export type NewFlagRollout = Pick<FlagRolloutRecord, 'id' | 'app' | 'env' | 'flag' | 'variant' | 'steps' | 'everyMs' | 'applied' | 'nextStepAt' | 'status' | 'startedBy'>;

export type FlagRolloutPatch = Partial<Pick<FlagRolloutRecord, 'applied' | 'nextStepAt' | 'remainingMs' | 'status' | 'reason' | 'finishedAt'>>;

export const FLAG_SCHEDULE_ACTIONS = ['enable', 'disable', 'percent'] as const;
export type FlagScheduleAction = (typeof FLAG_SCHEDULE_ACTIONS)[number];
export type FlagScheduleStatus = 'pending' | 'applied' | 'cancelled' | 'failed';

export interface FlagScheduleRecord {
  id: string;
  app: string;
  env: string;
  flag: string;
  action: FlagScheduleAction;
  /** For action percent. */
  percent: number | null;
  at: string;
  status: FlagScheduleStatus;
  appliedAt: string | null;
  /** Applied this long after `at` (null until applied). */
  lateMs: number | null;
  message: string | null;
  createdBy: string;
  createdAt: string;
  cancelledBy: string | null;
}

export type NewFlagSchedule = Pick<FlagScheduleRecord, 'id' | 'app' | 'env' | 'flag' | 'action' | 'percent' | 'at' | 'createdBy'>;
export type FlagSchedulePatch = Partial<Pick<FlagScheduleRecord, 'status' | 'appliedAt' | 'lateMs' | 'message' | 'cancelledBy'>>;

export interface RolloutFilter {
  app?: string | undefined;
  env?: string | undefined;
  flag?: string | undefined;
  /** Running or paused only. */
  active?: boolean | undefined;
  limit?: number | undefined;
}

export interface ScheduleFilter {
  app?: string | undefined;
  env?: string | undefined;
  flag?: string | undefined;
  pending?: boolean | undefined;
  limit?: number | undefined;
}

export interface FlagRolloutQueriesApi {
  /** false when the flag has a rollout in progress in that environment already. */
  insertRollout(r: NewFlagRollout): Promise<boolean>;
  getRollout(id: string): Promise<FlagRolloutRecord | null>;
  /** The running or paused rollout of a flag in an environment. */
  activeRollout(app: string, env: string, flag: string): Promise<FlagRolloutRecord | null>;
  /** Newest first. */
  listRollouts(f?: RolloutFilter): Promise<FlagRolloutRecord[]>;
  /**
   * Changes the rollout only if its status and applied count are still `expect` (compare and set):
   * false when a user or another server changed it first.
   */
  updateRollout(id: string, expect: { status: FlagRolloutStatus; applied: number }, patch: FlagRolloutPatch): Promise<boolean>;
  /** Running rollouts whose next step is due at `at` or before, oldest due first. */
  dueRollouts(at: string, limit?: number): Promise<FlagRolloutRecord[]>;
  insertSchedule(s: NewFlagSchedule): Promise<FlagScheduleRecord>;
  getSchedule(id: string): Promise<FlagScheduleRecord | null>;
  /** By time (pending first); newest last. */
  listSchedules(f?: ScheduleFilter): Promise<FlagScheduleRecord[]>;
  /** Compare and set on the status. */
  updateSchedule(id: string, expect: FlagScheduleStatus, patch: FlagSchedulePatch): Promise<boolean>;
  dueSchedules(at: string, limit?: number): Promise<FlagScheduleRecord[]>;
  /** The earliest time something is due (a running rollout's next step or a pending schedule), or null. */
  nextDue(): Promise<string | null>;
}
