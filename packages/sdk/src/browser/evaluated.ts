/**
 * Flags as a client key gets them: evaluated on the server for one context (OFREP's bulk
 * evaluation answer), never the rules. The server's answer is checked here before it replaces
 * the values in force: a broken answer is an error, and the last values keep serving.
 */
import { FlagClientError } from '../client/transport.js';
import type { FailedFlag, FlagMetadata, OpenFeatureErrorCode, OpenFeatureReason, ResolvedFlag } from '../openfeature/resolve.js';

/** One flag evaluated for the client's context: a value (or none: the caller's default), or an error. */
export interface EvaluatedFlag {
  key: string;
  value?: unknown;
  variant?: string;
  reason?: string;
  errorCode?: string;
  errorDetails?: string;
  metadata?: FlagMetadata;
}

export interface BulkAnswer {
  flags: EvaluatedFlag[];
  revision: number | null;
}

const ERROR_CODES = new Set<string>(['PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL', 'FLAG_NOT_FOUND', 'TYPE_MISMATCH']);
const REASONS = new Set<string>(['STATIC', 'TARGETING_MATCH', 'SPLIT', 'DISABLED', 'UNKNOWN']);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function isEvaluated(v: unknown): v is EvaluatedFlag {
  if (!isObject(v) || typeof v.key !== 'string') return false;
  if (v.errorCode !== undefined && typeof v.errorCode !== 'string') return false;
  if (v.variant !== undefined && typeof v.variant !== 'string') return false;
  return v.metadata === undefined || isObject(v.metadata);
}

/** The body of POST /ofrep/v1/evaluate/flags, checked. */
export function asBulk(v: unknown): BulkAnswer {
  if (!isObject(v) || !Array.isArray(v.flags) || !v.flags.every(isEvaluated)) {
    throw new FlagClientError('the server answered evaluations that are not evaluations (expected {flags: [{key, value?, variant?, reason?}...]}); the last values stay in force');
  }
  const revision = isObject(v.metadata) && typeof v.metadata.revision === 'number' ? v.metadata.revision : null;
  return { flags: v.flags, revision };
}

/** Bootstrap values, checked as the server's answer is (a hand-written file is as likely to be wrong). */
export function asBootstrap(v: unknown): EvaluatedFlag[] {
  if (!Array.isArray(v) || !v.every(isEvaluated)) throw new FlagClientError('bootstrap must be a list of evaluated flags [{key, value, variant?, reason?}...] (the `flags` of an OFREP bulk evaluation)');
  return v;
}

/** Whether the flag is on for the context (usage counts it as yes). */
export function isOn(f: EvaluatedFlag): boolean {
  if (f.errorCode !== undefined) return false;
  if (typeof f.value === 'boolean') return f.value;
  return f.value !== undefined;
}

/** The variant usage counts: none for a plain on/off flag. */
export const usageVariant = (f: EvaluatedFlag): string | undefined => (typeof f.value === 'boolean' && (f.variant === 'on' || f.variant === 'off') ? undefined : f.variant);

/** The flag as OpenFeature's resolve helpers take it (unknown codes and reasons as GENERAL and UNKNOWN). */
export function asResolved(f: EvaluatedFlag): ResolvedFlag | FailedFlag {
  const metadata = f.metadata ?? {};
  if (f.errorCode !== undefined) {
    const errorCode = (ERROR_CODES.has(f.errorCode) ? f.errorCode : 'GENERAL') as OpenFeatureErrorCode;
    return { errorCode, errorDetails: f.errorDetails ?? `flag ${f.key}: ${f.errorCode}`, metadata };
  }
  const reason = (f.reason !== undefined && REASONS.has(f.reason) ? f.reason : 'UNKNOWN') as OpenFeatureReason;
  return { reason, metadata, ...(f.variant !== undefined ? { variant: f.variant } : {}), ...(f.value !== undefined ? { value: f.value } : {}) };
}

/** Keys whose evaluation differs between two sets (added and removed too). */
export function changedKeys(a: ReadonlyMap<string, EvaluatedFlag>, b: ReadonlyMap<string, EvaluatedFlag>): string[] {
  const out: string[] = [];
  for (const [k, f] of b) if (JSON.stringify(a.get(k)) !== JSON.stringify(f)) out.push(k);
  for (const k of a.keys()) if (!b.has(k)) out.push(k);
  return out;
}
