/**
 * Built-in metric source: the router's own per-version counters, read through a
 * TrafficProvider. Error rate (5xx and upstream failures, see counters.ts errorsOf), a latency
 * quantile in ms (from the histogram, interpolated as histogram_quantile does) and the request
 * rate in requests/s, over the last `windowMs`.
 *
 * The counters are monotonic since the agent started, so the source keeps the readings it took
 * per service and measures the change since the reading closest to `windowMs` ago (summing the
 * reading-to-reading changes, so a counter reset in between loses nothing). When it has no
 * earlier reading (first call for that service) it takes one, waits `min(windowMs,
 * firstSpanMs)` and takes another; the span actually covered is in `raw.spanMs`.
 *
 * No request reaching the canary in the window is inconclusive for error rate and latency
 * (nothing to judge), not a pass; request rate is then simply 0. A router that cannot be read
 * is an error.
 */
import type { ServiceKey, VersionMetrics } from '../core/dataplane.js';
import { sumMetrics } from '../core/analysis/counters.js';
import { errorMessage } from '../core/errors.js';
import { formatDuration } from '../core/duration.js';
import type { TrafficProvider } from '../traffic/types.js';
import { abortedMessage, deadline } from './deadline.js';
import { diffMetrics, emptyMetrics, errorRateOf, errorsOf, quantileFromHistogram } from './counters.js';
import { errorOf, inconclusiveOf, valueOf, type BuiltinQuery, type MeasureContext, type Measurement, type MetricSource } from './types.js';

export interface Reading {
  atMs: number;
  metrics: Record<string, VersionMetrics>;
}

