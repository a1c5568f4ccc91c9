/**
 * OFREP (the OpenFeature Remote Evaluation Protocol) over the engine's evaluations.
 *
 * How a flag's evaluation maps to OpenFeature's (context, values, reasons, TARGETING_KEY_MISSING)
 * is shared with the SDK's providers (packages/sdk/src/openfeature/resolve.ts), so a flag answers
 * the same through OFREP and through the in-process provider.
 */
import type { Feature } from '@rollgate/sdk/engine';
import { ContextError, resolveFlag, unleashContextOf, type FlagMetadata, type MappedContext, type OpenFeatureErrorCode, type OpenFeatureReason } from '@rollgate/sdk';
import type { Snapshot } from './hub.js';

export type OfrepErrorCode = Exclude<OpenFeatureErrorCode, 'TYPE_MISMATCH'>;
export type OfrepReason = OpenFeatureReason;
export type OfrepMetadata = FlagMetadata;

export interface OfrepSuccess {
  key: string;
  reason: OfrepReason;
  variant?: string;
  value?: unknown;
  metadata?: OfrepMetadata;
}

export interface OfrepFailure {
  key: string;
  errorCode: OfrepErrorCode;
  errorDetails: string;
  metadata?: OfrepMetadata;
}

export type OfrepResult = OfrepSuccess | OfrepFailure;

/** A request-level failure (the whole context or body), with its HTTP status. */
export class OfrepRequestError extends Error {
  constructor(
    readonly status: 400 | 500,
    readonly errorCode: OfrepErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type OfrepContext = MappedContext;

/** OFREP's request body `{context}` as an Unleash context, or INVALID_CONTEXT / PARSE_ERROR saying what is wrong. */
export function ofrepContext(body: unknown): OfrepContext {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new OfrepRequestError(400, 'PARSE_ERROR', 'the body must be a JSON object {"context": {...}}');
  try {
    return unleashContextOf((body as Record<string, unknown>).context);
  } catch (e) {
    if (e instanceof ContextError) throw new OfrepRequestError(400, 'INVALID_CONTEXT', e.message);
    throw e;
  }
}

/** One flag's OFREP answer for a parsed context, or null when the snapshot has no such flag. */
export function ofrepEvaluate(s: Snapshot, features: ReadonlyMap<string, Feature>, key: string, c: OfrepContext): OfrepResult | null {
  const f = features.get(key);
  const e = f && s.evaluator.evaluate(key, c.context);
  if (!f || !e) return null;
  return { key, ...(resolveFlag(f, e, c.hasTargetingKey) as OfrepSuccess | Omit<OfrepFailure, 'key'>) } as OfrepResult;
}

export const notFound = (key: string): OfrepFailure => ({ key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag ${key.slice(0, 255)} was not found in this environment (or is archived)` });

export const isFailure = (r: OfrepResult): r is OfrepFailure => 'errorCode' in r;
