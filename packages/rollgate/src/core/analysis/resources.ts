/**
 * Resource judges, pure: what the canary's instances cost against the stable version's, from
 * the agent's per-instance samples (CPU seconds and resident memory of each process tree).
 *
 * - `memoryGrowth`: each side's resident-memory growth in bytes per second per instance, the
 *   least-squares slope within each instance over its warm samples (pooled across a side's
 *   instances: a garbage collector's saw-tooth averages out, a restart starts a new series).
 * - `cpuPerRequest`: each side's CPU milliseconds per request, summed over warm instances
 *   between samples (the CPU counter and the router's per-instance request count).
 *
 * Both leave out what an instance did before it had been ready for `warmupMs` (a fresh process
 * grows its heap and compiles code). The canary fails when its figure is above
 * `max(stable × factor, stable + noiseFloor)` (a negative stable figure counts as 0), or above
 * `max` when given, at `confirmations` consecutive new samples in a row: one noisy sample never
 * fails a rollout. Unlike error rate and latency this is a threshold rule, not a sequential test:
 * its false alarms are bounded by the noise floor and the confirmations, not by alpha.
 * Not enough warm samples (or requests) yet is inconclusive.
 */
import type { MetricVerdict } from './types.js';
import { stripUndefined } from './config.js';

/** One instance at one look: its readiness, its latest resource sample and the requests it answered. */
export interface ResourceSample {
  id: string;
  readyAtMs: number | null;
  /** When the agent sampled it (a look between samples sees the same one again). */
  sampledAtMs: number;
  cpuSeconds: number;
  rssBytes: number;
  /** Requests the router sent it so far (monotonic while the router knows it); null when unknown. */
  requests: number | null;
}

export interface ResourceLook {
  canary: readonly ResourceSample[];
  /** Null: no stable version to compare with (only `max` can then fail). */
  stable: readonly ResourceSample[] | null;
}

export type ResourceMetricKind = 'memoryGrowth' | 'cpuPerRequest';

export interface ResourceConfig {
  name: string;
  metric: ResourceMetricKind;
  /** Canary above stable × factor fails (with the noise floor). */
  factor: number;
  /** memoryGrowth: bytes per second per instance; cpuPerRequest: CPU ms per request. A difference below this always passes. */
  noiseFloor: number;
  /** Absolute limit on the canary's figure (same unit), or null. */
  max: number | null;
  /** Time after readiness an instance is not judged. */
  warmupMs: number;
  /** Consecutive new samples over the limit before the metric fails. */
  confirmations: number;
}

export const RESOURCE_DEFAULTS: Readonly<Record<ResourceMetricKind, Omit<ResourceConfig, 'name' | 'metric'>>> = Object.freeze({
  // A fresh Node process grows its heap by some MiB in its first seconds; 1 MiB/s is 60 MiB a minute.
  memoryGrowth: { factor: 2, noiseFloor: 1024 * 1024, max: null, warmupMs: 2000, confirmations: 3 },
  // A small HTTP handler costs 0.05–0.2 ms of CPU per request, more before the JIT has run.
  cpuPerRequest: { factor: 2, noiseFloor: 0.5, max: null, warmupMs: 2000, confirmations: 3 },
});

/** Warm samples an instance needs, and the span they must cover, before memory growth is judged. */
export const MEMORY_MIN_SAMPLES = 5;
export const MEMORY_MIN_SPAN_MS = 4000;
/** Warm requests a side needs before CPU per request is judged. */
export const CPU_MIN_REQUESTS = 200;

export function resolveResourceConfig(c: Partial<ResourceConfig> & { name: string; metric: ResourceMetricKind }): ResourceConfig {
  const r = { ...RESOURCE_DEFAULTS[c.metric], ...stripUndefined(c) } as ResourceConfig;
  if (!(r.factor >= 1)) throw new Error(`${r.name}: factor must be at least 1 (got ${r.factor})`);
  if (!(r.noiseFloor >= 0)) throw new Error(`${r.name}: noiseFloor must be 0 or more (got ${r.noiseFloor})`);
  if (!Number.isInteger(r.confirmations) || r.confirmations < 1) throw new Error(`${r.name}: confirmations must be a whole number from 1 (got ${r.confirmations})`);
  return r;
}

