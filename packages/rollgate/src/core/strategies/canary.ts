import { parseDuration } from '../duration.js';
import type { HeaderRoute } from '../dataplane.js';
import type { CanaryStep } from '../spec.js';
import { ANALYSIS_PENDING, analysisPendingWait, allTo, countsOf, elapsedInStep, firstDeployPlan, pauseOutcome, waitReady, weightsRoutes, type Plan, type PlanContext, type PlanOutcome } from './types.js';

/**
 * Canary: the steps as written (setWeight, pause, setHeaderRoute), then two closing steps:
 * scale the candidate to full size, then send it all traffic. The stable version keeps its
 * full size throughout, so aborting is instant.
 */
export function planCanary(ctx: PlanContext): Plan {
  if (!('canary' in ctx.strategy)) throw new Error('planCanary needs a canary strategy');
  if (ctx.stable === null) return firstDeployPlan(ctx);
  const steps = ctx.strategy.canary.steps;
  const stable = ctx.stable;
  const cand = ctx.candidate;
  const total = steps.length + 2;
  const idx = ctx.state.promoteFull ? Math.max(ctx.state.stepIndex, steps.length) : ctx.state.stepIndex;
  const ready = countsOf(ctx, cand).ready;

  // Weight and header route in force at this index: the last ones set at or before it.
  const { weight, header } = effectiveAt(steps, Math.min(idx, steps.length - 1));
  const canaryReplicas = (w: number) => Math.min(ctx.replicas, Math.max(1, Math.ceil((ctx.replicas * w) / 100)));
  const headerRoutes: HeaderRoute[] = header ? [{ header: header.header.toLowerCase(), value: header.value, version: cand }] : [];

  if (idx >= steps.length + 1) {
    // Last step: all traffic to the candidate.
    return {
      desired: { replicas: { [stable]: ctx.replicas, [cand]: ctx.replicas }, routes: allTo(cand) },
      outcome: ready >= ctx.replicas ? { kind: 'complete' } : { kind: 'wait', reason: `waiting for ${cand}: ${ready}/${ctx.replicas} instances ready` },
      step: `step ${total}/${total}: full promotion`,
      candidateWeight: 100,
    };
  }
  if (idx === steps.length) {
    // Scale the candidate to full size before it takes all traffic; under analysis, only once it passed.
    const scaled = waitReady(cand, ready, ctx.replicas);
    return {
      desired: { replicas: { [stable]: ctx.replicas, [cand]: ctx.replicas }, routes: weightsRoutes({ [stable]: 100 - weight, [cand]: weight }, { headerRoutes }) },
      outcome: scaled.kind === 'advance' && ctx.analysisPending ? analysisPendingWait : scaled,
      step: `step ${idx + 1}/${total}: scale ${cand} to ${ctx.replicas}`,
      candidateWeight: weight,
    };
  }

  const step = steps[idx]!;
  const routes = weightsRoutes({ [stable]: 100 - weight, [cand]: weight }, { headerRoutes });
  const want = weight > 0 || header ? canaryReplicas(weight) : 0;
  const desired = { replicas: { [stable]: ctx.replicas, [cand]: Math.max(want, priorCanaryReplicas(steps, idx, canaryReplicas)) }, routes };
  const label = `step ${idx + 1}/${total}: ${describeStep(step)}`;
  if ('pause' in step) {
    const d = step.pause.duration ? parseDuration(step.pause.duration) : null;
    return { desired, outcome: pauseOutcome(ctx, d), step: label, candidateWeight: weight };
  }
  if ('analysis' in step) {
    // The executor judges the metrics meanwhile and reverts on a failure; reaching the end of the
    // duration without one is a pass.
    const left = parseDuration(step.analysis.duration) - elapsedInStep(ctx);
    const outcome: PlanOutcome = ctx.state.promoteRequested
      ? { kind: 'advance' }
      : left > 0
        ? { kind: 'wait', reason: `analysing ${cand}, ${Math.ceil(left / 1000)}s left`, waitMs: left, paused: true }
        : ctx.analysisPending
          ? analysisPendingWait
          : { kind: 'advance' };
    return { desired, outcome, step: label, candidateWeight: weight };
  }
  return { desired, outcome: waitReady(cand, ready, desired.replicas[cand]!), step: label, candidateWeight: weight };
}

function effectiveAt(steps: CanaryStep[], idx: number): { weight: number; header: { header: string; value: string } | null } {
  let weight = 0;
  let header: { header: string; value: string } | null = null;
  for (let i = 0; i <= idx && i < steps.length; i++) {
    const s = steps[i]!;
    if ('setWeight' in s) weight = s.setWeight;
    if ('setHeaderRoute' in s) header = s.setHeaderRoute;
  }
  return { weight, header };
}

/** Never shrink the canary while the rollout goes forward (a pause after setWeight keeps its instances). */
function priorCanaryReplicas(steps: CanaryStep[], idx: number, size: (w: number) => number): number {
  let n = 0;
  for (let i = 0; i < idx; i++) {
    const s = steps[i]!;
    if ('setWeight' in s && s.setWeight > 0) n = Math.max(n, size(s.setWeight));
    if ('setHeaderRoute' in s) n = Math.max(n, 1);
  }
  return n;
}

export function describeStep(s: CanaryStep): string {
  if ('setWeight' in s) return `setWeight ${s.setWeight}`;
  if ('pause' in s) return s.pause.duration ? `pause ${s.pause.duration}` : 'pause until promoted';
  if ('analysis' in s) return `analysis for ${s.analysis.duration}`;
  return `header route ${s.setHeaderRoute.header}: ${s.setHeaderRoute.value}`;
}
