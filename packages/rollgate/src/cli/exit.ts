/**
 * Exit codes and the one place errors become output.
 *   0 ok · 1 the operation ran but failed · 2 usage or validation error (incl. API 4xx) · 3 server unreachable or 5xx
 */
import { isRollgateError } from '../core/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNAVAILABLE = 3;

/** An error answered by the control plane (its code may be one this CLI does not know yet). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** What the server gave beyond the message (e.g. every problem of a refused flag state), for --json. */
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The command ran to its end and the outcome was bad (deployment failed, rolled back, aborted). */
export class OperationFailed extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** JSON document to print with --json instead of a bare error (e.g. the final deployment). */
    readonly result?: unknown,
  ) {
    super(message);
    this.name = 'OperationFailed';
  }
}

/** A usage error found by the CLI itself (not by the schema), e.g. conflicting flags. */
export class UsageError extends Error {
  readonly code = 'invalid_input';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof OperationFailed) return EXIT_FAILED;
  if (e instanceof UsageError) return EXIT_USAGE;
  if (e instanceof ApiError) return e.status >= 500 || e.status === 0 ? EXIT_UNAVAILABLE : EXIT_USAGE;
  if (isRollgateError(e)) return e.status >= 500 ? EXIT_UNAVAILABLE : EXIT_USAGE;
  return EXIT_FAILED;
}

export function errorCode(e: unknown): string {
  if (e instanceof OperationFailed || e instanceof ApiError || e instanceof UsageError) return e.code;
  if (isRollgateError(e)) return e.code;
  return 'internal';
}

export function isUserError(e: unknown): boolean {
  return e instanceof OperationFailed || e instanceof ApiError || e instanceof UsageError || isRollgateError(e);
}
