/**
 * A flag's evaluation as OpenFeature sees it, shared by the server's OFREP endpoints and this
 * package's providers, so a flag answers the same through either.
 *
 * Context: `targetingKey` is Unleash's `userId`; `sessionId`, `remoteAddress`, `environment`,
 * `appName` and `currentTime` are Unleash's own fields; every other field goes to `properties`
 * (numbers and booleans as their text; objects and lists are refused: Unleash properties are
 * strings).
 *
 * Values: a flag with variants (its own or a strategy's) answers the chosen variant's payload,
 * typed (string, number, json as the object; csv as its text; none: the variant's name), with
 * `variant` its name; when no variant is given (off, or on without one) there is no value and
 * the caller's default applies. A flag without variants answers true or false. Reasons: the
 * engine's STATIC, TARGETING_MATCH, SPLIT, DISABLED as they are; its DEFAULT (on, but nothing
 * matched) is not an OFREP reason, so it is UNKNOWN with metadata `reason: "DEFAULT"`.
 * TARGETING_KEY_MISSING: a flag whose rules select by userId (userWithId, a rollout or variants
 * sticky on userId) asked without a targetingKey.
 */
import type { Context, Feature, FlagEvaluation, Payload } from '../engine/index.js';

export type OpenFeatureErrorCode = 'PARSE_ERROR' | 'TARGETING_KEY_MISSING' | 'INVALID_CONTEXT' | 'GENERAL' | 'FLAG_NOT_FOUND' | 'TYPE_MISMATCH';
export type OpenFeatureReason = 'STATIC' | 'TARGETING_MATCH' | 'SPLIT' | 'DISABLED' | 'UNKNOWN';
export type FlagMetadata = Record<string, string | number | boolean>;

export interface ResolvedFlag {
  reason: OpenFeatureReason;
  variant?: string;
  /** Absent: the caller's default applies. */
  value?: unknown;
  metadata: FlagMetadata;
}

export interface FailedFlag {
  errorCode: OpenFeatureErrorCode;
  errorDetails: string;
  metadata?: FlagMetadata;
}

export interface MappedContext {
  context: Context;
  hasTargetingKey: boolean;
}

/** A context that cannot be evaluated: INVALID_CONTEXT. */
export class ContextError extends Error {}

const UNLEASH_FIELDS = new Set(['sessionId', 'remoteAddress', 'environment', 'appName', 'currentTime']);
/** Names that must never become keys of the properties object. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** OpenFeature's evaluation context as Unleash's; throws ContextError saying what is wrong. */
export function unleashContextOf(raw: unknown): MappedContext {
  if (raw === undefined) return { context: {}, hasTargetingKey: false };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ContextError('context must be an object of fields (targetingKey and attributes)');
  const context: Context = {};
  const properties: Record<string, string> = Object.create(null) as Record<string, string>;
  let hasTargetingKey = false;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (FORBIDDEN.has(k)) throw new ContextError(`context field ${k} is not allowed`);
    if (v === null || v === undefined) continue;
    const value = v instanceof Date ? v.toISOString() : v;
    if (typeof value === 'object') throw new ContextError(`context.${k.slice(0, 100)} is ${Array.isArray(value) ? 'a list' : 'an object'}; context fields are strings, numbers or booleans`);
    const text = String(value);
    if (k === 'targetingKey') {
      if (typeof value !== 'string') throw new ContextError('context.targetingKey must be a string');
      context.userId = value;
      hasTargetingKey = value !== '';
    } else if (k === 'userId') {
      // Only when no targetingKey says otherwise: the targetingKey is the user.
      if (context.userId === undefined) context.userId = text;
    } else if (UNLEASH_FIELDS.has(k)) context[k] = text;
    else properties[k] = text;
  }
  if (Object.keys(properties).length) context.properties = { ...properties };
  return { context, hasTargetingKey };
}

export function hasVariants(f: Feature): boolean {
  return (f.variants?.length ?? 0) > 0 || (f.strategies ?? []).some((s) => (s.variants?.length ?? 0) > 0);
}

const USER_ID_STRATEGIES = new Set(['userWithId', 'gradualRolloutUserId']);

/** Whether the flag's rules pick by userId, so that a missing targetingKey changes its answer. */
export function needsTargetingKey(f: Feature): boolean {
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
    if (!Number.isFinite(n) || p.value.trim() === '') throw new Error(`the number payload "${p.value.slice(0, 60)}" is not a number`);
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

const reasonOf = (r: FlagEvaluation['reason']): OpenFeatureReason => (r === 'DEFAULT' ? 'UNKNOWN' : r);

function metadataOf(f: Feature, e: FlagEvaluation): FlagMetadata {
  const m: FlagMetadata = {};
  if (f.type) m.kind = f.type;
  if (e.reason === 'DEFAULT') m.reason = 'DEFAULT';
  return m;
}

/** The flag's answer for an evaluation of it (its `name` names it in messages). */
export function resolveFlag(f: Feature, e: FlagEvaluation, hasTargetingKey: boolean): ResolvedFlag | FailedFlag {
  const metadata = metadataOf(f, e);
  if (!hasTargetingKey && needsTargetingKey(f)) {
    return { errorCode: 'TARGETING_KEY_MISSING', errorDetails: `flag ${f.name} selects by user (userId), so it needs context.targetingKey`, metadata };
  }
  const reason = reasonOf(e.reason);
  if (!hasVariants(f)) return { reason, variant: e.value ? 'on' : 'off', value: e.value, metadata };
  if (!e.variant.enabled) return { reason, metadata };
  try {
    const value = e.variant.payload ? payloadValue(e.variant.payload) : e.variant.name;
    return { reason, variant: e.variant.name, value, metadata };
  } catch (err) {
    return { errorCode: 'PARSE_ERROR', errorDetails: `flag ${f.name}, variant ${e.variant.name}: ${(err as Error).message}`, metadata };
  }
}

export const isFailed = (r: ResolvedFlag | FailedFlag): r is FailedFlag => 'errorCode' in r;
