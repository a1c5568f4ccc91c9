/**
 * Per-request record of the flag variants evaluated while handling it, carried by
 * AsyncLocalStorage so any evaluator called anywhere under the request's handler can add to it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** Variants recorded by isEnabled (a boolean flag): a real variant name from getVariant replaces them. */
const BOOLEAN_VARIANTS = new Set(['on', 'off']);

/** The evaluations of one request: flag -> variant, in first-recorded order. */
export class RequestFlags {
  readonly variants = new Map<string, string>();

  /**
   * Records a flag's variant. The last call for a flag wins, except that a `weak` answer (an
   * isEnabled's on/off) never replaces a variant name already recorded for the flag.
   */
  record(flag: string, variant: string, weak = false): void {
    if (weak) {
      const cur = this.variants.get(flag);
      if (cur !== undefined && !BOOLEAN_VARIANTS.has(cur)) return;
    }
    this.variants.set(flag, variant);
  }
}

export const requestFlags = new AsyncLocalStorage<RequestFlags>();

/**
 * Records that the current request was served with `variant` of `flag`. Outside a request
 * tracked by the middleware it does nothing, so evaluators may call it unconditionally.
 */
export function recordEvaluation(flag: string, variant: string): void {
  requestFlags.getStore()?.record(flag, variant);
}

/** What the current request has recorded so far (a copy), or null outside a tracked request. */
export function currentEvaluations(): Record<string, string> | null {
  const store = requestFlags.getStore();
  return store ? Object.fromEntries(store.variants) : null;
}
