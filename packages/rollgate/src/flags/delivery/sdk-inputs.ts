/**
 * What Unleash SDKs send, parsed at the edge: the registration of an instance and the metrics
 * bucket (Unleash's client API formats). Unknown fields are allowed (SDKs add platform details
 * over time); sizes are bounded.
 */
import { z } from 'zod';

const Name = z.string().min(1).max(255);
const Count = z.number().int().min(0).max(1e12);
const Time = z.union([z.string().max(64), z.number()]);

export const RegisterBody = z.looseObject({
  appName: Name,
  instanceId: Name,
  sdkVersion: z.string().max(255).optional(),
  strategies: z.array(z.string().max(255)).max(1000).optional(),
  started: Time.optional(),
  interval: z.number().min(0).max(1e9).optional(),
});
export type RegisterBody = z.output<typeof RegisterBody>;

export const MAX_METRIC_TOGGLES = 10_000;

export const MetricsBody = z.looseObject({
  appName: Name,
  instanceId: Name,
  bucket: z.looseObject({
    start: Time,
    stop: Time,
    toggles: z
      .record(
        Name,
        z.looseObject({
          yes: Count.default(0),
          no: Count.default(0),
          variants: z.record(Name, Count).optional(),
        }),
      )
      .refine((t) => Object.keys(t).length <= MAX_METRIC_TOGGLES, `at most ${MAX_METRIC_TOGGLES} flags per bucket`),
  }),
});
export type MetricsBody = z.output<typeof MetricsBody>;

/** The frontend API's context in a POST body. */
export const FrontendBody = z.looseObject({ context: z.record(z.string().max(255), z.unknown()).optional() });

/** The filters of GET /api/client/features that Unleash SDKs send (tags are accepted and not applied: flags have none). */
export const FeaturesQuery = z.looseObject({ namePrefix: z.string().max(255).optional(), project: z.string().max(255).optional() });
