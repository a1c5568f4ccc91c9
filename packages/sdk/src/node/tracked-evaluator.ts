/**
 * An Evaluator whose answers are recorded for the current request (see tracking.ts):
 * - isEnabled records `on` or `off` (a boolean flag has no variant of its own);
 * - getVariant records the variant's name as the app sees it (`disabled` when it got none);
 * - evaluate records the variant's name when a variant was given, else `on`/`off`.
 * A getVariant name is never replaced by a later isEnabled of the same flag.
 */
import type { Context, FlagEvaluation, VariantResult } from '../engine/index.js';
import { requestFlags } from './tracking.js';

/** What is wrapped: the engine's Evaluator, or anything with the same calls. */
export interface EvaluatorLike {
  isEnabled(name: string, context?: Context): boolean;
  getVariant(name: string, context?: Context): VariantResult;
  evaluate?(name: string, context?: Context): FlagEvaluation | undefined;
}

export interface TrackedEvaluator {
  isEnabled(name: string, context?: Context): boolean;
  getVariant(name: string, context?: Context): VariantResult;
  evaluate(name: string, context?: Context): FlagEvaluation | undefined;
  /** The wrapped evaluator (its answers are not recorded). */
  readonly inner: EvaluatorLike;
}

export function trackedEvaluator(inner: EvaluatorLike): TrackedEvaluator {
  return {
    inner,
    isEnabled(name, context) {
      const on = inner.isEnabled(name, context);
      requestFlags.getStore()?.record(name, on ? 'on' : 'off', true);
      return on;
    },
    getVariant(name, context) {
      const v = inner.getVariant(name, context);
      requestFlags.getStore()?.record(name, v.name);
      return v;
    },
    evaluate(name, context) {
      if (inner.evaluate === undefined) throw new TypeError('trackedEvaluator: the wrapped evaluator has no evaluate(); wrap the engine\'s Evaluator');
      const r = inner.evaluate(name, context);
      if (r !== undefined) {
        const store = requestFlags.getStore();
        if (r.variant.enabled) store?.record(name, r.variant.name);
        else store?.record(name, r.value ? 'on' : 'off', true);
      }
      return r;
    },
  };
}
