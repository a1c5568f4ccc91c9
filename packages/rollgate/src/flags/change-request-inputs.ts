/** Request bodies and queries of flag change requests (zod, parsed at the edge). */
import { z } from 'zod';
import { DURATION_RE, parseDuration } from '../core/duration.js';
import { CHANGE_REQUEST_ACTIONS, CHANGE_REQUEST_STATUSES } from '../store/flag-change-requests-types.js';
import { Reason, RolloutBody } from './inputs.js';
import { StartRolloutBody } from './rollout-inputs.js';

export const DEFAULT_EXPIRY_MS = 24 * 3_600_000;
export const MIN_EXPIRY_MS = 60_000;
export const MAX_EXPIRY_MS = 30 * 86_400_000;

const Expires = z
  .string({ error: 'expected expires as a duration such as 24h' })
  .regex(DURATION_RE, { error: 'expires: write a number and a unit, e.g. 30m, 24h, 7d' })
  .transform((s) => parseDuration(s, 'expires'))
  .refine((ms) => ms >= MIN_EXPIRY_MS, { error: 'expires is at least 1m (someone must have time to look)' })
  .refine((ms) => ms <= MAX_EXPIRY_MS, { error: 'expires is at most 30d' });

/**
 * What is proposed: the same changes as the direct commands (enable, disable, a rollout
 * percentage, a whole state as for `flags set`, a stepped rollout, archive), with why and for how long.
 */
export const ProposeBody = z
  .strictObject({
    action: z.enum(CHANGE_REQUEST_ACTIONS, { error: `expected action: ${CHANGE_REQUEST_ACTIONS.join(', ')}` }),
    percent: RolloutBody.shape.percent.optional(),
    strategy: RolloutBody.shape.strategy,
    /** For `set`: an Unleash Feature, as `PUT .../flags/:flag` takes (checked as it is). */
    state: z.unknown().optional(),
    /** For `steps`: the rollout to start, as `POST .../rollouts` takes it ({steps, every, variant?, guard?}). */
    rollout: StartRolloutBody.optional(),
    reason: Reason,
    expires: Expires.optional(),
  })
  .superRefine((b, ctx) => {
    if (b.action === 'rollout' && b.percent === undefined) ctx.addIssue({ code: 'custom', path: ['percent'], message: 'a rollout proposal needs percent (0 to 100)' });
    if (b.action !== 'rollout' && b.percent !== undefined) ctx.addIssue({ code: 'custom', path: ['percent'], message: `percent goes with action rollout, not ${b.action}` });
    if (b.action !== 'rollout' && b.strategy !== undefined) ctx.addIssue({ code: 'custom', path: ['strategy'], message: `strategy goes with action rollout, not ${b.action}` });
    if (b.action === 'set' && b.state === undefined) ctx.addIssue({ code: 'custom', path: ['state'], message: 'a set proposal needs state (the flag as an Unleash feature)' });
    if (b.action !== 'set' && b.state !== undefined) ctx.addIssue({ code: 'custom', path: ['state'], message: `state goes with action set, not ${b.action}` });
    if (b.action === 'steps' && b.rollout === undefined) ctx.addIssue({ code: 'custom', path: ['rollout'], message: 'a steps proposal needs rollout: {steps, every}, e.g. {"steps": [1, 5, 25, 50, 100], "every": "10m"}' });
    if (b.action !== 'steps' && b.rollout !== undefined) ctx.addIssue({ code: 'custom', path: ['rollout'], message: `rollout goes with action steps, not ${b.action}` });
  });
export type ProposeBody = z.infer<typeof ProposeBody>;

export const ApproveBody = z.strictObject({ reason: Reason.optional() });
export type ApproveBody = z.infer<typeof ApproveBody>;

export const RejectBody = z.strictObject({ reason: Reason });
export type RejectBody = z.infer<typeof RejectBody>;

/** `status`: one status, `expired` (open past its time), or `all`; default: open ones. */
export const ChangeRequestListQuery = z.strictObject({
  app: z.string().optional(),
  env: z.string().optional(),
  flag: z.string().optional(),
  status: z.enum([...CHANGE_REQUEST_STATUSES, 'expired', 'all'], { error: `expected status: ${[...CHANGE_REQUEST_STATUSES, 'expired', 'all'].join(', ')}` }).optional(),
});
