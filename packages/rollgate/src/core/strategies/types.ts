/**
 * Strategy planners are pure: given the spec, the deployment's control state and what the data
 * plane reports, they return the desired state for now and whether the current step is done.
 * The executor persists, applies and waits; planners never do I/O or read the clock.
 */
import type { HeaderRoute, RouteSpec } from '../dataplane.js';
import type { DeploymentState } from '../domain.js';
import type { StrategySpec } from '../spec.js';

export interface VersionCounts {
  /** Instances in rotation. */
  ready: number;
  /** Instances that exist and are not draining (starting, ready, unhealthy, crashed-restarting). */
  total: number;
  failed: boolean;
}

export interface PlanContext {
  strategy: StrategySpec;
  /** Replicas the app should run with once fully rolled out. */
  replicas: number;
  /** Version serving before this deployment; null on a first deployment. */
  stable: string | null;
  candidate: string;
  state: DeploymentState;
  /** Observed counts per version (missing = nothing running). */
  observed: Record<string, VersionCounts>;
  /** Milliseconds since the epoch; passed in so planners stay pure. */
  now: number;
  /**
   * An analysis judges this rollout and has not passed yet: the planner must not take the last
   * step that would leave nothing to compare with (or finish) until it has.
   */
  analysisPending?: boolean | undefined;
}

export const ANALYSIS_PENDING = 'waiting for the analysis to pass: it needs enough traffic on both versions (rollgate promote --skip-analysis to go on without it)';

/** Held for the analysis: a deliberate wait (a pause in status, exempt from the progress deadline). */
export const analysisPendingWait: Extract<PlanOutcome, { kind: 'wait' }> = { kind: 'wait', reason: ANALYSIS_PENDING, paused: true };

export interface Desired {
  /** Replicas per version; versions not listed get none. */
  replicas: Record<string, number>;
  routes: RouteSpec;
}

export type PlanOutcome =
  /** Hold here; `waitMs` (if set) is when to look again even without news from the data plane. */
  | { kind: 'wait'; reason: string; waitMs?: number; paused?: boolean }
  /** The current step's condition holds: move to the next step. */
  | { kind: 'advance' }
  /** Every step is done: the candidate serves all traffic. */
  | { kind: 'complete' };

export interface Plan {
  desired: Desired;
  outcome: PlanOutcome;
  /** e.g. "step 3/6: setWeight 50". */
  step: string;
  /** Weight of the candidate now (0..100), for status views. */
  candidateWeight: number;
}

export type Planner = (ctx: PlanContext) => Plan;

export function weightsRoutes(weights: Record<string, number>, extra: Partial<RouteSpec> = {}): RouteSpec {
  const headerRoutes: HeaderRoute[] = extra.headerRoutes ?? [];
  return { balance: 'weights', weights, headerRoutes, sticky: extra.sticky ?? false, preview: extra.preview };
}

/** All traffic to one version. */
export function allTo(version: string): RouteSpec {
  return weightsRoutes({ [version]: 100 });
}

export function countsOf(ctx: PlanContext, version: string | null): VersionCounts {
  if (version === null) return { ready: 0, total: 0, failed: false };
  return ctx.observed[version] ?? { ready: 0, total: 0, failed: false };
}

export function elapsedInStep(ctx: PlanContext): number {
  return ctx.now - Date.parse(ctx.state.stepStartedAt);
}

/** Plan for a first deployment (nothing serving yet), shared by every strategy: start all, then send all traffic. */
export function firstDeployPlan(ctx: PlanContext): Plan {
  const ready = countsOf(ctx, ctx.candidate).ready;
  const desired: Desired = { replicas: { [ctx.candidate]: ctx.replicas }, routes: allTo(ctx.candidate) };
  const outcome: PlanOutcome =
    ready >= ctx.replicas ? { kind: 'complete' } : { kind: 'wait', reason: `waiting for ${ctx.candidate}: ${ready}/${ctx.replicas} instances ready` };
  return { desired, outcome, step: 'first deployment: start all instances', candidateWeight: 100 };
}

export function waitReady(version: string, ready: number, want: number): PlanOutcome {
  return ready >= want ? { kind: 'advance' } : { kind: 'wait', reason: `waiting for ${version}: ${ready}/${want} instances ready` };
}

/** Shared pause logic: hold for a duration, or until promoted. */
export function pauseOutcome(ctx: PlanContext, durationMs: number | null): PlanOutcome {
  if (ctx.state.promoteRequested) return { kind: 'advance' };
  if (durationMs === null) return { kind: 'wait', reason: 'paused until promoted (rollgate promote)', paused: true };
  const left = durationMs - elapsedInStep(ctx);
  if (left <= 0) return { kind: 'advance' };
  return { kind: 'wait', reason: `paused, ${Math.ceil(left / 1000)}s left (rollgate promote to skip)`, waitMs: left, paused: true };
}
