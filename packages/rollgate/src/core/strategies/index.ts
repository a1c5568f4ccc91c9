import { strategyType } from '../spec.js';
import { planBlueGreen } from './blue-green.js';
import { planCanary } from './canary.js';
import { planRecreate } from './recreate.js';
import { planRolling } from './rolling.js';
import type { Plan, PlanContext, Planner } from './types.js';

export * from './types.js';
export { planRevert, planRollback } from './revert.js';

const PLANNERS: Record<ReturnType<typeof strategyType>, Planner> = {
  rolling: planRolling,
  blueGreen: planBlueGreen,
  canary: planCanary,
  recreate: planRecreate,
};

export function plan(ctx: PlanContext): Plan {
  return PLANNERS[strategyType(ctx.strategy)](ctx);
}
