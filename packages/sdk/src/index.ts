export type * from './engine/types.js';
export { compile, Evaluator, type FlagEvaluation, type Reason } from './engine/index.js';
export * from './client/index.js';
export { ContextError, hasVariants, isFailed, needsTargetingKey, resolveFlag, unleashContextOf, type FailedFlag, type FlagMetadata, type MappedContext, type OpenFeatureErrorCode, type OpenFeatureReason, type ResolvedFlag } from './openfeature/resolve.js';
export { RollgateBrowserClient, type BrowserClientEvents, type BrowserContext, type ChangeCause, type EvaluatedFlag, type RollgateBrowserClientOptions } from './browser/index.js';
