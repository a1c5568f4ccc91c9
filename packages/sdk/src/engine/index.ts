export type * from './types.js';
export { ruleProblems, type RuleProblem } from './validate.js';
export { compile, Evaluator, type EvaluatorOptions, type FlagEvaluation, type Reason } from './evaluator.js';
export { applyDelta, type ClientFeaturesDelta, type DeltaEvent } from './delta.js';
