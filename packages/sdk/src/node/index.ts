/**
 * `@rollgate/sdk/node`: tells the Rollgate router, per response, which flag variants served it,
 * so a guarded flag rollout is judged from real requests like a canary. Node only.
 */
export { FLAGS_HEADER, MAX_FLAG_PAIRS, MAX_FLAGS_HEADER_BYTES, formatFlagsHeader } from './header.js';
export { recordEvaluation, currentEvaluations } from './tracking.js';
export { flagsMiddleware, withFlagTracking, type NextFunction, type NodeHandler, type TrackingOptions } from './middleware.js';
export { trackedEvaluator, type EvaluatorLike, type TrackedEvaluator } from './tracked-evaluator.js';
