/**
 * Errors a user can cause. Each has a stable machine code, an HTTP status for the API,
 * and a message that says what is wrong and what to do about it.
 */
export type ErrorCode =
  | 'invalid_spec'
  | 'invalid_input'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'deployment_in_progress'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unavailable'
  | 'agent_unreachable'
  | 'port_in_use'
  | 'internal'
  | 'too_many_requests';

const STATUS: Record<ErrorCode, number> = {
  invalid_spec: 400,
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  deployment_in_progress: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unavailable: 503,
  agent_unreachable: 502,
  port_in_use: 409,
  internal: 500,
  too_many_requests: 429,
};

export class RollgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'RollgateError';
    this.code = code;
    this.status = STATUS[code];
    this.details = details;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

export function isRollgateError(e: unknown): e is RollgateError {
  return e instanceof RollgateError;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
