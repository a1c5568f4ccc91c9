export type * from './engine/types.js';
export { compile, Evaluator, type FlagEvaluation, type Reason } from './engine/index.js';
export * from './client/index.js';
