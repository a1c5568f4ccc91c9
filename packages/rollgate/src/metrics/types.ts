/**
 * MetricSource: answers one metric query over a window, for automated analysis.
 * One file per implementation (builtin.ts, prometheus.ts, http-check.ts, command.ts),
 * as Flagger does with pkg/metrics/providers/.
 *
 * Contract: `measure` never throws and never hangs past its timeout. A measurement is one of
 * - a value:        `{ value, error: null }`
 * - an error:       `{ value: null, error: '<what failed and what to do>' }` — the query failed,
 *                   timed out, returned nothing usable. The engine counts consecutive errors and
 *                   fails the analysis past `consecutiveErrorLimit`: never a silent pass.
 * - inconclusive:   `{ value: null, error: null, inconclusive: '<why>' }` — the source worked
 *                   but there is nothing to judge yet (no request reached the version).
 *                   Only the built-in source returns this; the others call "no data" an error.
 */
import type { AnalysisMetric } from '../core/spec.js';

export type MetricKind = 'builtin' | 'prometheus' | 'http' | 'command';

export interface MeasureContext {
  app: string;
  env: string;
  /** The version under judgement. */
  canary: string;
  /** The version it is compared with; null on a first deployment. */
  stable: string | null;
  /** Look-back window of the measurement (Prometheus `{{window}}`, builtin diff span). */
  windowMs: number;
  /** Aborts the measurement (rollout ended); the result is then an error saying so. */
  signal: AbortSignal;
}

export type MetricValue = number | string | boolean;

export interface Measurement {
  value: MetricValue | null;
  error: string | null;
  /** Set when the source worked but had nothing to judge (value and error are null). */
  inconclusive?: string;
  /** ISO time the measurement finished. */
  at: string;
  /** What the value came from (status, exit code, labels, counts), for `rollgate status`. */
  raw?: unknown;
}

export interface MetricSource<Q> {
  readonly kind: MetricKind;
  measure(query: Q, ctx: MeasureContext): Promise<Measurement>;
}

/** Query types: the spec's sections, plus what the engine decides (command output, cwd). */
export type BuiltinQuery = NonNullable<AnalysisMetric['builtin']>;
export type PrometheusQuery = NonNullable<AnalysisMetric['prometheus']>;
export type HttpQuery = NonNullable<AnalysisMetric['http']>;
/**
 * `output`: `exit` (default) gives 1 for exit 0 and 0 otherwise; `number`, `text` and `boolean`
 * read the last non-empty line of stdout (the spec's "with condition, its last line is the value").
 */
export type CommandOutput = 'exit' | 'number' | 'text' | 'boolean';
export type CommandQuery = NonNullable<AnalysisMetric['command']> & { output?: CommandOutput; cwd?: string };

export function valueOf(value: MetricValue, raw?: unknown): Measurement {
  return { value, error: null, at: new Date().toISOString(), ...(raw === undefined ? {} : { raw }) };
}

export function errorOf(error: string, raw?: unknown): Measurement {
  return { value: null, error, at: new Date().toISOString(), ...(raw === undefined ? {} : { raw }) };
}

export function inconclusiveOf(reason: string, raw?: unknown): Measurement {
  return { value: null, error: null, inconclusive: reason, at: new Date().toISOString(), ...(raw === undefined ? {} : { raw }) };
}
