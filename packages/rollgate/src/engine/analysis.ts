/**
 * Automated analysis of a rollout: feeds the pure judge (core/analysis) with the router's
 * counters at every executor look, measures external metrics (Prometheus, HTTP, command) on
 * their own intervals, and turns it all into one verdict per look. Evidence lives in memory per
 * deployment and phase; after a server restart a phase starts a fresh (still valid) test.
 */
import type { ServiceObserved } from '../core/dataplane.js';
import type { AnalysisSnapshot, DeploymentRecord, MetricSnapshot } from '../core/domain.js';
import { parseDuration } from '../core/duration.js';
import type { AnalysisMetric } from '../core/spec.js';
import {
  combine,
  judgeRequestRate,
  judgeThreshold,
  lookBuiltin,
  newBuiltinAnalysis,
  newThresholdState,
  type BuiltinConfig,
  type BuiltinState,
  type Condition,
  type InstanceSample,
  type InstancesSnapshot,
  type MetricVerdict,
  type ThresholdState,
} from '../core/analysis/index.js';
import type { MetricSources } from '../metrics/index.js';
import type { AnalysisEvaluator, AnalysisPhase, AnalysisResult } from './analysis-types.js';
import { idleDecision } from './analysis-idle.js';
import { lookResources, resourceJudges, type ResourceJudge } from './analysis-resources.js';
import type { Logger } from './logger.js';

/** With no metrics written: error rate and p99 latency against stable, and a traffic floor. */
const DEFAULT_METRICS: AnalysisMetric[] = [
  { name: 'error-rate', interval: '1s', failureLimit: 0, inconclusiveLimit: 0, onInconclusive: 'pause', consecutiveErrorLimit: 4, builtin: { metric: 'errorRate', quantile: 0.99, max: 0.05, compareToStable: true, tolerance: 1.2 } },
  { name: 'latency-p99', interval: '1s', failureLimit: 0, inconclusiveLimit: 0, onInconclusive: 'pause', consecutiveErrorLimit: 4, builtin: { metric: 'latency', quantile: 0.99, compareToStable: true, tolerance: 1.2 } },
];

interface External {
  metric: AnalysisMetric;
  cond: Condition;
  state: ThresholdState;
  verdict: MetricVerdict | null;
  timer: NodeJS.Timeout | null;
  busy: boolean;
}

interface Run {
  phase: string;
  startedAt: number;
  startDelayMs: number;
  durationMs: number | null;
  /** Error rate is judged from the start; latency after a warm-up (see AnalysisSpec.latencyWarmup). */
  groups: BuiltinGroup[];
  /** memoryGrowth and cpuPerRequest, from the agent's per-instance samples. */
  resources: ResourceJudge[];
  floor: { name: string; minPerSecond: number } | null;
  canaryRequestsAtStart: number | null;
  baselineAt: number;
  restartsAtStart: number | null;
  /** The new version's request counter at the first look (the idle rule counts from it). */
  trafficBaseline: number | null;
  external: External[];
  onInconclusive: 'pause' | 'fail';
  abort: AbortController;
}

export class AnalysisRunner implements AnalysisEvaluator {
  private readonly runs = new Map<string, Run>();

  constructor(private readonly d: { sources: MetricSources; log: Logger }) {}

