/**
 * HTTP check metric source: one request per measurement.
 *
 * What counts as what (the choice the engine relies on):
 * - The service answered with the expected status (`expectStatus`, default any 2xx): value 1.
 * - It answered with another status: value 0, not an error. A wrong answer is a real
 *   observation of the service (a failed check), judged like any failed measurement.
 * - With `jsonPath`, the value is that JSON field (number, string or boolean) of an answer with
 *   the expected status. A wrong status, a body that is not JSON, a missing or non-scalar
 *   field: error, since there is no value to judge.
 * - No answer at all (timeout, connection refused, unknown host, body over 1 MiB): error.
 *
 * `{{app}} {{env}} {{canary}} {{stable}} {{window}}` in the URL are replaced (URL-encoded).
 */
import { parseDuration } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import { deadline } from './deadline.js';
import { networkReason, readBodyText } from './http-body.js';
import { promDuration } from './promql-template.js';
import { errorOf, valueOf, type HttpQuery, type MeasureContext, type Measurement, type MetricSource, type MetricValue } from './types.js';

const MAX_BODY = 1024 * 1024;
const SNIPPET = 200;

export function fillUrl(template: string, ctx: MeasureContext): { ok: true; url: string } | { ok: false; error: string } {
  const vars: Record<string, string | null> = { app: ctx.app, env: ctx.env, canary: ctx.canary, stable: ctx.stable, window: promDuration(ctx.windowMs) };
  let error: string | null = null;
  const url = template.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (whole, name: string) => {
    if (!(name in vars)) error ??= `unknown template variable {{${name}}} in the URL; known: {{app}} {{env}} {{canary}} {{stable}} {{window}}`;
    else if (vars[name] === null) error ??= 'the URL uses {{stable}} but there is no stable version yet (first deployment)';
    else return encodeURIComponent(vars[name] as string);
    return whole;
  });
  return error ? { ok: false, error } : { ok: true, url };
}

/** Follows a dotted path (`data.items.0.value`) through parsed JSON; array segments are indices. */
export function jsonPathValue(doc: unknown, path: string): { ok: true; value: MetricValue } | { ok: false; error: string } {
  let cur: unknown = doc;
  const seen: string[] = [];
  for (const seg of path.split('.')) {
    seen.push(seg);
    if (Array.isArray(cur) && /^\d+$/.test(seg)) cur = cur[Number(seg)];
    else if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, seg)) cur = (cur as Record<string, unknown>)[seg];
    else return { ok: false, error: `the JSON answer has no field "${seen.join('.')}"` };
  }
  if (typeof cur === 'number' || typeof cur === 'string' || typeof cur === 'boolean') return { ok: true, value: cur };
  const kind = cur === null ? 'null' : Array.isArray(cur) ? 'an array' : typeof cur === 'object' ? 'an object' : typeof cur;
  return { ok: false, error: `the JSON field "${path}" is ${kind}; point jsonPath at a number, string or boolean` };
}

export class HttpCheckSource implements MetricSource<HttpQuery> {
  readonly kind = 'http' as const;

  async measure(q: HttpQuery, ctx: MeasureContext): Promise<Measurement> {
    const filled = fillUrl(q.url, ctx);
    if (!filled.ok) return errorOf(`http check: ${filled.error}`);
    const url = filled.url;
    let timeoutMs: number;
    try {
      timeoutMs = parseDuration(q.timeout, 'http check timeout');
    } catch (e) {
      return errorOf(errorMessage(e));
    }
    const d = deadline(ctx.signal, timeoutMs);
    let status: number;
    let body: string;
    try {
      const res = await fetch(url, { method: q.method, headers: q.headers, signal: d.signal });
      status = res.status;
      body = q.method === 'HEAD' ? '' : await readBodyText(res, MAX_BODY);
    } catch (e) {
      return errorOf(d.reason(`${q.method} ${url}`) ?? `${q.method} ${url} failed: ${networkReason(e)}`, { url });
    } finally {
      d.dispose();
    }
    const expected = q.expectStatus === undefined ? '2xx' : String(q.expectStatus);
    const matches = q.expectStatus === undefined ? status >= 200 && status < 300 : status === q.expectStatus;
    const raw = { url, status, expected, body: body.slice(0, SNIPPET) };
    if (q.jsonPath === undefined) return valueOf(matches ? 1 : 0, raw);
    if (!matches) return errorOf(`${q.method} ${url} answered ${status}, expected ${expected}; no "${q.jsonPath}" to read`, raw);
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      return errorOf(`${q.method} ${url} answered ${status} with a body that is not JSON (${JSON.stringify(body.slice(0, 80))}); jsonPath needs a JSON answer`, raw);
    }
    const field = jsonPathValue(doc, q.jsonPath);
    return field.ok ? valueOf(field.value, raw) : errorOf(`${q.method} ${url}: ${field.error}`, raw);
  }
}
