/** What the executor needs from automated analysis (engine/analysis.ts implements it). */
import type { ServiceObserved } from '../core/dataplane.js';
import type { AnalysisSnapshot, DeploymentRecord, DeploymentState } from '../core/domain.js';
import { AnalysisSpec, type AnalysisMetric, type StrategySpec } from '../core/spec.js';

export interface AnalysisPhase {
  /** Evidence accumulates within one phase; a new phase starts a new test. */
  name: string;
  spec: AnalysisSpec;
  /** Metrics of an analysis step, when it names its own. */
  metrics?: AnalysisMetric[] | undefined;
  /** Whether the stable version serves traffic to compare with (canary, rolling). */
  compareToStable: boolean;
  /**
   * A rollout's analysis: whether its environment is production (with no traffic it holds
   * rather than proceeding, see AnalysisSpec.noTrafficAfter). Unset: not a rollout (a pipeline's
   * verify stage, which needs traffic by its own rule), so the idle rule does not apply.
   */
  production?: boolean | undefined;
}

export interface AnalysisResult {
  snapshot: AnalysisSnapshot;
  /** Set when the rollout must not move on yet (inconclusive with onInconclusive: pause). */
  hold: string | null;
  /** Every metric passes so far with enough data: the rollout may take its last step. */
  passed: boolean;
}

export interface AnalysisEvaluator {
  evaluate(dep: DeploymentRecord, phase: AnalysisPhase, observed: ServiceObserved | null, now: number): Promise<AnalysisResult | null>;
  forget(deploymentId: string): void;
}

/** Which analysis applies to a deployment at its current step, if any. Pure. */
export function analysisPhase(strategy: StrategySpec, state: DeploymentState, hasStable: boolean): AnalysisPhase | null {
  if (!hasStable) return null; // a first deployment has nothing to compare with and nothing to roll back to
  if ('canary' in strategy) {
    const c = strategy.canary;
    const step = c.steps[state.stepIndex];
    const background = c.analysis === false ? null : c.analysis;
    if (step && 'analysis' in step) {
      // A step's analysis starts judging at once (no startDelay): its duration is the whole window.
      return { name: `step-${state.stepIndex}`, spec: { ...(background ?? AnalysisSpec.parse({})), startDelay: '0s' }, metrics: step.analysis.metrics, compareToStable: true };
    }
    if (!background) return null;
    // Judge from the first step that sends the canary any traffic.
    const firstTraffic = c.steps.findIndex((s) => ('setWeight' in s && s.setWeight > 0) || 'setHeaderRoute' in s);
    const from = firstTraffic === -1 ? c.steps.length : firstTraffic;
    return state.stepIndex >= from || state.promoteFull ? { name: 'background', spec: background, compareToStable: true } : null;
  }
  if ('blueGreen' in strategy) {
    const bg = strategy.blueGreen;
    if (state.stepIndex <= 1 && bg.prePromotionAnalysis !== false) return { name: 'pre-promotion', spec: bg.prePromotionAnalysis, compareToStable: false };
    if (state.stepIndex >= 3 && bg.postPromotionAnalysis !== false) return { name: 'post-promotion', spec: bg.postPromotionAnalysis, compareToStable: false };
    return null;
  }
  if ('rolling' in strategy) return strategy.rolling.analysis === false ? null : { name: 'background', spec: strategy.rolling.analysis, compareToStable: true };
  return null;
}
