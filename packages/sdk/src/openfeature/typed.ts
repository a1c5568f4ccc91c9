/**
 * One flag resolved for the type the caller asked, with OpenFeature's error codes: the value
 * the flag gives (resolve.ts) when it is of that type, else the caller's default with
 * TYPE_MISMATCH; no value (off, or a variant without payload) gives the default.
 */
import type { Feature, FlagEvaluation } from '../engine/index.js';
import { ContextError, isFailed, resolveFlag, unleashContextOf, type FailedFlag, type FlagMetadata, type OpenFeatureErrorCode, type OpenFeatureReason, type ResolvedFlag } from './resolve.js';

export type FlagType = 'boolean' | 'string' | 'number' | 'object';

export interface TypedResolution<T> {
  value: T;
  variant?: string;
  reason: OpenFeatureReason | 'DEFAULT' | 'ERROR';
  flagMetadata?: FlagMetadata;
  errorCode?: OpenFeatureErrorCode;
  errorMessage?: string;
}

/** What the provider reads rules through (RollgateClient). */
export interface RuleSource {
  feature(name: string): Feature | undefined;
  evaluate(name: string, context: Record<string, unknown>): FlagEvaluation | undefined;
}

function typeOf(v: unknown): FlagType | 'null' | 'other' {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'object';
  const t = typeof v;
  return t === 'boolean' || t === 'string' || t === 'number' || t === 'object' ? t : 'other';
}

export function resolveTyped<T>(source: RuleSource, type: FlagType, key: string, defaultValue: T, rawContext: unknown): TypedResolution<T> {
  let mapped;
  try {
    mapped = unleashContextOf(rawContext);
  } catch (e) {
    if (e instanceof ContextError) return failed(defaultValue, 'INVALID_CONTEXT', e.message);
    throw e;
  }
  const f = source.feature(key);
  const e = f && source.evaluate(key, mapped.context);
  if (!f || !e) return notFound(key, defaultValue);
  return typedResolution(type, key, defaultValue, resolveFlag(f, e, mapped.hasTargetingKey));
}

export const failed = <T>(defaultValue: T, errorCode: OpenFeatureErrorCode, errorMessage: string, flagMetadata?: FlagMetadata): TypedResolution<T> => ({ value: defaultValue, reason: 'ERROR', errorCode, errorMessage, ...(flagMetadata ? { flagMetadata } : {}) });

export const notFound = <T>(key: string, defaultValue: T): TypedResolution<T> => failed(defaultValue, 'FLAG_NOT_FOUND', `flag ${key} was not found in this environment (or is archived)`);

/** A flag's answer (evaluated here or by the server) for the type the caller asked. */
export function typedResolution<T>(type: FlagType, key: string, defaultValue: T, r: ResolvedFlag | FailedFlag): TypedResolution<T> {
  if (isFailed(r)) return failed(defaultValue, r.errorCode, r.errorDetails, r.metadata);
  if (r.value === undefined) return { value: defaultValue, reason: r.reason === 'UNKNOWN' ? 'DEFAULT' : r.reason, flagMetadata: r.metadata, ...(r.variant ? { variant: r.variant } : {}) };
  if (typeOf(r.value) !== type) return failed(defaultValue, 'TYPE_MISMATCH', `flag ${key} gives a ${typeOf(r.value)}${r.variant ? ` (variant ${r.variant})` : ''}, not a ${type}`, r.metadata);
  return { value: r.value as T, reason: r.reason, flagMetadata: r.metadata, ...(r.variant ? { variant: r.variant } : {}) };
}