  async evaluate(dep: DeploymentRecord, phase: AnalysisPhase, observed: ServiceObserved | null, now: number): Promise<AnalysisResult | null> {
    let run = this.runs.get(dep.id);
    if (!run || run.phase !== phase.name) {
      if (run) this.stop(run);
      // A step's window is the step's own: it starts when the step started, not at the first look.
      run = this.start(dep, phase, phase.name.startsWith('step-') ? Math.min(now, Date.parse(dep.state.stepStartedAt)) : now);
      this.runs.set(dep.id, run);
    }
    const startedIso = new Date(run.startedAt).toISOString();
    const snapshot = (verdict: AnalysisSnapshot['verdict'], reason: string, metrics: MetricVerdict[]): AnalysisSnapshot => ({
      phase: phase.name,
      verdict,
      reason,
      startedAt: startedIso,
      at: new Date(now).toISOString(),
      metrics: metrics.map(toSnapshot),
    });
    if (now - run.startedAt < run.startDelayMs) {
      return { snapshot: snapshot('running', `waiting ${Math.ceil((run.startDelayMs - (now - run.startedAt)) / 1000)}s (startDelay) before judging`, []), hold: null, passed: false };
    }

    const canaryM = observed?.metrics[dep.version];
    const stableM = phase.compareToStable && dep.previousVersion ? observed?.metrics[dep.previousVersion] : null;
    const metrics: MetricVerdict[] = [];

    // Built-in router metrics: sequential tests over counts since each group began.
    const snap = { canary: canaryM, stable: stableM === null ? null : stableM, instances: instancesSnapshot(observed, dep.version, stableM === null ? null : dep.previousVersion) };
    for (const g of run.groups) {
      if (now - run.startedAt < run.startDelayMs + g.afterMs) {
        metrics.push(...g.waiting);
      } else if (!g.state) {
        g.state = newBuiltinAnalysis(snap, g.cfg);
        metrics.push(...g.waiting);
      } else {
        const r = lookBuiltin(g.state, snap, g.cfg);
        g.state = r.state;
        metrics.push(...r.metrics);
      }
    }
    metrics.push(...lookResources(run.resources, observed, dep.version, stableM === null ? null : dep.previousVersion, now));
    if (run.floor) {
      if (run.canaryRequestsAtStart === null) {
        run.canaryRequestsAtStart = canaryM?.requests ?? 0;
        run.baselineAt = now;
      }
      const requests = Math.max(0, (canaryM?.requests ?? 0) - run.canaryRequestsAtStart);
      metrics.push(judgeRequestRate(requests, (now - run.baselineAt) / 1000, run.floor.minPerSecond, run.floor.name));
    }

    // A candidate instance that crashes while judged fails the analysis at once.
    const crash = crashVerdict(dep.version, observed, run);
    if (crash) metrics.push(crash);

    // A metric not measured yet (or whose source broke) is inconclusive: it can never let a rollout pass.
    for (const e of run.external) metrics.push(e.verdict ?? { metric: e.metric.name, verdict: 'inconclusive', final: false, reason: 'no measurement yet', canary: null, stable: null, details: {} });

    const complete = run.durationMs !== null && now - run.startedAt >= run.durationMs;
    const v = combine(metrics, { complete });
    run.trafficBaseline ??= canaryM?.requests ?? 0;
    // Not for a pipeline's verify stage (production unset), nor when the user asked that inconclusive fails.
    const idle = phase.production === undefined || run.onInconclusive === 'fail' ? { kind: 'judge' as const } : idleDecision({
      elapsedMs: now - run.startedAt,
      canaryRequests: Math.max(0, (canaryM?.requests ?? 0) - run.trafficBaseline),
      version: dep.version,
      production: phase.production,
      noTrafficAfter: phase.spec.noTrafficAfter,
      verdict: v.verdict,
      metrics,
      trafficMetrics: new Set([...run.groups.flatMap((g) => g.waiting.map((w) => w.metric)), ...run.resources.map((r) => r.cfg.name), ...(run.floor ? [run.floor.name] : [])]),
    });
    if (idle.kind === 'proceed') return { snapshot: snapshot('not_judged', idle.reason, metrics), hold: null, passed: true };
    if (idle.kind === 'wait') return { snapshot: snapshot('running', idle.reason, metrics), hold: null, passed: false };
    if (v.verdict === 'fail') return { snapshot: snapshot('fail', v.reason, metrics), hold: null, passed: false };
    if (v.verdict === 'inconclusive' && v.final) {
      if (run.onInconclusive === 'fail') return { snapshot: snapshot('fail', `inconclusive and onInconclusive is fail: ${v.reason}`, metrics), hold: null, passed: false };
      return { snapshot: snapshot('inconclusive', v.reason, metrics), hold: `analysis inconclusive (${v.reason}); rollgate promote --skip-analysis to go on, or rollgate fail`, passed: false };
    }
    if (complete && v.verdict === 'pass') return { snapshot: snapshot('pass', v.reason, metrics), hold: null, passed: true };
    return { snapshot: snapshot('running', v.verdict === 'pass' ? `healthy so far: ${v.reason}` : v.reason, metrics), hold: null, passed: v.verdict === 'pass' };
  }

