/** A signal that fires on the caller's abort or after a timeout, and says which one fired. */
import { errorMessage } from '../core/errors.js';
import { formatDuration } from '../core/duration.js';

export interface Deadline {
  signal: AbortSignal;
  /** Why the signal fired, in words for a measurement error; null while it has not. */
  reason(what: string, hint?: string): string | null;
  dispose(): void;
}

export function deadline(outer: AbortSignal, timeoutMs: number): Deadline {
  const ctrl = new AbortController();
  let timedOut = false;
  const onAbort = () => ctrl.abort(outer.reason);
  const timer = setTimeout(() => {
    timedOut = true;
    ctrl.abort(new Error('timeout'));
  }, timeoutMs);
  if (outer.aborted) onAbort();
  else outer.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ctrl.signal,
    reason(what, hint = "raise the metric's timeout or make it faster") {
      if (timedOut) return `${what} timed out after ${formatDuration(timeoutMs)}; ${hint}`;
      if (outer.aborted) return abortedMessage(what, outer);
      return null;
    },
    dispose() {
      clearTimeout(timer);
      outer.removeEventListener('abort', onAbort);
    },
  };
}

export function abortedMessage(what: string, signal: AbortSignal): string {
  const why = signal.reason === undefined ? '' : `: ${errorMessage(signal.reason)}`;
  return `${what} aborted${why}`;
}
