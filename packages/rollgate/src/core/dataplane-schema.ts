/**
 * Zod schemas of the agent API bodies, mirroring `core/dataplane.ts`. The agent parses every
 * request body with these; the `satisfies`-style checks below keep them in step with the types.
 */
import { z } from 'zod';
import type { FlagMetrics, HealthCheckSpec, InstanceObserved, RouteSpec, ServiceKey, ServiceObserved, VersionDesired, VersionMetrics, VersionObserved } from './dataplane.js';
import { NAME_RE, VERSION_RE } from './spec.js';

export const NameParam = z
  .string()
  .regex(NAME_RE, { message: 'must be lower-case letters, digits and dashes, starting with a letter (at most 63)' });
export const VersionName = z
  .string()
  .regex(VERSION_RE, { message: 'must be letters, digits and . _ + - (at most 64), starting with a letter or digit' });
/** Instance ids are built by the supervisor from env, app, version and a counter. */
export const InstanceId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$/, { message: 'is not an instance id' });

const Ms = z.number().int().min(0).max(86_400_000);
const Port = z.number().int().min(1).max(65535);
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'environment variable names are letters, digits and _' });
/** Secret values by variable name. Values are never echoed in a validation message (zod does not quote strings). */
export const SecretEnvSchema = z.record(EnvName, z.string().max(64 * 1024, { message: 'a secret value is at most 64 KiB' }));

export const ServiceKeySchema = z.object({ env: NameParam, app: NameParam });

export const HealthCheckSchema = z
  .object({
    path: z.string().startsWith('/', { message: 'must start with /' }),
    intervalMs: Ms.min(10),
    timeoutMs: Ms.min(10),
    healthyThreshold: z.number().int().min(1).max(100),
    unhealthyThreshold: z.number().int().min(1).max(100),
    startTimeoutMs: Ms.min(100),
  })
  .strict();

export const VersionDesiredSchema = z
  .object({
    version: VersionName,
    releaseId: z.string().min(1).max(200),
    dir: z.string().startsWith('/', { message: 'must be an absolute directory path' }),
    command: z.string().min(1),
    portEnv: EnvName,
    env: z.record(EnvName, z.string()),
    replicas: z.number().int().min(0).max(100),
    health: HealthCheckSchema,
    drainTimeoutMs: Ms,
    isolation: z.enum(['required', 'preferred', 'none']).optional(),
  })
  .strict();

export const HeaderRouteSchema = z
  .object({
    header: z.string().min(1).regex(/^[a-z0-9-]+$/, { message: 'header names are lower-case letters, digits and dashes' }),
    value: z.string().min(1),
    version: VersionName,
  })
  .strict();

export const RouteSpecSchema = z
  .object({
    balance: z.enum(['weights', 'instances']),
    weights: z.record(VersionName, z.number().int().min(0).max(100)),
    headerRoutes: z.array(HeaderRouteSchema).default([]),
    sticky: z.boolean().default(false),
    preview: z.object({ port: Port, version: VersionName }).strict().nullish().transform((v) => v ?? undefined),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.balance !== 'weights') return;
    const values = Object.values(r.weights);
    const sum = values.reduce((a, b) => a + b, 0);
    if (values.length > 0 && sum !== 100) {
      ctx.addIssue({ code: 'custom', path: ['weights'], message: `weights must sum to 100 (they sum to ${sum})` });
    }
  });

/** Body of `PUT /v1/services/:env/:app`. */
export const PutServiceBodySchema = z
  .object({
    listenHost: z.string().min(1).default('127.0.0.1'),
    listenPort: Port,
    hosts: z.array(z.string().min(1)).default([]),
    versions: z.array(VersionDesiredSchema),
    /** Optional: set routes in the same call (otherwise the last routes are kept). */
    routes: RouteSpecSchema.optional(),
    /** The service's secrets (all of them: names left out are gone). Absent: keep what the agent has. */
    secretEnv: SecretEnvSchema.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const seen = new Set<string>();
    b.versions.forEach((v, i) => {
      if (seen.has(v.version)) ctx.addIssue({ code: 'custom', path: ['versions', i, 'version'], message: `version "${v.version}" is listed twice` });
      seen.add(v.version);
    });
  });
