/**
 * OFREP (the OpenFeature Remote Evaluation Protocol) over the engine's evaluations.
 *
 * Context: `targetingKey` is Unleash's `userId`; `sessionId`, `remoteAddress`, `environment`,
 * `appName` and `currentTime` are Unleash's own fields; every other field goes to
 * `properties` (numbers and booleans as their text; objects and arrays are refused with
 * INVALID_CONTEXT, as Unleash properties are strings).
 *
 * Values: a flag with variants (its own or a strategy's) answers the chosen variant's payload,
 * typed (string, number, json as the object; csv as its text; none: the variant's name), with
 * `variant` its name; when no variant is given (off, or on without one) there is no value and
 * the provider uses the code default. A flag without variants answers true or false. Reasons:
 * the engine's STATIC, TARGETING_MATCH, SPLIT, DISABLED as they are; its DEFAULT (on, but
 * nothing matched this context) is not in OFREP's reasons, so it is UNKNOWN with metadata
 * `reason: "DEFAULT"`. TARGETING_KEY_MISSING: a flag whose rules select by userId
 * (userWithId, a rollout or variants sticky on userId) asked without a targetingKey.
 */
import type { Context, Feature, FlagEvaluation, Payload } from '@rollgate/sdk/engine';
import type { Snapshot } from './hub.js';

export type OfrepErrorCode = 'PARSE_ERROR' | 'TARGETING_KEY_MISSING' | 'INVALID_CONTEXT' | 'GENERAL' | 'FLAG_NOT_FOUND';
export type OfrepReason = 'STATIC' | 'TARGETING_MATCH' | 'SPLIT' | 'DISABLED' | 'UNKNOWN';
export type OfrepMetadata = Record<string, string | number | boolean>;

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

const UNLEASH_FIELDS = new Set(['sessionId', 'remoteAddress', 'environment', 'appName', 'currentTime']);
/** Names that must never become keys of the properties object. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

export interface OfrepContext {
  context: Context;
  hasTargetingKey: boolean;
}

/** OFREP's request body `{context}` as an Unleash context, or INVALID_CONTEXT / PARSE_ERROR saying what is wrong. */
export function ofrepContext(body: unknown): OfrepContext {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new OfrepRequestError(400, 'PARSE_ERROR', 'the body must be a JSON object {"context": {...}}');
  const raw = (body as Record<string, unknown>).context;
  if (raw === undefined) return { context: {}, hasTargetingKey: false };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new OfrepRequestError(400, 'INVALID_CONTEXT', 'context must be an object of fields (targetingKey and attributes)');
  const context: Context = {};
  const properties: Record<string, string> = Object.create(null) as Record<string, string>;
  let hasTargetingKey = false;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (FORBIDDEN.has(k)) throw new OfrepRequestError(400, 'INVALID_CONTEXT', `context field ${k} is not allowed`);
    if (v === null || v === undefined) continue;
    if (typeof v === 'object') throw new OfrepRequestError(400, 'INVALID_CONTEXT', `context.${k.slice(0, 100)} is ${Array.isArray(v) ? 'a list' : 'an object'}; context fields are strings, numbers or booleans`);
    const text = String(v);
    if (k === 'targetingKey') {
      if (typeof v !== 'string') throw new OfrepRequestError(400, 'INVALID_CONTEXT', 'context.targetingKey must be a string');
      context.userId = v;
      hasTargetingKey = v !== '';
    } else if (k === 'userId') {
      // Only when no targetingKey says otherwise: the targetingKey is the user.
      if (context.userId === undefined) context.userId = text;
    } else if (UNLEASH_FIELDS.has(k)) context[k] = text;
    else properties[k] = text;
  }
  if (Object.keys(properties).length) context.properties = { ...properties };
  return { context, hasTargetingKey };
}

function hasVariants(f: Feature): boolean {
  return (f.variants?.length ?? 0) > 0 || (f.strategies ?? []).some((s) => (s.variants?.length ?? 0) > 0);
}

const USER_ID_STRATEGIES = new Set(['userWithId', 'gradualRolloutUserId']);

/** Whether the flag's rules pick by userId, so that a missing targetingKey changes its answer. */
function needsTargetingKey(f: Feature): boolean {
  if (!f.enabled) return false;
  for (const s of f.strategies ?? []) {
    if (s.disabled) continue;
    if (USER_ID_STRATEGIES.has(s.name)) return true;
    if (s.name === 'flexibleRollout' && s.parameters?.stickiness === 'userId') return true;
    if ((s.variants ?? []).some((v) => v.stickiness === 'userId')) return true;
  }
  return (f.variants ?? []).some((v) => v.stickiness === 'userId');
}

function payloadValue(p: Payload): unknown {
  if (p.type === 'number') {
    const n = Number(p.value);
    if (!Number.isFinite(n)) throw new Error(`the number payload "${p.value.slice(0, 60)}" is not a number`);
    return n;
  }
  if (p.type === 'json') {
    try {
      return JSON.parse(p.value) as unknown;
    } catch {
      throw new Error('the json payload is not valid JSON');
    }
  }
  return p.value;
}

const reasonOf = (r: FlagEvaluation['reason']): OfrepReason => (r === 'DEFAULT' ? 'UNKNOWN' : r);

function metadataOf(f: Feature, e: FlagEvaluation): OfrepMetadata {
  const m: OfrepMetadata = {};
  if (f.type) m.kind = f.type;
  if (e.reason === 'DEFAULT') m.reason = 'DEFAULT';
  return m;
}

/** One flag's OFREP answer for a parsed context, or null when the snapshot has no such flag. */
export function ofrepEvaluate(s: Snapshot, features: ReadonlyMap<string, Feature>, key: string, c: OfrepContext): OfrepResult | null {
  const f = features.get(key);
  const e = f && s.evaluator.evaluate(key, c.context);
  if (!f || !e) return null;
  const metadata = metadataOf(f, e);
  if (!c.hasTargetingKey && needsTargetingKey(f)) {
    return { key, errorCode: 'TARGETING_KEY_MISSING', errorDetails: `flag ${key} selects by user (userId), so it needs context.targetingKey`, metadata };
  }
  const reason = reasonOf(e.reason);
  if (!hasVariants(f)) return { key, reason, variant: e.value ? 'on' : 'off', value: e.value, metadata };
  if (!e.variant.enabled) return { key, reason, metadata };
  try {
    const value = e.variant.payload ? payloadValue(e.variant.payload) : e.variant.name;
    return { key, reason, variant: e.variant.name, value, metadata };
  } catch (err) {
    return { key, errorCode: 'PARSE_ERROR', errorDetails: `flag ${key}, variant ${e.variant.name}: ${(err as Error).message}`, metadata };
  }
}

export const notFound = (key: string): OfrepFailure => ({ key, errorCode: 'FLAG_NOT_FOUND', errorDetails: `flag ${key.slice(0, 255)} was not found in this environment (or is archived)` });

export const isFailure = (r: OfrepResult): r is OfrepFailure => 'errorCode' in r;