export interface BuiltinSourceOptions {
  /** Longest wait for a first span when there is no earlier reading (default 1000 ms). */
  firstSpanMs?: number;
  /** Longest wait for one reading of the counters (default 5000 ms): a stuck agent is an error, not a hang. */
  readTimeoutMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** Readings older than the longest window asked for plus this are dropped. */
const KEEP_EXTRA_MS = 60_000;
const MAX_READINGS = 2000;

/** Change of one version's counters across consecutive readings (missing = zero). */
export function windowDiff(readings: readonly Reading[], version: string): VersionMetrics {
  let acc: VersionMetrics | null = null;
  for (let i = 1; i < readings.length; i++) {
    const cur = readings[i]!.metrics[version];
    if (!cur) continue;
    // A version absent from the previous reading started counting since: all of `cur` is new.
    const d = diffMetrics(readings[i - 1]!.metrics[version], cur);
    acc = acc ? sumMetrics(acc, d) : d;
  }
  return acc ?? emptyMetrics(readings[readings.length - 1]?.metrics[version]?.latency.boundsMs ?? []);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

interface VersionFigures {
  version: string;
  requests: number;
  errors: number;
  value: number | null;
}

export class BuiltinSource implements MetricSource<BuiltinQuery> {
  readonly kind = 'builtin' as const;
  private readonly history = new Map<string, Reading[]>();
  private readonly firstSpanMs: number;
  private readonly readTimeoutMs: number;
  private readonly now: () => number;
  private longestWindowMs = 0;

  constructor(
    private readonly traffic: TrafficProvider,
    opts: BuiltinSourceOptions = {},
  ) {
    this.firstSpanMs = opts.firstSpanMs ?? 1000;
    this.readTimeoutMs = opts.readTimeoutMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /** Forgets the readings of a service (its rollout ended). */
  forget(key: ServiceKey): void {
    this.history.delete(`${key.env}\u0000${key.app}`);
  }

  async measure(q: BuiltinQuery, ctx: MeasureContext): Promise<Measurement> {
    const what = `built-in ${q.metric} of ${ctx.app} in ${ctx.env}`;
    // Judged by the rollout analysis from the agent's per-instance samples, not from the router's counters.
    if (q.metric === 'memoryGrowth' || q.metric === 'cpuPerRequest') return errorOf(`${what} is judged from the agent's instance samples during a rollout's analysis; it is not a router counter`);
    if (ctx.signal.aborted) return errorOf(abortedMessage(what, ctx.signal));
    const key = { env: ctx.env, app: ctx.app };
    const id = `${key.env}\u0000${key.app}`;
    this.longestWindowMs = Math.max(this.longestWindowMs, ctx.windowMs);
    let readings = this.history.get(id);
    try {
      if (!readings || readings.length === 0) {
        readings = [await this.read(key, ctx.signal)];
        this.history.set(id, readings);
        await sleep(Math.max(1, Math.min(ctx.windowMs, this.firstSpanMs)), ctx.signal);
        if (ctx.signal.aborted) return errorOf(abortedMessage(what, ctx.signal));
      }
      const latest = await this.read(key, ctx.signal);
      readings.push(latest);
      this.prune(readings, latest.atMs);
    } catch (e) {
      if (ctx.signal.aborted) return errorOf(abortedMessage(what, ctx.signal));
      return errorOf(`cannot read the router's counters of ${ctx.app} in ${ctx.env}: ${errorMessage(e)}`);
    }
    // The window starts at the newest reading at least windowMs old, else the oldest one.
    const from = latestIndexAtOrBefore(readings, readings[readings.length - 1]!.atMs - ctx.windowMs);
    const span = readings.slice(from);
    const spanMs = span[span.length - 1]!.atMs - span[0]!.atMs;
    const figures = (version: string): VersionFigures => {
      const d = windowDiff(span, version);
      return { version, requests: d.requests, errors: errorsOf(d), value: this.figureOf(q, d, spanMs) };
    };
    const canary = figures(ctx.canary);
    const stable = ctx.stable === null ? null : figures(ctx.stable);
    const raw = { metric: q.metric, ...(q.metric === 'latency' ? { quantile: q.quantile } : {}), spanMs, canary, stable };
    if (canary.value === null) {
      return inconclusiveOf(`no request reached ${ctx.canary} in the last ${formatDuration(spanMs)}: nothing to judge ${q.metric} on yet`, raw);
    }
    return valueOf(canary.value, raw);
  }

  private figureOf(q: BuiltinQuery, d: VersionMetrics, spanMs: number): number | null {
    switch (q.metric) {
      case 'errorRate':
        return errorRateOf(d);
      case 'latency': {
        const v = quantileFromHistogram(d.latency, q.quantile);
        return Number.isNaN(v) ? null : v;
      }
      case 'requestRate':
        return spanMs > 0 ? d.requests / (spanMs / 1000) : null;
      default:
        return null;
    }
  }

  /** One reading, given up on abort or after readTimeoutMs (the provider call itself cannot be cancelled). */
  private async read(key: ServiceKey, signal: AbortSignal): Promise<Reading> {
    const d = deadline(signal, this.readTimeoutMs);
    try {
      const metrics = await Promise.race([
        this.traffic.metrics(key),
        new Promise<never>((_, reject) => {
          const fire = () => reject(new Error(d.reason('the reading', 'is the agent up and not overloaded?') ?? 'aborted'));
          if (d.signal.aborted) fire();
          else d.signal.addEventListener('abort', fire, { once: true });
        }),
      ]);
      return { atMs: this.now(), metrics };
    } finally {
      d.dispose();
    }
  }

  private prune(readings: Reading[], nowMs: number): void {
    const keepFrom = latestIndexAtOrBefore(readings, nowMs - this.longestWindowMs - KEEP_EXTRA_MS);
    const drop = Math.max(keepFrom, readings.length - MAX_READINGS);
    if (drop > 0) readings.splice(0, drop);
  }
}

/** Index of the newest reading taken at or before `t`; 0 when none is that old. */
function latestIndexAtOrBefore(readings: readonly Reading[], t: number): number {
  for (let i = readings.length - 1; i >= 0; i--) if (readings[i]!.atMs <= t) return i;
  return 0;
}
