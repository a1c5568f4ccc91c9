export type * from './types.js';
export { ruleProblems, type RuleProblem } from './validate.js';