  forget(deploymentId: string): void {
    const run = this.runs.get(deploymentId);
    if (run) this.stop(run);
    this.runs.delete(deploymentId);
  }

  close(): void {
    for (const id of [...this.runs.keys()]) this.forget(id);
  }

  private start(dep: DeploymentRecord, phase: AnalysisPhase, now: number): Run {
    const metrics = phase.metrics ?? phase.spec.metrics ?? DEFAULT_METRICS;
    const builtin = metrics.filter((m) => m.builtin);
    const errorM = builtin.find((m) => m.builtin!.metric === 'errorRate');
    // Without stable traffic to compare with, latency is judged only against an absolute limit.
    const latencyM = builtin.filter((m) => m.builtin!.metric === 'latency' && (phase.compareToStable || m.builtin!.max !== undefined));
    const floorM = builtin.find((m) => m.builtin!.metric === 'requestRate');
    const alpha = phase.spec.alpha;
    const groups: BuiltinGroup[] = [];
    if (errorM) {
      groups.push(group({ errorRate: { name: errorM.name, alpha, maxRate: errorM.builtin!.max ?? 0.05 }, latency: [], countRetries: true }, 0, [errorM.name]));
    }
    if (latencyM.length > 0) {
      const warmupMs = parseDuration(phase.spec.latencyWarmup);
      const cfg: BuiltinConfig = { errorRate: null, latency: latencyM.map((m) => ({ name: m.name, alpha, quantile: m.builtin!.quantile, tolerance: m.builtin!.tolerance, maxMs: m.builtin!.max ?? null })), countRetries: true, latencyWarmupMs: warmupMs };
      // Warm-up is per instance (the judge leaves out what each instance answered in its first
      // latencyWarmup after it became ready, whatever step sent it traffic). The phase also
      // waits latencyWarmup before judging latency, so no rollout passes on a moment's evidence.
      groups.push(group(cfg, warmupMs, latencyM.map((m) => m.name)));
    }
    const run: Run = {
      phase: phase.name,
      startedAt: now,
      startDelayMs: parseDuration(phase.spec.startDelay),
      durationMs: phase.name.startsWith('step-') ? stepDuration(dep, phase) : null,
      groups,
      resources: resourceJudges(builtin, phase),
      floor: floorM ? { name: floorM.name, minPerSecond: floorM.builtin!.min ?? 1 } : phase.metrics ?? phase.spec.metrics ? null : { name: 'request-rate', minPerSecond: 1 },
      canaryRequestsAtStart: null,
      baselineAt: now,
      restartsAtStart: null,
      trafficBaseline: null,
      external: [],
      onInconclusive: metrics.some((m) => m.onInconclusive === 'fail') ? 'fail' : 'pause',
      abort: new AbortController(),
    };
    for (const m of metrics.filter((x) => !x.builtin)) {
      const e: External = { metric: m, cond: conditionOf(m), state: newThresholdState(), verdict: null, timer: null, busy: false };
      run.external.push(e);
      const tick = () => void this.measure(dep, run, e);
      e.timer = setInterval(tick, parseDuration(m.interval));
      e.timer.unref();
      tick();
    }
    return run;
  }

  private async measure(dep: DeploymentRecord, run: Run, e: External): Promise<void> {
    if (e.busy || run.abort.signal.aborted) return; // a slow source never piles up measurements
    e.busy = true;
    try {
      const m = await this.d.sources.measure(
        e.metric,
        { app: dep.app, env: dep.env, canary: dep.version, stable: dep.previousVersion, windowMs: Math.max(parseDuration(e.metric.interval), 1000), signal: run.abort.signal },
        {},
      );
      if (run.abort.signal.aborted) return;
      const value = toNumber(m.value, e.metric);
      const r = judgeThreshold(e.state, { value, error: m.error ?? (m.inconclusive ? `inconclusive: ${m.inconclusive}` : null) }, e.cond, {
        name: e.metric.name,
        failureLimit: e.metric.failureLimit,
        inconclusiveLimit: e.metric.inconclusiveLimit,
        consecutiveErrorLimit: e.metric.consecutiveErrorLimit,
      });
      e.state = r.state;
      e.verdict = r.verdict;
    } catch (err) {
      // Counted as a failed measurement, like a source error: never silently dropped.
      const message = (err as Error).message;
      this.d.log.warn('metric measurement failed', { metric: e.metric.name, error: message });
      e.verdict = { metric: e.metric.name, verdict: 'fail', final: true, reason: `cannot be judged: ${message}`, canary: null, stable: null, details: {} };
    } finally {
      e.busy = false;
    }
  }

