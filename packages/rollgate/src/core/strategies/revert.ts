import { allTo, countsOf, type Plan, type PlanContext } from './types.js';

/**
 * Abort or failure: all traffic back to the stable version at once, candidate removed.
 * Stable is brought back to full size if the strategy had shrunk it (rolling, recreate).
 * Complete when stable is fully ready again and the candidate is gone.
 */
export function planRevert(ctx: PlanContext): Plan {
  const { stable, candidate: cand } = ctx;
  if (stable === null) {
    // Nothing to go back to: stop the candidate.
    const left = countsOf(ctx, cand).total;
    return {
      desired: { replicas: { [cand]: 0 }, routes: allTo(cand) },
      outcome: left === 0 ? { kind: 'complete' } : { kind: 'wait', reason: `stopping ${cand}: ${left} left` },
      step: `stop ${cand}`,
      candidateWeight: 0,
    };
  }
  const s = countsOf(ctx, stable);
  const c = countsOf(ctx, cand);
  // Keep candidate instances while stable has none ready (traffic always has somewhere to go), or
  // when asked to keep them for debugging (they get no traffic; they are stopped later).
  const keepForDebug = ctx.state.revert?.keepCandidate === true;
  const keepCandidate = keepForDebug || (s.ready === 0 && c.ready > 0);
  return {
    desired: { replicas: { [stable]: ctx.replicas, ...(keepCandidate ? { [cand]: c.total } : { [cand]: 0 }) }, routes: allTo(stable) },
    outcome:
      s.ready >= ctx.replicas && (c.total === 0 || keepForDebug)
        ? { kind: 'complete' }
        : { kind: 'wait', reason: `restoring ${stable}: ${s.ready}/${ctx.replicas} ready, ${c.total} of ${cand} left` },
    step: `revert to ${stable}`,
    candidateWeight: 0,
  };
}

/**
 * Rollback to the previous release (`candidate` here is the release rolled back to, `stable`
 * the one serving now). When the previous release is still warm, traffic moves in one step;
 * otherwise it is started first, and traffic moves once it is fully ready.
 */
export function planRollback(ctx: PlanContext): Plan {
  const { stable, candidate: target } = ctx;
  const t = countsOf(ctx, target);
  const warm = t.ready >= ctx.replicas;
  if (stable === null || (warm && ctx.state.stepIndex >= 0)) {
    const bad = stable ? countsOf(ctx, stable).total : 0;
    return {
      desired: { replicas: { [target]: ctx.replicas, ...(stable ? { [stable]: 0 } : {}) }, routes: allTo(target) },
      outcome: warm && bad === 0 ? { kind: 'complete' } : { kind: 'wait', reason: warm ? `stopping ${stable}: ${bad} left` : `waiting for ${target}: ${t.ready}/${ctx.replicas} ready` },
      step: `rollback to ${target}`,
      candidateWeight: 100,
    };
  }
  // Cold: start the target beside the current version; traffic stays until it is ready.
  return {
    desired: { replicas: { [target]: ctx.replicas, [stable]: ctx.replicas }, routes: allTo(stable) },
    outcome: { kind: 'wait', reason: `starting ${target} for rollback: ${t.ready}/${ctx.replicas} ready` },
    step: `rollback to ${target}: starting it`,
    candidateWeight: 0,
  };
}
