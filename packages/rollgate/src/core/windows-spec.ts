/**
 * Deploy windows and freeze periods: when changes may reach an environment. Declared on an
 * environment (`deployWindows`) or inline on a pipeline's `window` stage; judged by
 * core/windows.ts.
 */
import { z } from 'zod';

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof DAYS)[number];
const CLOCK = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, { message: 'a time of day as HH:MM, 00:00 to 24:00' });
const IsoTime = z.string().datetime({ offset: true, message: 'an ISO-8601 time with a zone, e.g. 2026-12-20T00:00:00Z' });

export const DeployWindow = z
  .object({
    days: z.array(z.enum(DAYS)).min(1).default([...DAYS]),
    from: CLOCK,
    to: CLOCK,
  })
  .strict()
  .refine((w) => w.from !== w.to, { message: 'from and to are equal: the window would be empty' });
export type DeployWindow = z.infer<typeof DeployWindow>;

export const Freeze = z
  .object({ from: IsoTime, to: IsoTime, reason: z.string().max(200).optional() })
  .strict()
  .refine((f) => Date.parse(f.from) < Date.parse(f.to), { message: 'a freeze must end after it starts' });
export type Freeze = z.infer<typeof Freeze>;

/** When changes may reach an environment. Used by `window` stages and every deploy to it. */
export const WindowsSpec = z
  .object({
    timezone: z
      .string()
      .default('UTC')
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, { message: 'an IANA time zone, e.g. UTC or Europe/Berlin' }),
    allow: z.array(DeployWindow).default([]).describe('Deploys happen only inside one of these (empty: any time)'),
    freeze: z.array(Freeze).default([]).describe('No deploys from..to, whatever allow says'),
  })
  .strict();
export type WindowsSpec = z.infer<typeof WindowsSpec>;

