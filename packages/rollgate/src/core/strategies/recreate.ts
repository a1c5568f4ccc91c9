import { allTo, countsOf, firstDeployPlan, type Plan, type PlanContext } from './types.js';

/** Recreate: stop every old instance, then start the new ones. Downtime by design (for apps that cannot run two versions). */
export function planRecreate(ctx: PlanContext): Plan {
  if (ctx.stable === null) return firstDeployPlan(ctx);
  const { stable, candidate: cand } = ctx;
  if (ctx.state.stepIndex === 0) {
    const left = countsOf(ctx, stable).total;
    return {
      desired: { replicas: { [stable]: 0 }, routes: allTo(stable) },
      outcome: left === 0 ? { kind: 'advance' } : { kind: 'wait', reason: `stopping ${stable}: ${left} instances left` },
      step: `step 1/2: stop ${stable}`,
      candidateWeight: 0,
    };
  }
  const ready = countsOf(ctx, cand).ready;
  return {
    desired: { replicas: { [cand]: ctx.replicas }, routes: allTo(cand) },
    outcome: ready >= ctx.replicas ? { kind: 'complete' } : { kind: 'wait', reason: `waiting for ${cand}: ${ready}/${ctx.replicas} instances ready` },
    step: `step 2/2: start ${cand}`,
    candidateWeight: 100,
  };
}
