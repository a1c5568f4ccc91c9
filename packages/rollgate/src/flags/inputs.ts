/** Request bodies of the flag routes (zod, parsed at the edge). */
import { z } from 'zod';
import { FLAG_KEY_KINDS, FLAG_KINDS } from '../store/flags-types.js';
import { FlagName } from './rules-schema.js';

/** The most an import file may hold as JSON; every other flag body is at most 1 MiB. */
export const MAX_IMPORT_BYTES = 16 * 1024 * 1024;

const Kind = z.enum(FLAG_KINDS, { error: `expected a kind: ${FLAG_KINDS.join(', ')}` });
const Owner = z.string().trim().min(1).max(200).refine((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s), { error: 'an owner must not contain control characters' });
const Description = z.string().max(4000).refine((s) => !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(s), { error: 'a description must not contain control characters' });
/** Days; null: permanent. */
const Lifetime = z.number().int().min(1).max(3650).nullable();

export const CreateFlagBody = z.strictObject({
  name: FlagName,
  kind: Kind.optional(),
  owner: Owner.optional(),
  description: Description.optional(),
  lifetimeDays: Lifetime.optional(),
});
export type CreateFlagBody = z.infer<typeof CreateFlagBody>;

export const UpdateFlagBody = z
  .strictObject({ kind: Kind.optional(), owner: Owner.nullable().optional(), description: Description.optional(), lifetimeDays: Lifetime.optional() })
  .refine((b) => Object.keys(b).length > 0, { error: 'give at least one of kind, owner, description, lifetimeDays' });
export type UpdateFlagBody = z.infer<typeof UpdateFlagBody>;

export const RolloutBody = z.strictObject({
  percent: z.number({ error: 'expected percent as a number' }).int({ error: 'percent must be a whole number' }).min(0).max(100),
  /** Which flexibleRollout strategy when there are several: its index in the strategies, or its id. */
  strategy: z.union([z.number().int().min(0).max(1000), z.string().min(1).max(100)]).optional(),
});
export type RolloutBody = z.infer<typeof RolloutBody>;

export const CreateKeyBody = z.strictObject({
  kind: z.enum(FLAG_KEY_KINDS, { error: 'expected kind server or client' }),
  name: z.string().trim().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9 ._:@/+-]*$/, { error: 'a key name is letters, digits, spaces and ._:@/+-' }).optional(),
});
export type CreateKeyBody = z.infer<typeof CreateKeyBody>;

/** `days`: how long decided or unused counts as stale (default 30, as Unleash's potentially-stale nudge). */
export const StaleQuery = z.strictObject({ days: z.coerce.number().int().min(1).max(3650).default(30) });

export const FlagListQuery = z.strictObject({ archived: z.enum(['true', 'false']).optional() });
export const KeyListQuery = z.strictObject({ env: z.string().optional() });

/** Why, in a line: shown on the trail and to whoever decides. */
export const Reason = z
  .string({ error: 'expected reason as text' })
  .trim()
  .min(1, { error: 'give a reason (what the change is for)' })
  .max(1000, { error: 'a reason is at most 1000 characters' })
  .refine((s) => !/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(s), { error: 'a reason must not contain control or bidi characters' });

/** The kill switch: off at once, without a change request (permission flags.kill). */
export const KillBody = z.strictObject({ reason: Reason.optional() });
export type KillBody = z.infer<typeof KillBody>;
