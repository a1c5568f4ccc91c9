import { parseDuration } from '../duration.js';
import { ANALYSIS_PENDING, analysisPendingWait, allTo, countsOf, elapsedInStep, firstDeployPlan, pauseOutcome, waitReady, weightsRoutes, type Plan, type PlanContext } from './types.js';

/**
 * Blue-green: bring the new (green) version up at full size beside the old (blue) one, reachable
 * on the preview port only; promote (by command, or automatically once healthy), then switch all
 * traffic at once. Blue stays warm afterwards (scaleDownDelay) so rollback is a weight change.
 */
export function planBlueGreen(ctx: PlanContext): Plan {
  if (!('blueGreen' in ctx.strategy)) throw new Error('planBlueGreen needs a blueGreen strategy');
  if (ctx.stable === null) return firstDeployPlan(ctx);
  const bg = ctx.strategy.blueGreen;
  const { stable, candidate: cand } = ctx;
  const ready = countsOf(ctx, cand).ready;
  const preview = bg.previewPort ? { port: bg.previewPort, version: cand } : undefined;
  const replicas = { [stable]: ctx.replicas, [cand]: ctx.replicas };
  const idx = ctx.state.promoteFull ? Math.max(ctx.state.stepIndex, 2) : ctx.state.stepIndex;

  if (idx === 0) {
    return {
      desired: { replicas, routes: weightsRoutes({ [stable]: 100 }, { preview }) },
      outcome: waitReady(cand, ready, ctx.replicas),
      step: `step 1/${bg.postPromotionAnalysis !== false ? 4 : 3}: start ${cand} beside ${stable}${preview ? ` (preview on port ${preview.port})` : ''}`,
      candidateWeight: 0,
    };
  }
  if (idx === 1) {
    const paused = bg.autoPromote ? pauseOutcome(ctx, parseDuration(bg.autoPromotionDelay)) : pauseOutcome(ctx, null);
    // Pre-promotion analysis: an automatic promotion waits for it to pass (a user's promote does not).
    const outcome = paused.kind === 'advance' && ctx.analysisPending && !ctx.state.promoteRequested ? analysisPendingWait : paused;
    return {
      desired: { replicas, routes: weightsRoutes({ [stable]: 100 }, { preview }) },
      outcome,
      step: `step 2/${bg.postPromotionAnalysis !== false ? 4 : 3}: ${bg.autoPromote ? 'auto-promotion' : 'waiting for promotion'}`,
      candidateWeight: 0,
    };
  }
  const watch = bg.postPromotionAnalysis !== false;
  const total = watch ? 4 : 3;
  if (idx === 2 || !watch) {
    // The switch: all traffic at once; the candidate is already at full size.
    const switched = ready >= ctx.replicas;
    return {
      desired: { replicas, routes: allTo(cand) },
      outcome: !switched ? { kind: 'wait', reason: `waiting for ${cand}: ${ready}/${ctx.replicas} instances ready` } : watch ? { kind: 'advance' } : { kind: 'complete' },
      step: `step 3/${total}: switch traffic`,
      candidateWeight: 100,
    };
  }
  // Post-promotion watch: the old version is still warm, so a failed analysis switches back at once.
  const left = parseDuration(bg.postPromotionWindow) - elapsedInStep(ctx);
  return {
    desired: { replicas, routes: allTo(cand) },
    outcome:
      left <= 0 || ctx.state.promoteRequested
        ? ctx.analysisPending && !ctx.state.promoteRequested
          ? analysisPendingWait
          : { kind: 'complete' }
        : { kind: 'wait', reason: `watching ${cand} after the switch, ${Math.ceil(left / 1000)}s left`, waitMs: left, paused: true },
    step: `step 4/4: post-promotion watch`,
    candidateWeight: 100,
  };
}