/** Running sums of one instance's warm (time, rss) series, time in seconds from `t0Ms`. */
interface Series {
  n: number;
  st: number;
  sr: number;
  stt: number;
  str: number;
  firstMs: number;
  lastMs: number;
}

interface Last {
  readyAtMs: number | null;
  sampledAtMs: number;
  cpuSeconds: number;
  requests: number | null;
}

interface Side {
  /** Memory: by instance id and readiness (a restart starts a new series). */
  series: Record<string, Series>;
  /** CPU: warm totals. */
  cpuSeconds: number;
  requests: number;
  last: Record<string, Last>;
}

export interface ResourceState {
  t0Ms: number | null;
  canary: Side;
  stable: Side;
  /** Consecutive new samples with the canary over its limit. */
  over: number;
  failed: MetricVerdict | null;
}

const newSide = (): Side => ({ series: {}, cpuSeconds: 0, requests: 0, last: {} });

export function newResourceState(): ResourceState {
  return { t0Ms: null, canary: newSide(), stable: newSide(), over: 0, failed: null };
}

const warm = (readyAtMs: number | null, atMs: number, warmupMs: number) => readyAtMs !== null && readyAtMs + warmupMs <= atMs;

/** Adds one look's new samples of a side; returns whether any sample was new. */
function addSide(prev: Side, samples: readonly ResourceSample[], t0Ms: number, warmupMs: number): { side: Side; fresh: boolean } {
  const side: Side = { series: { ...prev.series }, cpuSeconds: prev.cpuSeconds, requests: prev.requests, last: { ...prev.last } };
  let fresh = false;
  for (const s of samples) {
    const before = prev.last[s.id];
    if (before && before.sampledAtMs >= s.sampledAtMs) continue; // the same sample seen again
    fresh = true;
    side.last[s.id] = { readyAtMs: s.readyAtMs, sampledAtMs: s.sampledAtMs, cpuSeconds: s.cpuSeconds, requests: s.requests };
    if (!warm(s.readyAtMs, s.sampledAtMs, warmupMs)) continue;
    const key = `${s.id}@${s.readyAtMs}`;
    const t = (s.sampledAtMs - t0Ms) / 1000;
    const cur = side.series[key] ?? { n: 0, st: 0, sr: 0, stt: 0, str: 0, firstMs: s.sampledAtMs, lastMs: s.sampledAtMs };
    // Megabytes keep the sums small enough for exact-enough floating point.
    const r = s.rssBytes / 1e6;
    side.series[key] = { n: cur.n + 1, st: cur.st + t, sr: cur.sr + r, stt: cur.stt + t * t, str: cur.str + t * r, firstMs: cur.firstMs, lastMs: s.sampledAtMs };
    // CPU between two samples of the same readiness, both warm, counters not gone down.
    if (before && before.readyAtMs === s.readyAtMs && warm(before.readyAtMs, before.sampledAtMs, warmupMs) && before.requests !== null && s.requests !== null) {
      const dc = s.cpuSeconds - before.cpuSeconds;
      const dr = s.requests - before.requests;
      if (dc >= 0 && dr >= 0) {
        side.cpuSeconds += dc;
        side.requests += dr;
      }
    }
  }
  return { side, fresh };
}

/** Pooled within-instance slope in bytes per second; null without a series long enough. */
export function memorySlope(series: Readonly<Record<string, Series>>): number | null {
  let sxy = 0;
  let sxx = 0;
  let long = false;
  for (const s of Object.values(series)) {
    if (s.n < 2) continue;
    sxy += s.str - (s.st * s.sr) / s.n;
    sxx += s.stt - (s.st * s.st) / s.n;
    if (s.n >= MEMORY_MIN_SAMPLES && s.lastMs - s.firstMs >= MEMORY_MIN_SPAN_MS) long = true;
  }
  return long && sxx > 0 ? (sxy / sxx) * 1e6 : null;
}

/** A side's figure in the metric's unit; null when it has too little data. */
function figure(side: Side, metric: ResourceMetricKind): number | null {
  if (metric === 'memoryGrowth') return memorySlope(side.series);
  return side.requests >= CPU_MIN_REQUESTS ? (side.cpuSeconds * 1000) / side.requests : null;
}

