/** Client calls of the audit routes (src/api/routes-audit.ts). */
import { once } from 'node:events';
import type { AuditEntry, AuditVerifyResult } from '../engine/audit.js';
import type { LoginFailureWindowRecord } from '../store/auth-types.js';
import type { ApiClient } from './client.js';
import { terminalJson } from './terminal-text.js';

export interface AuditQuery {
  since?: string | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  outcome?: 'ok' | 'denied' | 'failed' | undefined;
  limit?: number | undefined;
  before?: number | undefined;
  after?: number | undefined;
}

/** Newest first (oldest first with `after`). */
export function auditList(client: ApiClient, q: AuditQuery = {}): Promise<AuditEntry[]> {
  return client.request('GET', '/v1/audit', { query: { ...q } });
}

/** Failed logins per attempted name, address and window, newest first (the counts behind auth.login_failed*). */
export function loginFailures(client: ApiClient, q: { since?: string | undefined; limit?: number | undefined } = {}): Promise<LoginFailureWindowRecord[]> {
  return client.request('GET', '/v1/audit/logins', { query: { ...q } });
}

/** Checks the whole chain on the server; reading a large trail takes a while. */
export function auditVerify(client: ApiClient): Promise<AuditVerifyResult> {
  return client.request('GET', '/v1/audit/verify', { timeoutMs: 600_000 });
}

const EXPORT_PAGE = 1000;

/**
 * Writes the whole trail as JSON lines (oldest first, the same lines as GET /v1/audit/export) to
 * `out`, page by page, so memory stays flat however long the trail is. Returns the count.
 * Controls and bidi characters in strings are written as \\u escapes (the same JSON values), so
 * the export is safe to print on a terminal.
 */
export async function auditExport(client: ApiClient, out: NodeJS.WritableStream): Promise<number> {
  // From below 1: a row someone inserted with seq 0 or less is in the store, so it is exported.
  let after = Number.MIN_SAFE_INTEGER;
  let n = 0;
  for (;;) {
    const page = await auditList(client, { after, limit: EXPORT_PAGE });
    for (const e of page) {
      if (!out.write(terminalJson(e, 0) + '\n')) await once(out, 'drain');
      n++;
    }
    if (page.length < EXPORT_PAGE) return n;
    after = page[page.length - 1]!.seq;
  }
}
