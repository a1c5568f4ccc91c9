/** Request bodies of flag rollouts and scheduled changes (zod, parsed at the edge). */
import { z } from 'zod';
import { DURATION_RE, parseDuration } from '../core/duration.js';
import { FLAG_SCHEDULE_ACTIONS } from '../store/flag-rollouts-types.js';

/** The shortest time between two steps; tests use it, nothing goes faster. */
export const MIN_STEP_EVERY_MS = 1000;
export const MAX_STEP_EVERY_MS = 30 * 86_400_000;
export const MAX_STEPS = 50;

const Percent = z.number({ error: 'expected a percentage (a whole number from 0 to 100)' }).int({ error: 'a percentage is a whole number' }).min(0, { error: 'a percentage is at least 0' }).max(100, { error: 'a percentage is at most 100' });

const Every = z
  .string({ error: 'expected every as a duration such as 10m' })
  .regex(DURATION_RE, { error: 'every: write a number and a unit, e.g. 30s, 10m, 1h' })
  .transform((s) => parseDuration(s, 'every'))
  .refine((ms) => ms >= MIN_STEP_EVERY_MS, { error: `every must be at least 1s (steps need time between them to be seen)` })
  .refine((ms) => ms <= MAX_STEP_EVERY_MS, { error: 'every is at most 30d' });

const VariantName = z.string().min(1).max(255).refine((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s), { error: 'a variant name must not contain control characters' });

export const StartRolloutBody = z.strictObject({
  steps: z
    .array(Percent, { error: 'expected steps as a list of percentages, e.g. [1, 5, 25, 50, 100]' })
    .min(1, { error: 'give at least one step' })
    .max(MAX_STEPS, { error: `at most ${MAX_STEPS} steps` })
    .superRefine((steps, ctx) => {
      for (let i = 1; i < steps.length; i++) {
        if (steps[i]! <= steps[i - 1]!) ctx.addIssue({ code: 'custom', path: [i], message: `step ${i + 1} (${steps[i]}%) is not above step ${i} (${steps[i - 1]}%): steps must increase` });
      }
    }),
  every: Every,
  variant: VariantName.optional(),
  /** Judge the rollout from per-request evidence and kill the flag when the treatment fails (flags/guard.ts). */
  guard: z.boolean().optional(),
  /** With guard and variant: the variant the rolled-out one is compared with (default: the only other variant, or one named control). */
  control: VariantName.optional(),
}).refine((b) => b.control === undefined || (b.guard === true && b.variant !== undefined), { path: ['control'], error: 'control goes with guard and variant: it names the variant the rolled-out one is compared with' })
  .refine((b) => b.control === undefined || b.control !== b.variant, { path: ['control'], error: 'control must be another variant than the one rolled out' });
export type StartRolloutBody = z.infer<typeof StartRolloutBody>;

export const AbortRolloutBody = z
  .strictObject({
    /** The percentage to leave the flag at; default 0 (as Argo Rollouts' abort sends all traffic back to stable). */
    to: Percent.optional(),
    /** Leave the percentage where the rollout had it. */
    keep: z.boolean().optional(),
  })
  .refine((b) => !(b.keep && b.to !== undefined), { error: 'give to or keep, not both' });
export type AbortRolloutBody = z.infer<typeof AbortRolloutBody>;

export const ScheduleBody = z
  .strictObject({
    at: z.iso.datetime({ offset: true, error: 'expected at as an ISO-8601 time, e.g. 2026-12-24T18:00:00Z' }),
    action: z.enum(FLAG_SCHEDULE_ACTIONS, { error: `expected action ${FLAG_SCHEDULE_ACTIONS.join(', ')}` }),
    percent: Percent.optional(),
  })
  .superRefine((b, ctx) => {
    if (b.action === 'percent' && b.percent === undefined) ctx.addIssue({ code: 'custom', path: ['percent'], message: 'action percent needs percent' });
    if (b.action !== 'percent' && b.percent !== undefined) ctx.addIssue({ code: 'custom', path: ['percent'], message: `percent goes with action percent, not ${b.action}` });
  });
export type ScheduleBody = z.infer<typeof ScheduleBody>;

export const ScheduleListQuery = z.strictObject({ all: z.enum(['true', 'false']).optional(), flag: z.string().max(255).optional() });
export const RolloutListQuery = z.strictObject({ app: z.string().max(100).optional(), env: z.string().max(100).optional() });
