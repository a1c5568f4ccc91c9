/**
 * The metric sources of automated analysis, keyed by kind, and the dispatcher that measures
 * one spec metric (`AnalysisMetric`) with the source its spec names.
 */
import type { AnalysisMetric } from '../core/spec.js';
import { errorMessage } from '../core/errors.js';
import { maskStrings, type MaskText } from '../core/secret-masker.js';
import type { TrafficProvider } from '../traffic/types.js';
import { BuiltinSource, type BuiltinSourceOptions } from './builtin.js';
import { CommandSource, type CommandSourceOptions } from './command.js';
import { HttpCheckSource } from './http-check.js';
import { PrometheusSource } from './prometheus.js';
import { errorOf, type CommandOutput, type MeasureContext, type Measurement } from './types.js';

export * from './types.js';
export { diffMetrics, errorsOf, errorRateOf, emptyMetrics, isReset, quantileFromHistogram, meanLatencyMs } from './counters.js';
export { BuiltinSource, type BuiltinSourceOptions } from './builtin.js';
export { CommandSource, type CommandSourceOptions } from './command.js';
export { HttpCheckSource } from './http-check.js';
export { PrometheusSource } from './prometheus.js';
export { renderPromQL, promDuration } from './promql-template.js';

export interface MetricSources {
  builtin: BuiltinSource;
  prometheus: PrometheusSource;
  http: HttpCheckSource;
  command: CommandSource;
  /** Measures one metric of the spec with its source. Never throws. `cwd`: where a command runs (e.g. the release directory). */
  measure(metric: AnalysisMetric, ctx: MeasureContext, opts?: { cwd?: string }): Promise<Measurement>;
}

export interface MetricSourcesDeps {
  traffic: TrafficProvider;
  builtin?: BuiltinSourceOptions;
  /** `cwd` here is where commands run when the caller gives none (e.g. the release directory). */
  command?: CommandSourceOptions;
  /**
   * Known secret values out of every measurement (the server's masker): an answer quotes what a
   * command printed or what an endpoint answered, and is shown as evidence.
   */
  mask?: MaskText;
}

/**
 * What a command metric's value is, from its condition: none → the exit code decides;
 * `min`/`max`/numeric `equals` → the last output line as a number; a string or boolean
 * `equals` → that line as text or as true/false.
 */
export function commandOutputFor(metric: AnalysisMetric): CommandOutput {
  const c = metric.condition;
  if (!c) return 'exit';
  if (c.min !== undefined || c.max !== undefined || typeof c.equals === 'number') return 'number';
  if (typeof c.equals === 'boolean') return 'boolean';
  if (typeof c.equals === 'string') return 'text';
  return 'exit';
}

export function createMetricSources(deps: MetricSourcesDeps): MetricSources {
  const sources = {
    builtin: new BuiltinSource(deps.traffic, deps.builtin),
    prometheus: new PrometheusSource(),
    http: new HttpCheckSource(),
    command: new CommandSource(deps.command),
  };
  const dispatch = (m: AnalysisMetric, ctx: MeasureContext, cwd: string | undefined): Promise<Measurement> => {
    if (m.builtin) return sources.builtin.measure(m.builtin, ctx);
    if (m.prometheus) return sources.prometheus.measure(m.prometheus, ctx);
    if (m.http) return sources.http.measure(m.http, ctx);
    if (m.command) return sources.command.measure({ ...m.command, output: commandOutputFor(m), ...(cwd === undefined ? {} : { cwd }) }, ctx);
    // The spec schema forbids this; answer with an error rather than a silent pass.
    return Promise.resolve(errorOf(`metric "${m.name}" names no source (builtin, prometheus, http or command)`));
  };
  return {
    ...sources,
    async measure(m, ctx, opts) {
      let r: Measurement;
      try {
        r = await dispatch(m, ctx, opts?.cwd);
      } catch (e) {
        // A source bug must still count as a failed measurement, never as a pass.
        r = errorOf(`metric "${m.name}" could not be measured: ${errorMessage(e)}`);
      }
      return deps.mask ? { ...maskStrings(r, deps.mask), at: r.at } : r;
    },
  };
}
