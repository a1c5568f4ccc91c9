/**
 * The structural check of flag rules at the API's edge, in Unleash's client-features format
 * (packages/sdk/src/engine/types.ts): field types, known operators, integer weights 0..1000,
 * names without control characters, and bounds on every list and string so one flag stays small.
 * Objects are strict: a misspelt key (`contraints`) would otherwise be dropped and the rule would
 * match everyone. What values mean (a regex that compiles, weights that add up) is the engine's
 * `ruleProblems`, run after this.
 */
import { z } from 'zod';
import type { ClientFeatures, Constraint, Feature, Operator, Segment, Strategy, Variant } from '@rollgate/sdk/engine';

export const OPERATORS = [
  'IN', 'NOT_IN',
  'STR_CONTAINS', 'STR_STARTS_WITH', 'STR_ENDS_WITH',
  'NUM_EQ', 'NUM_GT', 'NUM_GTE', 'NUM_LT', 'NUM_LTE',
  'DATE_AFTER', 'DATE_BEFORE',
  'SEMVER_EQ', 'SEMVER_GT', 'SEMVER_GTE', 'SEMVER_LT', 'SEMVER_LTE',
  'REGEX', 'IN_CIDR',
] as const satisfies readonly Operator[];
// Fails to compile when the SDK gains an operator this list lacks.
const _allOperators: Operator extends (typeof OPERATORS)[number] ? true : never = true;
void _allOperators;

export const LIMITS = {
  name: 255,
  contextName: 100,
  value: 1000,
  values: 10_000,
  constraints: 100,
  strategies: 100,
  variants: 100,
  segmentsPerStrategy: 100,
  parameters: 50,
  parameterValue: 10_000,
  payload: 64 * 1024,
  dependencies: 50,
  /** One feature as JSON. */
  featureBytes: 256 * 1024,
  features: 5000,
  segments: 1000,
} as const;

// C0, DEL, C1, line/paragraph separators and bidi controls: nothing a name may hold.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

const text = (max: number, what: string) =>
  z
    .string({ error: `expected ${what} as a string` })
    .min(1, { error: `${what} must not be empty` })
    .max(max, { error: `${what} is at most ${max} characters` })
    .refine((s) => !CONTROL.test(s), { error: `${what} must not contain control characters` });

export const FlagName = text(LIMITS.name, 'a flag name');
const ContextName = text(LIMITS.contextName, 'a context field name');
const Value = z.string({ error: 'expected a string' }).max(LIMITS.value, { error: `values are at most ${LIMITS.value} characters` });
const list = <T extends z.ZodType>(item: T, max: number, what: string) => z.array(item, { error: `expected a list of ${what}` }).max(max, { error: `at most ${max} ${what}` });
const int = (min: number, max: number, what: string) =>
  z.number({ error: `expected ${what} as a number` }).int({ error: `${what} must be a whole number` }).min(min, { error: `${what} is at least ${min}` }).max(max, { error: `${what} is at most ${max}` });

export const ConstraintSchema = z.strictObject({
  contextName: ContextName,
  operator: z.enum(OPERATORS, { error: `expected an operator, one of ${OPERATORS.join(', ')}` }),
  values: list(Value, LIMITS.values, 'values').optional(),
  value: Value.optional(),
  inverted: z.boolean().optional(),
  caseInsensitive: z.boolean().optional(),
}) satisfies z.ZodType<Constraint>;

const Payload = z.strictObject({
  type: z.enum(['string', 'json', 'csv', 'number'], { error: 'expected a payload type: string, json, csv or number' }),
  value: z.string().max(LIMITS.payload, { error: `a payload is at most ${LIMITS.payload} characters` }),
});

export const VariantSchema = z.strictObject({
  name: text(LIMITS.name, 'a variant name'),
  weight: int(0, 1000, 'a weight'),
  weightType: z.enum(['variable', 'fix'], { error: 'expected weightType variable or fix' }).optional(),
  stickiness: ContextName.optional(),
  payload: Payload.optional(),
  overrides: list(z.strictObject({ contextName: ContextName, values: list(Value, LIMITS.values, 'values') }), LIMITS.variants, 'overrides').optional(),
}) satisfies z.ZodType<Variant>;

