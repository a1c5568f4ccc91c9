/**
 * Audit trail routes (read only: the trail is written by the server itself, never through the API).
 *
 *   GET /v1/audit?since=&actor=&action=&outcome=&limit=&before=   -> AuditEntry[] (newest first)
 *   GET /v1/audit?after=SEQ&…                                     -> AuditEntry[] (oldest first, for paging through all)
 *   GET /v1/audit/verify                                          -> AuditVerifyResult (200 also when broken: read `ok`)
 *   GET /v1/audit/export                                          -> application/x-ndjson, one entry a line, oldest first
 *   GET /v1/audit/logins?since=1h&limit=                          -> LoginFailureWindowRecord[] (failed logins per name, address and window, newest first)
 */
import type { Hono } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { isSince, parseSince } from '../dora/window.js';
import { MAX_AUDIT_LIST, type AuditTrail } from '../engine/audit.js';
import type { LoginAudit } from '../engine/auth/login-audit.js';
import { AUDIT_OUTCOMES } from '../store/audit-types.js';
import { parse, type ApiEnv } from './http.js';

export interface AuditRouteDeps {
  audit: AuditTrail;
  /** The counts behind the aggregated failed-login entries. */
  loginAudit?: LoginAudit | undefined;
  /** The clock (tests pin it). */
  now?: (() => Date) | undefined;
}

const Seq = z.coerce.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

export const AuditQuery = z.object({
  since: z.string().trim().refine(isSince, { message: 'write a look-back such as 7d, 12w, 36h, or an ISO date such as 2024-01-31' }).optional(),
  actor: z.string().trim().min(1).max(200).optional(),
  action: z
    .string()
    .trim()
    .regex(/^[a-z][a-z0-9_.-]*\*?$|^\*$/, { message: 'an action such as deployment.create, or a prefix ending in * such as secret.*' })
    .max(80)
    .optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_AUDIT_LIST).default(100),
  before: Seq.optional(),
  after: Seq.optional(),
});

export const LoginFailuresQuery = z.object({
  since: z.string().trim().refine(isSince, { message: 'write a look-back such as 1h, 7d, or an ISO date such as 2024-01-31' }).default('24h'),
  limit: z.coerce.number().int().min(1).max(MAX_AUDIT_LIST).default(200),
});

export function registerAuditRoutes(app: Hono<ApiEnv>, d: AuditRouteDeps): void {
  app.get('/v1/audit', async (c) => {
    const q = parse(AuditQuery, c.req.query(), 'query');
    const since = q.since === undefined ? undefined : parseSince(q.since, d.now?.() ?? new Date()).toISOString();
    return c.json(
      await d.audit.list({ since, actor: q.actor, action: q.action === '*' ? undefined : q.action, outcome: q.outcome, limit: q.limit, beforeSeq: q.before, afterSeq: q.after }),
    );
  });

  app.get('/v1/audit/logins', async (c) => {
    const q = parse(LoginFailuresQuery, c.req.query(), 'query');
    if (!d.loginAudit) return c.json([]);
    return c.json(await d.loginAudit.list(parseSince(q.since, d.now?.() ?? new Date()), q.limit));
  });

  app.get('/v1/audit/verify', async (c) => c.json(await d.audit.verify()));

  app.get('/v1/audit/export', (c) => {
    c.header('content-type', 'application/x-ndjson; charset=utf-8');
    c.header('content-disposition', 'attachment; filename="rollgate-audit.jsonl"');
    return stream(
      c,
      async (s) => {
        for await (const line of d.audit.jsonl()) {
          if (s.aborted) return;
          await s.write(line);
        }
      },
      // The 200 is sent already: end with a line that says the export is incomplete, so a
      // truncated file is never taken for the whole trail.
      async (_err, s) => {
        await s.write(JSON.stringify({ error: { code: 'internal', message: 'the export stopped early (the database read failed); run it again' } }) + '\n');
      },
    );
  });
}