export type PutServiceBody = z.infer<typeof PutServiceBodySchema>;

/** Body of `PUT /v1/services/:env/:app/secrets`: every secret of the service, again (e.g. after an agent restart). */
export const PutSecretsBodySchema = z.object({ secretEnv: SecretEnvSchema }).strict();
export type PutSecretsBody = z.infer<typeof PutSecretsBodySchema>;
/** What a caller may send: defaults (listenHost, hosts, headerRoutes, sticky) may be left out. */
export type PutServiceInput = z.input<typeof PutServiceBodySchema>;

export const LogsQuerySchema = z
  .object({
    version: VersionName.optional(),
    instance: InstanceId.optional(),
    tail: z.coerce.number().int().min(1).max(10_000).default(200),
  })
  .strict();
export type LogsQuery = z.infer<typeof LogsQuerySchema>;

/** One captured output line of an instance, as the agent API returns it. */
export interface LogLine {
  at: string;
  instance: string;
  version: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

// --- What the agent reports (parsed by its client: the control plane trusts nothing unparsed) ---

export const InstanceStateSchema = z.enum(['starting', 'ready', 'unhealthy', 'ejected', 'draining', 'stopped', 'crashed', 'failed']);

export const InstanceObservedSchema = z.object({
  id: z.string(),
  version: z.string(),
  port: z.number().int(),
  // Optional: agents older than endpoints do not send it.
  endpoint: z.string().regex(/^[^\s:]+:\d{1,5}$/).optional(),
  pid: z.number().int().nullable(),
  state: InstanceStateSchema,
  restarts: z.number().int(),
  startedAt: z.string(),
  readyAt: z.string().nullable(),
  lastError: z.string().nullable(),
  inFlight: z.number().int(),
  resources: z.object({ cpuSeconds: z.number().min(0), rssBytes: z.number().min(0), sampledAt: z.string(), processes: z.number().int().min(0).optional(), cpuPercent: z.number().min(0).nullable().optional() }).optional(),
});

export const VersionObservedSchema = z.object({
  version: z.string(),
  releaseId: z.string(),
  desiredReplicas: z.number().int(),
  ready: z.number().int(),
  instances: z.array(InstanceObservedSchema),
  failed: z.boolean(),
  failureReason: z.string().nullable(),
});

const LatencyHistogramSchema = z.object({ boundsMs: z.array(z.number()), counts: z.array(z.number()), sumMs: z.number(), count: z.number() });

export const VersionMetricsSchema = z.object({
  requests: z.number(),
  byClass: z.record(z.string(), z.number()),
  upstreamErrors: z.number(),
  cutShort: z.number().default(0),
  retries: z.number(),
  latency: LatencyHistogramSchema,
});

export const FlagMetricsSchema = z.object({
  pairs: z.array(z.object({ flag: z.string(), variant: z.string(), metrics: VersionMetricsSchema })),
  droppedPairs: z.number(),
  malformed: z.number(),
  appDropped: z.number(),
  maxPairs: z.number(),
});

/** Routes as reported back (already validated by the agent when set, so no sum check here). */
const RouteSpecObservedSchema = z.object({
  balance: z.enum(['weights', 'instances']),
  weights: z.record(z.string(), z.number()),
  headerRoutes: z.array(z.object({ header: z.string(), value: z.string(), version: z.string() })),
  sticky: z.boolean(),
  preview: z.object({ port: z.number().int(), version: z.string() }).nullish().transform((v) => v ?? undefined),
});

export const ServiceObservedSchema = z.object({
  env: z.string(),
  app: z.string(),
  listenPort: z.number().int(),
  versions: z.array(VersionObservedSchema),
  routes: RouteSpecObservedSchema.nullable(),
  metrics: z.record(z.string(), VersionMetricsSchema),
  instanceLatency: z.record(z.string(), LatencyHistogramSchema).optional(),
  flagMetrics: FlagMetricsSchema.optional(),
  observedAt: z.string(),
  awaitingSecrets: z.array(z.string()).optional(),
  isolation: z.string().optional(),
});

export const AgentHealthSchema = z.object({ ok: z.boolean(), pid: z.number().int(), startedAt: z.string(), services: z.number().int() });
export type AgentHealth = z.infer<typeof AgentHealthSchema>;

/** One Server-Sent Event of `GET /v1/events` (event name `instance`). */
export const AgentEventSchema = z.object({ env: z.string(), app: z.string(), instance: InstanceObservedSchema });
export type AgentEvent = z.infer<typeof AgentEventSchema>;

export const LogLineSchema = z.object({
  at: z.string(),
  instance: z.string(),
  version: z.string(),
  stream: z.enum(['stdout', 'stderr']),
  text: z.string(),
});

// --- Chaos: faults injected by the router, and instance kills ---

/** Bounds of an injected fault (the control plane checks them too, with friendlier units). */
export const FAULT_LIMITS = { maxLatencyMs: 60_000, maxDurationMs: 3_600_000 } as const;

/** Body of `PUT /v1/services/:env/:app/faults/:version`. */
export const PutFaultBodySchema = z
  .object({
    errorRate: z.number().min(0, { message: 'must be from 0 to 1' }).max(1, { message: 'must be from 0 to 1' }),
    latencyMs: z.number().int().min(0).max(FAULT_LIMITS.maxLatencyMs, { message: `must be at most ${FAULT_LIMITS.maxLatencyMs} (60s)` }),
    durationMs: z.number().int().min(1).max(FAULT_LIMITS.maxDurationMs, { message: `must be at most ${FAULT_LIMITS.maxDurationMs} (1h)` }),
  })
  .strict()
  .refine((b) => b.errorRate > 0 || b.latencyMs > 0, { message: 'a fault needs errorRate > 0 or latencyMs > 0' });
export type PutFaultBody = z.infer<typeof PutFaultBodySchema>;

/** A fault in force on the agent. */
export const FaultObservedSchema = z.object({
  env: z.string(),
  app: z.string(),
  version: z.string(),
  errorRate: z.number(),
  latencyMs: z.number(),
  /** When it lapses, ISO time of the agent's clock. */
  until: z.string(),
});
export type FaultObserved = z.infer<typeof FaultObservedSchema>;

export const FaultListSchema = z.object({ faults: z.array(FaultObservedSchema) });
export const FaultsClearedSchema = z.object({ cleared: z.number().int() });

/** Answer of `POST /v1/services/:env/:app/versions/:version/kill`: the instance as it was when killed. */
export const KillResultSchema = z.object({ killed: InstanceObservedSchema, signal: z.literal('SIGKILL') });
export type KillResult = z.infer<typeof KillResultSchema>;

/** Formats zod issues as one sentence a user can act on: `versions.0.replicas: expected …`. */
export function describeIssues(error: z.ZodError, where = 'body'): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`)
    .join('; ');
}

// Compile-time checks that the schemas produce the contract types.
type Assert<T extends true> = T;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export type _Checks = [
  Assert<Same<z.infer<typeof HealthCheckSchema>, HealthCheckSpec>>,
  Assert<Same<z.infer<typeof VersionDesiredSchema>, VersionDesired>>,
  Assert<z.infer<typeof RouteSpecSchema> extends RouteSpec ? true : false>,
  Assert<z.infer<typeof ServiceKeySchema> extends ServiceKey ? true : false>,
  Assert<Same<z.infer<typeof InstanceObservedSchema>, InstanceObserved>>,
  Assert<Same<z.infer<typeof VersionObservedSchema>, VersionObserved>>,
  Assert<Same<z.infer<typeof VersionMetricsSchema>, VersionMetrics>>,
  Assert<Same<z.infer<typeof FlagMetricsSchema>, FlagMetrics>>,
  Assert<z.infer<typeof ServiceObservedSchema> extends ServiceObserved ? true : false>,
  Assert<Same<z.infer<typeof LogLineSchema>, LogLine>>,
];