  private stop(run: Run): void {
    run.abort.abort();
    for (const e of run.external) if (e.timer) clearInterval(e.timer);
  }
}

interface BuiltinGroup {
  cfg: BuiltinConfig;
  /** Judging starts this long after the phase (and its startDelay) began. */
  afterMs: number;
  state: BuiltinState | null;
  /** What to show while this group has not started. */
  waiting: MetricVerdict[];
}

function group(cfg: BuiltinConfig, afterMs: number, names: string[]): BuiltinGroup {
  const waiting: MetricVerdict[] = names.map((metric) => ({ metric, verdict: 'inconclusive', final: false, reason: afterMs > 0 ? 'warming up: fresh instances are judged on latency after latencyWarmup' : 'starting', canary: null, stable: null, details: {} }));
  return { cfg, afterMs, state: null, waiting };
}

function stepDuration(dep: DeploymentRecord, phase: AnalysisPhase): number | null {
  if (!('canary' in dep.strategy)) return null;
  const step = dep.strategy.canary.steps[Number(phase.name.slice('step-'.length))];
  return step && 'analysis' in step ? parseDuration(step.analysis.duration) : null;
}

/** The spec's condition (max/min/equals) as the judge's pass range; no condition: the source's 1/0 must be 1. */
function conditionOf(m: AnalysisMetric): Condition {
  const c = m.condition;
  if (!c || c.equals !== undefined) return { passWhen: { min: 1 } };
  return { passWhen: { min: c.min ?? null, max: c.max ?? null } };
}

function toNumber(v: number | string | boolean | null, m: AnalysisMetric): number | null {
  if (v === null) return null;
  const eq = m.condition?.equals;
  if (eq !== undefined) return String(v) === String(eq) ? 1 : 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

function crashVerdict(version: string, observed: ServiceObserved | null, run: Run): MetricVerdict | null {
  const v = observed?.versions.find((x) => x.version === version);
  if (!v) return null;
  const restarts = v.instances.reduce((a, i) => a + i.restarts, 0);
  const crashed = v.instances.filter((i) => i.state === 'crashed');
  if (run.restartsAtStart === null) {
    run.restartsAtStart = restarts;
    if (crashed.length === 0) return null;
  }
  if (crashed.length === 0 && restarts <= run.restartsAtStart) return null;
  const which = crashed[0] ?? v.instances.find((i) => i.restarts > 0);
  return {
    metric: 'instance-crashes',
    verdict: 'fail',
    final: true,
    reason: `instance ${which?.id ?? '?'} of ${version} crashed while under analysis${which?.lastError ? ` (${which.lastError})` : ''}`,
    canary: restarts - (run.restartsAtStart ?? 0),
    stable: null,
    details: { restarts, restartsAtStart: run.restartsAtStart ?? 0, crashed: crashed.length },
  };
}

/** Each side's instances with their own latency and readiness, from the agent's report (null: not reported). */
function instancesSnapshot(observed: ServiceObserved | null, canary: string, stable: string | null): InstancesSnapshot | undefined {
  const lat = observed?.instanceLatency;
  if (!observed || !lat) return undefined;
  const of = (version: string | null): InstanceSample[] => {
    const v = version === null ? undefined : observed.versions.find((x) => x.version === version);
    const out: InstanceSample[] = [];
    for (const i of v?.instances ?? []) {
      const latency = lat[i.id];
      if (latency) out.push({ id: i.id, readyAtMs: i.readyAt === null ? null : Date.parse(i.readyAt), latency });
    }
    return out;
  };
  return { atMs: Date.parse(observed.observedAt), canary: of(canary), stable: of(stable) };
}

function toSnapshot(m: MetricVerdict): MetricSnapshot {
  return { name: m.metric, verdict: m.verdict, reason: m.reason, canary: m.canary, stable: m.stable };
}