function unitOf(metric: ResourceMetricKind, v: number): string {
  if (metric === 'memoryGrowth') return `${(v / (1024 * 1024)).toFixed(2)} MiB/s per instance`;
  return `${v.toFixed(3)} ms CPU per request`;
}

/** One look of a resource metric. Pure: returns the next state and the verdict. */
export function judgeResource(state: ResourceState, look: ResourceLook, cfgIn: Partial<ResourceConfig> & { name: string; metric: ResourceMetricKind }, atMs: number): { state: ResourceState; verdict: MetricVerdict } {
  const cfg = resolveResourceConfig(cfgIn);
  if (state.failed) return { state, verdict: state.failed };
  const t0Ms = state.t0Ms ?? atMs;
  const c = addSide(state.canary, look.canary, t0Ms, cfg.warmupMs);
  const s = look.stable === null ? null : addSide(state.stable, look.stable, t0Ms, cfg.warmupMs);
  const next: ResourceState = { ...state, t0Ms, canary: c.side, stable: s ? s.side : state.stable };
  const canary = figure(next.canary, cfg.metric);
  const stable = s ? figure(next.stable, cfg.metric) : null;
  const details = {
    factor: cfg.factor,
    noiseFloor: cfg.noiseFloor,
    max: cfg.max,
    canaryWarmRequests: next.canary.requests,
    stableWarmRequests: next.stable.requests,
    canaryCpuSeconds: next.canary.cpuSeconds,
    stableCpuSeconds: next.stable.cpuSeconds,
    overInARow: next.over,
  };
  const base = { metric: cfg.name, canary, stable };
  const need = cfg.metric === 'memoryGrowth' ? `${MEMORY_MIN_SAMPLES} samples over ${MEMORY_MIN_SPAN_MS / 1000}s of a warm instance` : `${CPU_MIN_REQUESTS} requests to warm instances`;
  if (canary === null || (s && stable === null && cfg.max === null)) {
    const who = canary === null ? 'the canary' : 'the stable version';
    const samples = canary === null ? look.canary : (look.stable ?? []);
    // Say why when nothing comes at all: an agent older than resource sampling reports none.
    const none = samples.length === 0 ? ' (no CPU and memory samples of its instances in the report: is the agent older than resource sampling, or not on Linux?)' : '';
    return { state: { ...next, over: 0 }, verdict: { ...base, verdict: 'inconclusive', final: false, reason: `waiting for ${need} of ${who}${none}`, details } };
  }
  const limits: { limit: number; why: string }[] = [];
  if (stable !== null) {
    const st = Math.max(0, stable);
    limits.push({ limit: Math.max(st * cfg.factor, st + cfg.noiseFloor), why: `stable's ${unitOf(cfg.metric, stable)} (factor ${cfg.factor}, noise floor ${unitOf(cfg.metric, cfg.noiseFloor)})` });
  }
  if (cfg.max !== null) limits.push({ limit: cfg.max, why: `the limit ${unitOf(cfg.metric, cfg.max)}` });
  const broken = limits.find((l) => canary > l.limit);
  const what = cfg.metric === 'memoryGrowth' ? 'memory grows' : 'uses';
  if (!broken) {
    const against = limits.map((l) => l.why).join(' and ');
    return { state: { ...next, over: 0 }, verdict: { ...base, verdict: 'pass', final: false, reason: `canary ${what} ${unitOf(cfg.metric, canary)}, within ${against}`, details: { ...details, overInARow: 0 } } };
  }
  const fresh = c.fresh || (s?.fresh ?? false);
  const over = next.over + (fresh ? 1 : 0);
  const reason = `canary ${what} ${unitOf(cfg.metric, canary)}, above ${broken.why}`;
  if (over < cfg.confirmations) {
    return { state: { ...next, over }, verdict: { ...base, verdict: 'inconclusive', final: false, reason: `${reason}: confirming (${over} of ${cfg.confirmations} samples)`, details: { ...details, overInARow: over } } };
  }
  const verdict: MetricVerdict = { ...base, verdict: 'fail', final: true, reason: `${reason} at ${over} samples in a row`, details: { ...details, overInARow: over, limit: broken.limit } };
  return { state: { ...next, over, failed: verdict }, verdict };
}
