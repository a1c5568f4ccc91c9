import { parseDuration } from '../duration.js';
import { allTo, countsOf, firstDeployPlan, pauseOutcome, waitReady, weightsRoutes, type Plan, type PlanContext } from './types.js';

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
      step: `step 1/3: start ${cand} beside ${stable}${preview ? ` (preview on port ${preview.port})` : ''}`,
      candidateWeight: 0,
    };
  }
  if (idx === 1) {
    const outcome = bg.autoPromote ? pauseOutcome(ctx, parseDuration(bg.autoPromotionDelay)) : pauseOutcome(ctx, null);
    return {
      desired: { replicas, routes: weightsRoutes({ [stable]: 100 }, { preview }) },
      outcome,
      step: `step 2/3: ${bg.autoPromote ? 'auto-promotion' : 'waiting for promotion'}`,
      candidateWeight: 0,
    };
  }
  // The switch: all traffic at once; the candidate is already at full size.
  return {
    desired: { replicas, routes: allTo(cand) },
    outcome: ready >= ctx.replicas ? { kind: 'complete' } : { kind: 'wait', reason: `waiting for ${cand}: ${ready}/${ctx.replicas} instances ready` },
    step: 'step 3/3: switch traffic',
    candidateWeight: 100,
  };
}
