/** The audit part of the Store (store.audit): see store/audit-queries.ts and engine/audit.ts. */

export const AUDIT_OUTCOMES = ['ok', 'denied', 'failed'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** Settings key of the head anchor: the last entry's seq and hash, written with every append. */
export const AUDIT_HEAD_SETTING = 'audit.head';

/**
 * One row as stored. `before`/`after` are the JSON text exactly as stored and `outcome` is not
 * narrowed: rows are evidence, and the verifier must see a tampered row as it is.
 */
export interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  sourceAddress: string | null;
  sourceAgent: string | null;
  outcome: string;
  before: string | null;
  after: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditHead {
  seq: number;
  hash: string;
}

/** What an append sees under its lock: the anchor text (settings) and the highest stored row. */
export interface AuditChainState {
  anchor: string | null;
  last: AuditHead | null;
}

export interface AuditFilter {
  /** ISO UTC time: entries at or after it. */
  since?: string | undefined;
  actor?: string | undefined;
  /** Exact action, or a prefix ending in `*` (`secret.*`). */
  action?: string | undefined;
  outcome?: AuditOutcome | undefined;
  /** Entries with seq below it (paging newest first). */
  beforeSeq?: number | undefined;
  /** Entries with seq above it (paging oldest first). */
  afterSeq?: number | undefined;
  /** Default newest first. */
  order?: 'desc' | 'asc' | undefined;
  /** Default 100. */
  limit?: number | undefined;
}

export interface AuditStore {
  /**
   * Appends one row. Appends are serialized (across processes too): `seal` is called under the
   * lock with the chain state and returns the complete row (seq, hashes) and the new anchor
   * text; the row and the anchor are written in the same transaction. There is deliberately no
   * update or delete.
   */
  append(seal: (state: AuditChainState) => { row: AuditRow; anchor: string }): Promise<AuditRow>;
  list(filter: AuditFilter): Promise<AuditRow[]>;
  /** The anchor and the highest stored row, read together. */
  state(): Promise<AuditChainState>;
}
