/** One HTTP POST for the notifiers, classified the way the dispatcher retries. */
import { request, type Dispatcher } from 'undici';
import type { DeliveryResult } from './types.js';

export const USER_AGENT = 'Rollgate-Notify/0.1';

export interface PostOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  /** undici dispatcher (connection pool); the global one when absent. */
  http?: Dispatcher | undefined;
  /** Strings to blank out of error messages (the URL's secret parts, a signing secret). */
  redact?: readonly string[] | undefined;
}

export async function postJson(o: PostOptions): Promise<DeliveryResult> {
  const t0 = performance.now();
  try {
    const res = await request(o.url, {
      method: 'POST',
      headers: { 'user-agent': USER_AGENT, ...o.headers },
      body: o.body,
      signal: o.signal,
      ...(o.http ? { dispatcher: o.http } : {}),
    });
    // Drain (bounded) so the connection goes back to the pool; the receiver's body is not kept.
    await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    const status = res.statusCode;
    const durationMs = performance.now() - t0;
    if (status >= 200 && status < 300) return { ok: true, status, retryable: false, error: null, retryAfterMs: null, durationMs };
    const retryable = status === 408 || status === 429 || status >= 500;
    return { ok: false, status, retryable, error: `endpoint answered HTTP ${status}`, retryAfterMs: retryAfter(res.headers['retry-after']), durationMs };
  } catch (e) {
    const durationMs = performance.now() - t0;
    return { ok: false, status: null, retryable: true, error: redact(describe(e, o.signal), o.redact), retryAfterMs: null, durationMs };
  }
}

function describe(e: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const r: unknown = signal.reason;
    if (r instanceof Error && r.name === 'TimeoutError') return 'endpoint did not answer in time (timed out)';
    return 'delivery aborted';
  }
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code ?? (e.cause as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

function retryAfter(h: string | string[] | undefined): number | null {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return null;
  const secs = Number(v);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

export function redact(s: string, secrets: readonly string[] | undefined): string {
  let out = s;
  for (const x of secrets ?? []) if (x.length >= 4) out = out.split(x).join('***');
  return out;
}

/**
 * A URL safe to show: credentials, query and (for URLs that are themselves secrets, like Slack's)
 * the path are masked.
 */
export function maskUrl(url: string, opts: { hidePath?: boolean } = {}): string {
  try {
    const u = new URL(url);
    const path = opts.hidePath ? (u.pathname === '/' ? '/' : '/***') : u.pathname;
    return `${u.protocol}//${u.host}${path}${u.search ? '?***' : ''}`;
  } catch {
    return '***';
  }
}

/** The parts of a URL that may be secret, for redacting error messages. */
export function secretPartsOfUrl(url: string, hidePath: boolean): string[] {
  try {
    const u = new URL(url);
    const parts = [u.username, u.password, u.search.slice(1)];
    if (hidePath && u.pathname !== '/') parts.push(u.pathname);
    return parts.filter((p) => p.length > 0);
  } catch {
    return [url];
  }
}
