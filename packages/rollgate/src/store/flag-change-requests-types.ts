/**
 * Flag change requests in the store (store/flag-change-requests-queries.ts). The same queries run
 * on the store's connection (reads) and inside a flag change's transaction
 * (`FlagsTx.changeRequests`), so an approval commits with the state it applies.
 */
import type { FlagState } from './flags-types.js';

export const CHANGE_REQUEST_ACTIONS = ['enable', 'disable', 'rollout', 'set', 'steps', 'archive'] as const;
export type ChangeRequestAction = (typeof CHANGE_REQUEST_ACTIONS)[number];
export const CHANGE_REQUEST_STATUSES = ['open', 'approved', 'rejected', 'cancelled'] as const;
export type ChangeRequestStatus = (typeof CHANGE_REQUEST_STATUSES)[number];

/** A rollout as `flags rollout --steps --every` starts it. */
export interface RolloutPlan {
  steps: number[];
  everyMs: number;
  variant: string | null;
  guard: boolean;
  /** With guard and variant: the control variant (absent: chosen at start). */
  control?: string | null;
}

export interface FlagChangeRequestRecord {
  id: string;
  app: string;
  env: string;
  flag: string;
  action: ChangeRequestAction;
  /** The flag's whole new state in the environment (steps: after the first step); null for archive. */
  proposedState: FlagState | null;
  /** For steps: the rollout the approval starts. */
  rolloutPlan: RolloutPlan | null;
  /** Its state when proposed (null: never set there). */
  baseState: FlagState | null;
  /** The (app, env) revision when proposed. */
  baseRevision: number;
  reason: string;
  status: ChangeRequestStatus;
  proposedBy: string;
  createdAt: string;
  expiresAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionReason: string | null;
  appliedRevision: number | null;
}

export type NewFlagChangeRequest = Pick<FlagChangeRequestRecord, 'id' | 'app' | 'env' | 'flag' | 'action' | 'proposedState' | 'rolloutPlan' | 'baseState' | 'baseRevision' | 'reason' | 'proposedBy' | 'expiresAt'>;

export interface ChangeRequestDecision {
  status: Exclude<ChangeRequestStatus, 'open'>;
  decidedBy: string;
  decisionReason: string | null;
  appliedRevision?: number | null;
}

export interface ChangeRequestFilter {
  app?: string | undefined;
  env?: string | undefined;
  flag?: string | undefined;
  status?: ChangeRequestStatus | undefined;
  limit?: number;
}

export interface FlagChangeRequestQueriesApi {
  insert(r: NewFlagChangeRequest): Promise<FlagChangeRequestRecord>;
  get(id: string): Promise<FlagChangeRequestRecord | null>;
  /** Newest first. */
  list(f?: ChangeRequestFilter): Promise<FlagChangeRequestRecord[]>;
  /** Moves an open request to its decision; false when it is no longer open (someone decided first). */
  decide(id: string, d: ChangeRequestDecision): Promise<boolean>;
}