export const StrategySchema = z.strictObject({
  name: text(LIMITS.contextName, 'a strategy name'),
  parameters: z
    .record(text(LIMITS.contextName, 'a parameter name'), z.union([z.string().max(LIMITS.parameterValue, { error: `a parameter is at most ${LIMITS.parameterValue} characters` }), z.number()], { error: 'expected a parameter as a string or number' }))
    .refine((p) => Object.keys(p).length <= LIMITS.parameters, { error: `at most ${LIMITS.parameters} parameters` })
    .optional(),
  constraints: list(ConstraintSchema, LIMITS.constraints, 'constraints').optional(),
  segments: list(int(0, 2 ** 31 - 1, 'a segment id'), LIMITS.segmentsPerStrategy, 'segments').optional(),
  variants: list(VariantSchema, LIMITS.variants, 'variants').optional(),
  disabled: z.boolean().nullable().optional(),
  sortOrder: z.number().int().optional(),
  title: z.string().max(LIMITS.name).nullable().optional(),
  id: z.string().max(LIMITS.contextName).optional(),
}) satisfies z.ZodType<Strategy>;

const Dependency = z.strictObject({
  feature: FlagName,
  enabled: z.boolean().optional(),
  variants: list(text(LIMITS.name, 'a variant name'), LIMITS.variants, 'variants').optional(),
});

/** The message of a value that is not an object at all (other problems keep their own). */
const notAnObject = (what: string) => (iss: { code: string; input?: unknown }) => (iss.code === 'invalid_type' ? `expected an object (${what})` : undefined);

/** A flag's rules as Unleash sends them; the metadata fields (type, description…) are the flag's own. */
export const FeatureSchema = z
  .strictObject({
    name: FlagName,
    enabled: z.boolean({ error: 'expected enabled as true or false' }),
    type: z.string().max(LIMITS.contextName).optional(),
    description: z.string().max(4000).nullable().optional(),
    project: z.string().max(LIMITS.name).optional(),
    stale: z.boolean().optional(),
    impressionData: z.boolean().optional(),
    strategies: list(StrategySchema, LIMITS.strategies, 'strategies').optional(),
    variants: list(VariantSchema, LIMITS.variants, 'variants').optional(),
    dependencies: list(Dependency, LIMITS.dependencies, 'dependencies').optional(),
  }, { error: notAnObject('an Unleash feature') })
  .refine((f) => JSON.stringify(f).length <= LIMITS.featureBytes, { error: `a flag's rules are at most ${LIMITS.featureBytes / 1024} KiB as JSON; split long lists into segments` }) satisfies z.ZodType<Feature>;

export const SegmentSchema = z.strictObject({
  id: int(0, 2 ** 31 - 1, 'a segment id'),
  name: text(LIMITS.name, 'a segment name').optional(),
  constraints: list(ConstraintSchema, LIMITS.constraints, 'constraints'),
}) satisfies z.ZodType<Segment>;

export const ClientFeaturesSchema = z
  .strictObject({
    version: int(1, 1000, 'version'),
    features: list(FeatureSchema, LIMITS.features, 'features'),
    segments: list(SegmentSchema, LIMITS.segments, 'segments').optional(),
  }, { error: notAnObject('{version, features, segments}') })
  .superRefine((s, ctx) => {
    const names = new Set<string>();
    s.features.forEach((f, i) => {
      if (names.has(f.name)) ctx.addIssue({ code: 'custom', path: ['features', i, 'name'], message: `flag ${f.name} is given twice` });
      names.add(f.name);
    });
    const ids = new Set<number>();
    (s.segments ?? []).forEach((g, i) => {
      if (ids.has(g.id)) ctx.addIssue({ code: 'custom', path: ['segments', i, 'id'], message: `segment ${g.id} is given twice` });
      ids.add(g.id);
    });
  }) satisfies z.ZodType<ClientFeatures>;

/** "features[2].strategies[0].constraints[1].operator": a path as the engine's RuleProblem names one. */
export function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}
