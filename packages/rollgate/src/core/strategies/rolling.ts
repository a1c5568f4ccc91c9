import type { PlanContext, Plan } from './types.js';
import { ANALYSIS_PENDING, analysisPendingWait, allTo, countsOf, firstDeployPlan } from './types.js';

/** `2` or `25%` of `total`; percentages round up for surge and down for unavailability, as Kubernetes does. */
export function resolveCount(v: number | string, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  const pct = Number(v.slice(0, -1)) / 100;
  return roundUp ? Math.ceil(total * pct) : Math.floor(total * pct);
}

/**
 * Rolling update: replace old instances by new ones a few at a time, keeping at least
 * replicas - maxUnavailable ready and at most replicas + maxSurge running. Traffic follows
 * ready instances (every ready instance of either version gets an equal share).
 */
export function planRolling(ctx: PlanContext): Plan {
  if (!('rolling' in ctx.strategy)) throw new Error('planRolling needs a rolling strategy');
  if (ctx.stable === null) return firstDeployPlan(ctx);
  const { stable, candidate: cand, replicas: R } = ctx;
  let surge = resolveCount(ctx.strategy.rolling.maxSurge, R, true);
  const unavailable = resolveCount(ctx.strategy.rolling.maxUnavailable, R, false);
  if (surge === 0 && unavailable === 0) surge = 1; // both zero could never move; Kubernetes rejects it, we take the safe reading.

  const oldC = countsOf(ctx, stable);
  const newC = countsOf(ctx, cand);
  const maxTotal = R + surge;
  const minAvailable = Math.max(0, R - unavailable);

  const newTarget = Math.min(R, Math.max(newC.total, maxTotal - oldC.total));
  // Old instances that are not ready cost no availability and go first; ready ones only
  // while enough stay ready across both versions.
  const removable = (oldC.total - oldC.ready) + Math.max(0, oldC.ready + newC.ready - minAvailable);
  // Under analysis, one old instance stays in rotation until it passes: it is what the new ones are compared with.
  const oldFinal = Math.max(ctx.analysisPending && oldC.total > 0 ? 1 : 0, oldC.total - removable);

  const done = newC.ready >= R && oldC.total === 0 && !ctx.analysisPending;
  const routes = done ? allTo(cand) : { balance: 'instances' as const, weights: { [stable]: 1, [cand]: 1 }, headerRoutes: [], sticky: false };
  return {
    desired: { replicas: { [stable]: oldFinal, [cand]: newTarget }, routes },
    outcome: done
      ? { kind: 'complete' }
      : newC.ready >= R && ctx.analysisPending
        ? { ...analysisPendingWait, reason: `rolling: ${cand} ${newC.ready}/${R} ready; ${ANALYSIS_PENDING}` }
        : { kind: 'wait', reason: `rolling: ${cand} ${newC.ready}/${R} ready, ${stable} ${oldC.total} left` },
    step: `rolling update (maxSurge ${surge}, maxUnavailable ${unavailable})`,
    candidateWeight: Math.round((100 * newC.ready) / Math.max(1, newC.ready + oldC.ready)),
  };
}
