/**
 * The resource metrics of a rollout's analysis (memoryGrowth, cpuPerRequest): picks them from
 * the metrics declared, turns each agent report into the pure judge's input (core/analysis/
 * resources.ts) and keeps each metric's state for one analysis phase.
 */
import type { ServiceObserved } from '../core/dataplane.js';
import { parseDuration } from '../core/duration.js';
import { RESOURCE_METRICS, type AnalysisMetric } from '../core/spec.js';
import { judgeResource, newResourceState, resolveResourceConfig, type MetricVerdict, type ResourceConfig, type ResourceLook, type ResourceMetricKind, type ResourceSample, type ResourceState } from '../core/analysis/index.js';
import type { AnalysisPhase } from './analysis-types.js';

export interface ResourceJudge {
  cfg: ResourceConfig;
  state: ResourceState;
}

/** The declared resource metrics; without a stable version to compare with, only those with a `max`. */
export function resourceJudges(metrics: readonly AnalysisMetric[], phase: AnalysisPhase): ResourceJudge[] {
  const warmupMs = parseDuration(phase.spec.latencyWarmup);
  return metrics
    .filter((m) => m.builtin && RESOURCE_METRICS.has(m.builtin.metric) && (phase.compareToStable || m.builtin.max !== undefined))
    .map((m) => {
      const b = m.builtin!;
      const cfg = resolveResourceConfig({ name: m.name, metric: b.metric as ResourceMetricKind, factor: b.factor, noiseFloor: b.noiseFloor, max: b.max ?? null, warmupMs });
      return { cfg, state: newResourceState() };
    });
}

/** Each side's sampled instances in one agent report. */
export function resourceLook(observed: ServiceObserved | null, canary: string, stable: string | null): ResourceLook {
  const of = (version: string): ResourceSample[] => {
    const v = observed?.versions.find((x) => x.version === version);
    const out: ResourceSample[] = [];
    for (const i of v?.instances ?? []) {
      const r = i.resources;
      if (!r) continue;
      const requests = observed?.instanceLatency?.[i.id]?.count;
      out.push({ id: i.id, readyAtMs: i.readyAt === null ? null : Date.parse(i.readyAt), sampledAtMs: Date.parse(r.sampledAt), cpuSeconds: r.cpuSeconds, rssBytes: r.rssBytes, requests: requests ?? null });
    }
    return out;
  };
  return { canary: of(canary), stable: stable === null ? null : of(stable) };
}

/** One look of every resource metric (judges' states advance in place). */
export function lookResources(judges: ResourceJudge[], observed: ServiceObserved | null, canary: string, stable: string | null, now: number): MetricVerdict[] {
  if (judges.length === 0) return [];
  const look = resourceLook(observed, canary, stable);
  return judges.map((j) => {
    const r = judgeResource(j.state, look, j.cfg, now);
    j.state = r.state;
    return r.verdict;
  });
}
