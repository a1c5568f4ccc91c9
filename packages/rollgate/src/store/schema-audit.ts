/** Table types of the audit tables (migration 0004). */

/**
 * One entry of the hash-chained audit trail. Rows are only ever inserted (triggers refuse
 * UPDATE and DELETE); `seq` is chosen by the append itself, under its lock, because it is part
 * of what the entry's hash covers.
 */
export interface AuditLogTable {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  source_address: string | null;
  source_agent: string | null;
  outcome: string;
  /** JSON text (secrets redacted before it gets here), or NULL for "nothing". */
  before: string | null;
  after: string | null;
  prev_hash: string;
  hash: string;
}

export interface AuditTables {
  audit_log: AuditLogTable;
}
