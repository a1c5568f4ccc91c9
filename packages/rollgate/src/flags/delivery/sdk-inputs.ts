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

export const MAX_OUTCOME_PAIRS = 256;
const MAX_BOUNDS = 64;

/**
 * Request outcomes per flag variant from @rollgate/sdk's Node middleware (POST /api/client/outcomes):
 * increments since the SDK's last report, in the router's counter shape. Checked so that a
 * report can only add what it could have seen: counts whole and bounded, the histogram
 * cumulative over increasing bounds and ending at the request count.
 */
const Histogram = z
  .strictObject({
    boundsMs: z.array(z.number().finite().min(0).max(1e9)).max(MAX_BOUNDS),
    counts: z.array(Count).max(MAX_BOUNDS + 1),
    sumMs: z.number().finite().min(0).max(1e15),
    count: Count,
  })
  .superRefine((h, ctx) => {
    if (h.counts.length !== h.boundsMs.length + 1) ctx.addIssue({ code: 'custom', path: ['counts'], message: `expected ${h.boundsMs.length + 1} counts (one per bound and +Inf), got ${h.counts.length}` });
    for (let i = 1; i < h.boundsMs.length; i++) if (h.boundsMs[i]! <= h.boundsMs[i - 1]!) ctx.addIssue({ code: 'custom', path: ['boundsMs', i], message: 'bounds must increase' });
    for (let i = 1; i < h.counts.length; i++) if (h.counts[i]! < h.counts[i - 1]!) ctx.addIssue({ code: 'custom', path: ['counts', i], message: 'counts are cumulative: they never go down' });
    if (h.counts.length > 0 && h.counts.at(-1) !== h.count) ctx.addIssue({ code: 'custom', path: ['count'], message: 'count must equal the last (+Inf) count' });
  });

export const OutcomesBody = z.looseObject({
  appName: Name,
  instanceId: Name,
  droppedPairs: Count.optional(),
  pairs: z
    .array(
      z
        .strictObject({
          flag: Name,
          variant: Name,
          requests: Count,
          byClass: z.partialRecord(z.enum(['1xx', '2xx', '3xx', '4xx', '5xx', 'other']), Count),
          cutShort: Count,
          latency: Histogram,
        })
        .superRefine((p, ctx) => {
          const classes = Object.values(p.byClass).reduce((a, b) => a + b, 0);
          if (classes !== p.requests) ctx.addIssue({ code: 'custom', path: ['byClass'], message: `the classes add up to ${classes}, not to requests (${p.requests})` });
          if (p.latency.count !== p.requests) ctx.addIssue({ code: 'custom', path: ['latency', 'count'], message: 'latency.count must equal requests' });
          if (p.cutShort > p.requests) ctx.addIssue({ code: 'custom', path: ['cutShort'], message: 'cutShort cannot exceed requests' });
        }),
    )
    .max(MAX_OUTCOME_PAIRS, { error: `at most ${MAX_OUTCOME_PAIRS} flag variant pairs per report` }),
});
export type OutcomesBody = z.output<typeof OutcomesBody>;
