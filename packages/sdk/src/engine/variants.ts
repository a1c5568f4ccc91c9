// Variant selection, Unleash's: an override matching the context wins; otherwise the stickiness
// value is bucketed with the variant seed into 1..total weight and walked through the weights.
// weightType is not read here: weights arrive as the server computed them, as in every SDK.
import { contextValue } from './context.js';
import { bucket, VARIANT_SEED } from './murmur.js';
import type { Context, Payload, Variant, VariantResult } from './types.js';

export interface VariantSet {
  /** Frozen results, one per variant, shared by every evaluation. */
  results: VariantResult[];
  weights: number[];
  total: number;
  /** "groupId:" as Unleash hashes it. */
  prefix: string;
  stickiness: string;
  overrides: { index: number; field: string; values: Set<string> }[];
  /** Whether weights split the traffic between two or more variants (reason SPLIT). */
  split: boolean;
}

const DEFAULT_FIELDS = ['userId', 'sessionId', 'remoteAddress'] as const;

function frozenPayload(p: Payload | undefined): Payload | undefined {
  return p ? Object.freeze({ type: p.type, value: p.value }) : undefined;
}

export function compileVariants(variants: Variant[], groupId: string, stickiness: string | undefined): VariantSet {
  const weights = variants.map((v) => Number(v.weight) || 0);
  const results = variants.map((v) => {
    const payload = frozenPayload(v.payload ?? undefined);
    const r: VariantResult = payload
      ? { name: v.name, payload, enabled: true, feature_enabled: true }
      : { name: v.name, enabled: true, feature_enabled: true };
    return Object.freeze(r);
  });
  const overrides: VariantSet['overrides'] = [];
  variants.forEach((v, index) => {
    for (const o of v.overrides ?? []) overrides.push({ index, field: o.contextName, values: new Set(o.values) });
  });
  return {
    results,
    weights,
    total: weights.reduce((a, b) => a + b, 0),
    prefix: `${groupId}:`,
    stickiness: stickiness || 'default',
    overrides,
    split: weights.filter((w) => w > 0).length > 1,
  };
}

function stickinessValue(set: VariantSet, context: Context, random: () => number): string {
  if (set.stickiness !== 'default') {
    return contextValue(context, set.stickiness) || String(Math.round(random() * 100000));
  }
  for (const field of DEFAULT_FIELDS) {
    const v = context[field];
    if (typeof v === 'string' && v !== '') return v;
  }
  return String(Math.round(random() * 100000));
}

/** The chosen variant's index, or -1 when the weights add up to nothing; override tells why. */
export function selectVariant(set: VariantSet, context: Context, random: () => number): number {
  if (set.total <= 0) return -1;
  const overrides = set.overrides;
  for (let i = 0; i < overrides.length; i++) {
    const o = overrides[i] as VariantSet['overrides'][number];
    const v = contextValue(context, o.field);
    if (v !== undefined && o.values.has(v)) return o.index;
  }
  const target = bucket(set.prefix, stickinessValue(set, context, random), set.total, VARIANT_SEED);
  let counter = 0;
  const weights = set.weights;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] as number;
    if (w === 0) continue;
    counter += w;
    if (counter >= target) return i;
  }
  return -1;
}

/** Whether the chosen index came from an override (for the reason TARGETING_MATCH). */
export function isOverride(set: VariantSet, context: Context, index: number): boolean {
  for (const o of set.overrides) {
    if (o.index !== index) continue;
    const v = contextValue(context, o.field);
    if (v !== undefined && o.values.has(v)) return true;
  }
  return false;
}
