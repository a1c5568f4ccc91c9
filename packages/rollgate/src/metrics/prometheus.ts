/**
 * Prometheus metric source: one instant query (`GET /api/v1/query`) per measurement.
 * The result must be one number: a scalar, or a vector with exactly one sample (a PromQL
 * string result is passed through as text). Anything else (no sample, several, NaN, ±Inf, a
 * range vector, a PromQL error) is a measurement error that says what to change in the query.
 */
import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import { deadline } from './deadline.js';
import { networkReason, readBodyText } from './http-body.js';
import { promDuration, renderPromQL } from './promql-template.js';
import { errorOf, valueOf, type MeasureContext, type Measurement, type MetricSource, type PrometheusQuery } from './types.js';

const Sample = z.tuple([z.number(), z.string()]);
const Labels = z.record(z.string(), z.string());
const Success = z.object({
  status: z.literal('success'),
  data: z.discriminatedUnion('resultType', [
    z.object({ resultType: z.literal('vector'), result: z.array(z.object({ metric: Labels, value: Sample })) }),
    z.object({ resultType: z.literal('scalar'), result: Sample }),
    z.object({ resultType: z.literal('string'), result: Sample }),
    z.object({ resultType: z.literal('matrix'), result: z.array(z.unknown()) }),
  ]),
  warnings: z.array(z.string()).optional(),
});
const Failure = z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string() });

/** Largest body read from Prometheus: a query meant to yield one number has no business being larger. */
const MAX_BODY = 4 * 1024 * 1024;

function labelText(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `{${parts.join(',')}}`;
}

/** Prometheus writes sample values as Go floats: "1.5", "NaN", "+Inf", "-Inf". */
function sampleValue(text: string, where: string, query: string): Measurement | number {
  const n = text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
  if (Number.isNaN(n)) {
    return errorOf(`${where} is NaN, usually 0/0 (no requests in the window); guard the division, e.g. (…) / (… > 0), or add "or vector(0)" if no traffic means zero`, { query, value: text });
  }
  if (!Number.isFinite(n)) return errorOf(`${where} is ${text} (a division by zero?); a metric must be a finite number`, { query, value: text });
  return n;
}

export class PrometheusSource implements MetricSource<PrometheusQuery> {
  readonly kind = 'prometheus' as const;

  async measure(q: PrometheusQuery, ctx: MeasureContext): Promise<Measurement> {
    const rendered = renderPromQL(q.query, ctx);
    if (!rendered.ok) return errorOf(`prometheus query: ${rendered.error}`, { template: q.query });
    const query = rendered.query;
    let timeoutMs: number;
    try {
      timeoutMs = parseDuration(q.timeout, 'prometheus timeout');
    } catch (e) {
      return errorOf(errorMessage(e));
    }
    const url = new URL('api/v1/query', q.address.endsWith('/') ? q.address : `${q.address}/`);
    url.searchParams.set('query', query);
    // Bound the evaluation on the server too, so a heavy query does not keep running there.
    url.searchParams.set('timeout', promDuration(timeoutMs));
    const where = `Prometheus at ${q.address}`;
    const d = deadline(ctx.signal, timeoutMs);
    try {
      let status: number;
      let text: string;
      try {
        const res = await fetch(url, { headers: { accept: 'application/json' }, signal: d.signal });
        status = res.status;
        text = await readBodyText(res, MAX_BODY);
      } catch (e) {
        return errorOf(d.reason(`query to ${where}`) ?? `cannot query ${where}: ${networkReason(e)}`, { query });
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return errorOf(`${where} answered HTTP ${status} with a body that is not JSON (${JSON.stringify(text.slice(0, 120))}); is the address a Prometheus server?`, { query, status });
      }
      const failed = Failure.safeParse(json);
      if (failed.success) {
        return errorOf(`${where} rejected the query (${failed.data.errorType ?? 'error'}): ${failed.data.error}`, { query, status });
      }
      const ok = Success.safeParse(json);
      if (!ok.success) return errorOf(`${where} answered HTTP ${status} with JSON that is not a query result; is the address a Prometheus server?`, { query, status });
      const { data, warnings } = ok.data;
      const raw = { query, resultType: data.resultType, ...(warnings?.length ? { warnings } : {}) };
      switch (data.resultType) {
        case 'scalar': {
          const v = sampleValue(data.result[1], 'the query result', query);
          return typeof v === 'number' ? valueOf(v, raw) : v;
        }
        case 'string':
          return valueOf(data.result[1], raw);
        case 'matrix':
          return errorOf('the query returns a range vector; a metric needs one number: wrap it, e.g. sum(rate(x[{{window}}]))', raw);
        case 'vector': {
          const n = data.result.length;
          if (n === 0) return errorOf(`no data: the query matched no series (check the metric name and labels, and that ${where} scrapes it)`, raw);
          if (n > 1) {
            const shown = data.result.slice(0, 3).map((s) => labelText(s.metric)).join(', ');
            return errorOf(`the query returned ${n} samples (${shown}${n > 3 ? ', …' : ''}); a metric needs exactly one: aggregate with sum(…) or max(…)`, raw);
          }
          const sample = data.result[0]!;
          const v = sampleValue(sample.value[1], `the sample ${labelText(sample.metric)}`, query);
          return typeof v === 'number' ? valueOf(v, { ...raw, labels: sample.metric }) : v;
        }
      }
    } finally {
      d.dispose();
    }
  }
}
