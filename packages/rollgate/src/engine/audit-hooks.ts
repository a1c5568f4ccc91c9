/**
 * Feeding the audit trail. Two ways, both here:
 *  - from API handlers (recommended): `auditRequest` / `audited` take the Hono context, so the
 *    entry has the authenticated actor, the client address and user agent, the state before and
 *    after, and denied or failed attempts too;
 *  - from the event bus: `eventToAudit` maps platform events that record a change to entries,
 *    and `feedAuditFromEvents` subscribes; useful for what the platform does on its own
 *    (automatic rollbacks, chaos expiry, pipeline-driven deployments), which no request carries.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Context } from 'hono';
import type { ApiEnv } from '../api/http.js';
import type { EventRecord } from '../core/domain.js';
import { isRollgateError } from '../core/errors.js';
import type { AuditEntry, AuditInput, AuditOutcome, AuditSource, AuditTrail } from './audit.js';
import type { EventBus } from './events.js';

/** Actor of entries made by the platform itself (no person asked for them). */
export const SYSTEM_ACTOR = 'system';
/** Actor when a request reached an audit before authentication said who it was. */
export const ANONYMOUS_ACTOR = 'anonymous';

export interface AuditHookOptions {
  /**
   * Behind a reverse proxy that appends the client address to X-Forwarded-For: take the
   * address the proxy saw (the last entry; with a number N, the Nth from the end, for N proxies
   * in a row). Off by default: the header is then ignored, since any client can send one.
   */
  trustProxy?: boolean | number | undefined;
  /**
   * `audited` only: where a failure to record a refused or failed attempt goes (the request
   * then fails with its own error, not the trail's). Default: ignored.
   */
  onAuditError?: ((e: unknown) => void) | undefined;
}

