/**
 * The feature-flag part of the Store (store.flags): see store/flags-queries.ts. A flag's rules in
 * an environment are an Unleash `Feature` (packages/sdk/src/engine/types.ts) without the fields
 * that come from the flag itself (name, type, description); `readState` composes the whole
 * `ClientFeatures` of an (app, environment) with its revision in one read.
 */
import type { ClientFeatures, Constraint, Feature } from '@rollgate/sdk/engine';
import type { AuditStore } from './audit-types.js';
import type { FlagRolloutQueriesApi } from './flag-rollouts-types.js';
import type { FlagChangeRequestQueriesApi } from './flag-change-requests-types.js';

export const FLAG_KINDS = ['release', 'experiment', 'operational', 'kill-switch', 'permission'] as const;
export type FlagKind = (typeof FLAG_KINDS)[number];

export const FLAG_KEY_KINDS = ['server', 'client'] as const;
export type FlagKeyKind = (typeof FLAG_KEY_KINDS)[number];

/** What a flag does in one environment: the state fields of an Unleash Feature. */
export type FlagState = Pick<Feature, 'enabled' | 'strategies' | 'variants' | 'dependencies' | 'impressionData'>;

export interface FlagRecord {
  app: string;
  name: string;
  kind: FlagKind;
  owner: string | null;
  description: string;
  /** Days it is expected to live; null: permanent. */
  lifetimeDays: number | null;
  archived: boolean;
  archivedAt: string | null;
  archivedBy: string | null;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
}

export type NewFlag = Pick<FlagRecord, 'app' | 'name' | 'kind' | 'owner' | 'description' | 'lifetimeDays' | 'createdBy'>;

export type FlagPatch = Partial<Pick<FlagRecord, 'kind' | 'owner' | 'description' | 'lifetimeDays'>>;

export interface FlagStateRecord {
  app: string;
  env: string;
  name: string;
  state: FlagState;
  updatedAt: string;
  updatedBy: string;
}

export interface SegmentRecord {
  id: number;
  name?: string;
  constraints: Constraint[];
}

/** The delivery state of an (app, environment): what an SDK evaluates, and its revision (0: never changed). */
export interface FlagEnvState {
  app: string;
  env: string;
  revision: number;
  state: ClientFeatures;
}

export interface FlagKeyRecord {
  id: string;
  app: string;
  env: string;
  kind: FlagKeyKind;
  name: string;
  /** The key's first characters, to tell keys apart; never enough to use. */
  prefix: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  revokedBy: string | null;
}

export interface NewFlagKey extends Omit<FlagKeyRecord, 'createdAt' | 'revokedAt' | 'revokedBy'> {
  /** Hex sha256 of the key. */
  hash: string;
}

/** Writes of one change, all in one transaction with its audit entry (`audit`). */
export interface FlagsTx {
  /** The audit trail's store inside this transaction: an entry appended here commits or rolls back with the change. */
  readonly audit: AuditStore;
  /** Rollouts and scheduled changes inside this transaction (a step commits with the state it sets). */
  readonly rollouts: FlagRolloutQueriesApi;
  /** Change requests inside this transaction (an approval commits with the state it applies). */
  readonly changeRequests: FlagChangeRequestQueriesApi;
  /** Adds 1 to the (app, env) revision and returns it; also serializes changes of that (app, env). */
  bumpRevision(app: string, env: string): Promise<number>;
  /** `lock`: held until the transaction ends (PostgreSQL row lock; SQLite has one writer anyway). */
  getFlag(app: string, name: string, opts?: { lock?: boolean }): Promise<FlagRecord | null>;
  /** false when the flag exists already. */
  insertFlag(f: NewFlag): Promise<boolean>;
  updateFlag(app: string, name: string, patch: FlagPatch): Promise<void>;
  archiveFlag(app: string, name: string, actor: string): Promise<void>;
  getState(app: string, env: string, name: string): Promise<FlagStateRecord | null>;
  putState(app: string, env: string, name: string, state: FlagState, actor: string): Promise<void>;
  /** Environments where the flag has a state, by name. */
  envsWithState(app: string, name: string): Promise<string[]>;
  putSegment(app: string, env: string, s: SegmentRecord, actor: string): Promise<void>;
  /** The delivery state as this transaction sees it. */
  readState(app: string, env: string): Promise<FlagEnvState>;
  insertKey(k: NewFlagKey): Promise<FlagKeyRecord>;
  getKey(id: string): Promise<FlagKeyRecord | null>;
  /** Marks it revoked (once); returns it as it now is, or null when there is no such key. */
  revokeKey(id: string, actor: string): Promise<FlagKeyRecord | null>;
}

export interface FlagsStore {
  /** Runs `fn` in one write transaction (serialized with audit appends); everything or nothing. */
  change<T>(fn: (tx: FlagsTx) => Promise<T>): Promise<T>;
  /** Rollouts and scheduled changes, read outside a change. */
  readonly rollouts: FlagRolloutQueriesApi;
  /** Change requests, read outside a change. */
  readonly changeRequests: FlagChangeRequestQueriesApi;
  getFlag(app: string, name: string): Promise<FlagRecord | null>;
  /** By name; archived ones only with `archived`. */
  listFlags(app: string, opts?: { archived?: boolean }): Promise<FlagRecord[]>;
  /** Every environment's state of one flag, by environment. */
  flagStates(app: string, name: string): Promise<FlagStateRecord[]>;
  /** Every state of every flag of an app, by flag then environment. */
  appStates(app: string): Promise<FlagStateRecord[]>;
  /** The whole delivery state of an (app, env) and its revision, read together (one snapshot). */
  readState(app: string, env: string): Promise<FlagEnvState>;
  /** The (app, env) revision alone (0 before the first change), for a cheap ETag check. */
  revision(app: string, env: string): Promise<number>;
  listKeys(app: string, env?: string): Promise<FlagKeyRecord[]>;
  getKey(id: string): Promise<FlagKeyRecord | null>;
  /** The key whose hash this is (revoked ones too, so a refusal can say why), or null. */
  keyByHash(hash: string): Promise<FlagKeyRecord | null>;
}
