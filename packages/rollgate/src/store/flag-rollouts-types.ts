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
  /** A guarded rollout's judge: what it compares and what it has seen (null: not guarded). */
  guard: FlagRolloutGuard | null;
  startedBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/**
 * The guard of a rollout (flags/guard.ts): the treatment variants (what the rollout gives more
 * users) judged against the control variants by the analysis that gates canaries, from the
 * router's per-(flag, variant) counters or, for apps behind another proxy, the outcomes SDKs report.
 */
export interface FlagRolloutGuard {
  /** Variant names the app's responses carry for the treatment (`on` for a boolean flag). */
  treatment: string[];
  /** ... and for the control (`off` and `disabled` for a boolean flag). */
  control: string[];
  /** What a failing guard sets: the flag off, or the rolled-out variant's share to 0%. */
  safe: 'off' | 'variant-zero';
  /** The latest look, as far as it was saved (looks are kept in memory; saved every few seconds and at the end). */
  look: FlagGuardLookSummary | null;
  /** When the guard failed and killed the flag. */
  killedAt: string | null;
}

export interface FlagGuardLookSummary {
  at: string;
  verdict: 'pass' | 'fail' | 'inconclusive';
  reason: string;
  looks: number;
  /** Where the evidence came from: the router in front of the app, or the SDKs' reports. */
  evidence: 'router' | 'sdk' | null;
  /** Requests judged since the guard began. */
  treatmentRequests: number;
  controlRequests: number;
  treatmentErrors: number;
  controlErrors: number;
}

export type NewFlagRollout = Pick<FlagRolloutRecord, 'id' | 'app' | 'env' | 'flag' | 'variant' | 'steps' | 'everyMs' | 'applied' | 'nextStepAt' | 'status' | 'startedBy'> & { guard?: FlagRolloutGuard | null };

export type FlagRolloutPatch = Partial<Pick<FlagRolloutRecord, 'applied' | 'nextStepAt' | 'remainingMs' | 'status' | 'reason' | 'finishedAt' | 'guard'>>;

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