/** Where a request came from: the socket's peer (or the trusted proxy's report) and the user agent. */
export function requestSource(c: Context<ApiEnv>, opts: AuditHookOptions = {}): AuditSource {
  const hops = opts.trustProxy === true ? 1 : typeof opts.trustProxy === 'number' ? Math.max(0, Math.floor(opts.trustProxy)) : 0;
  let address: string | null = null;
  if (hops > 0) {
    const chain = (c.req.header('x-forwarded-for') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const candidate = chain[chain.length - hops];
    if (candidate !== undefined && isIP(candidate) !== 0) address = candidate;
  }
  address ??= socketAddress(c);
  return { address: address === null ? null : unmapV4(address), userAgent: c.req.header('user-agent') ?? null };
}

/** The authenticated actor, or ANONYMOUS_ACTOR before authentication. */
export function requestActor(c: Context<ApiEnv>): string {
  // Unset (undefined) until the auth middleware has run.
  const a: unknown = c.get('actor');
  return typeof a === 'string' && a !== '' ? a : ANONYMOUS_ACTOR;
}

export type RequestAudit = Omit<AuditInput, 'actor' | 'source'> & { actor?: string | undefined };

/** Records one entry for this request: actor and source from the context. */
export function auditRequest(trail: AuditTrail, c: Context<ApiEnv>, entry: RequestAudit, opts: AuditHookOptions = {}): Promise<AuditEntry> {
  return trail.record({ ...entry, actor: entry.actor ?? requestActor(c), source: requestSource(c, opts) });
}

/**
 * Runs a mutation and records it: `ok` with before/after(result) when it succeeds; when it
 * throws, `denied` (401/403) or `failed` with the error's code and message (messages are written
 * to leak nothing), then rethrows that error. A trail that cannot record a success fails the
 * request (500): the change happened but is not on record, which the server's log must show.
 */
export async function audited<T>(
  trail: AuditTrail,
  c: Context<ApiEnv>,
  spec: { action: string; target: string; before?: unknown; after?: (result: T) => unknown; redact?: readonly string[] },
  run: () => Promise<T>,
  opts: AuditHookOptions = {},
): Promise<T> {
  let result: T;
  try {
    result = await run();
  } catch (e) {
    const denied = isRollgateError(e) && (e.code === 'unauthorized' || e.code === 'forbidden');
    const error = isRollgateError(e) ? { code: e.code, message: e.message } : { code: 'internal', message: 'internal error' };
    await auditRequest(trail, c, { action: spec.action, target: spec.target, outcome: denied ? 'denied' : 'failed', before: spec.before, after: { error }, redact: spec.redact }, opts).catch(
      (auditError: unknown) => opts.onAuditError?.(auditError),
    );
    throw e;
  }
  await auditRequest(trail, c, { action: spec.action, target: spec.target, outcome: 'ok', before: spec.before, after: spec.after ? spec.after(result) : undefined, redact: spec.redact }, opts);
  return result;
}

function socketAddress(c: Context<ApiEnv>): string | null {
  // @hono/node-server passes { incoming, outgoing } as the env of each request.
  const env = c.env as { incoming?: IncomingMessage } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? null;
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) as `10.0.0.1`. */
function unmapV4(a: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  return m ? m[1]! : a;
}

// ---- from the event bus

const DEPLOYMENT_COMMANDS = new Set(['promote', 'pause', 'resume', 'abort', 'fail']);

/**
 * The audit entry for a platform event that records a change, or null for events that only
 * report progress (steps, instances, traffic, analysis, stage logs). Events carry no client
 * address, and some (deployment.created, release.created) no actor: those get SYSTEM_ACTOR.
 */
export function eventToAudit(e: EventRecord): AuditInput | null {
  const data = (e.data !== null && typeof e.data === 'object' ? e.data : {}) as Record<string, unknown>;
  const str = (k: string): string | null => (typeof data[k] === 'string' && data[k] !== '' ? (data[k] as string) : null);
  const actor = str('actor') ?? SYSTEM_ACTOR;
  const where = { ...(e.app ? { app: e.app } : {}), ...(e.env ? { env: e.env } : {}) };
  const { actor: _omit, ...rest } = data;
  const after = { ...where, ...rest };
  const entry = (action: string, target: string, extra: Partial<AuditInput> = {}): AuditInput => ({ actor, action, target, after, ...extra });
  const [noun, ...verbParts] = e.type.split('.');
  const verb = verbParts.join('.');

  switch (noun) {
    case 'deployment': {
      const target = `deployment/${e.deploymentId ?? 'unknown'}`;
      if (verb === 'created') return entry('deployment.create', target);
      if (DEPLOYMENT_COMMANDS.has(verb)) return entry(`deployment.${verb}`, target);
      if (verb === 'reverting') return entry('deployment.revert', target, { actor: SYSTEM_ACTOR });
      if (verb === 'finished') {
        const status = str('status');
        const outcome: AuditOutcome = status === 'succeeded' ? 'ok' : 'failed';
        return entry('deployment.finish', target, { actor: SYSTEM_ACTOR, outcome });
      }
      return null;
    }
    case 'release':
      if (verb === 'pruned') return entry('release.prune', `app/${e.app ?? 'unknown'}/release/${str('version') ?? 'unknown'}`);
      return verb === 'created' ? entry('release.create', `app/${e.app ?? 'unknown'}/release/${str('version') ?? 'unknown'}`) : null;
    case 'spec':
      return verb === 'applied' ? entry('spec.apply', 'spec') : null;
    case 'pipeline': {
      const target = `run/${str('runId') ?? 'unknown'}`;
      const map: Record<string, string> = { queued: 'pipeline.run', cancel: 'pipeline.cancel', retry: 'pipeline.retry', approved: 'pipeline.approve', rejected: 'pipeline.reject' };
      return map[verb] ? entry(map[verb], target) : null;
    }
    case 'chaos': {
      const target = `chaos/${str('id') ?? 'unknown'}`;
      if (verb === 'started') return entry('chaos.start', target);
      if (verb === 'stopped') return entry('chaos.stop', target);
      return null;
    }
    case 'incident': {
      const target = `incident/${str('id') ?? 'unknown'}`;
      if (verb === 'opened') return entry('incident.open', target);
      if (verb === 'resolved') return entry('incident.resolve', target, { actor: str('resolvedBy') ?? SYSTEM_ACTOR });
      return null;
    }
    default:
      return null;
  }
}

/**
 * Records every event `eventToAudit` maps (and `only` keeps), in event order. `stop()`
 * unsubscribes and waits for the entries in flight. A failed record goes to `onError`.
 */
export function feedAuditFromEvents(
  bus: EventBus,
  trail: AuditTrail,
  opts: { onError: (e: unknown, event: EventRecord) => void; only?: (entry: AuditInput, event: EventRecord) => boolean },
): { stop(): Promise<void> } {
  let queue: Promise<unknown> = Promise.resolve();
  const unsubscribe = bus.subscribe((ev) => {
    const entry = eventToAudit(ev);
    if (!entry || (opts.only && !opts.only(entry, ev))) return;
    queue = queue.then(() => trail.record(entry)).catch((err: unknown) => opts.onError(err, ev));
  });
  return {
    async stop() {
      unsubscribe();
      await queue;
    },
  };
}
