/**
 * The `rollgate.yaml` schema: the one place user-written configuration is parsed.
 * Everything downstream receives these typed values. The JSON Schema published at
 * `schema/rollgate.schema.json` is generated from this file (see scripts/gen-schema).
 */
import { z } from 'zod';
import { DURATION_RE } from './duration.js';
import { WindowsSpec } from './windows-spec.js';
import type { IsolationRequirement } from './dataplane.js';

export const NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;
export const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

export const name = (what: string) =>
  z.string().regex(NAME_RE, { message: `${what} must be lower-case letters, digits and dashes, starting with a letter (at most 63)` });

export const Duration = z
  .string()
  .regex(DURATION_RE, { message: 'expected a duration such as 500ms, 30s, 5m or 1h' })
  .describe('A duration: a number and a unit (ms, s, m, h, d), e.g. 30s');

const Port = z.number().int().min(1).max(65535);
const Percent = z.union([z.number().int().min(0), z.string().regex(/^\d{1,3}%$/, { message: 'expected a count like 1 or a percentage like 25%' })]);
const EnvVars = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'environment variable names are letters, digits and _' }), z.union([z.string(), z.number(), z.boolean()]).transform(String));

export const HealthCheck = z
  .object({
    path: z.string().startsWith('/').default('/'),
    interval: Duration.default('1s'),
    timeout: Duration.default('2s'),
    healthyThreshold: z.number().int().min(1).max(10).default(1),
    unhealthyThreshold: z.number().int().min(1).max(10).default(3),
    startTimeout: Duration.default('30s'),
  })
  .strict();


/** Pass/fail condition on an external metric's value. */
export const MetricCondition = z
  .object({
    max: z.number().optional().describe('Fail when the value is above this'),
    min: z.number().optional().describe('Fail when the value is below this'),
    equals: z.union([z.string(), z.number(), z.boolean()]).optional().describe('Fail unless the value equals this'),
  })
  .strict();

const BuiltinMetric = z
  .object({
    metric: z
      .enum(['errorRate', 'latency', 'requestRate', 'memoryGrowth', 'cpuPerRequest'])
      .describe('errorRate, latency and requestRate are measured by the router on every request; memoryGrowth (resident memory growth per instance, bytes/s) and cpuPerRequest (CPU ms per request) from the agent sampling each instance'),
    quantile: z.union([z.literal(0.5), z.literal(0.95), z.literal(0.99)]).default(0.99).describe('For latency: which quantile'),
    max: z.number().min(0).optional().describe('Absolute limit for the new version: error rate as a fraction (0.05), latency in ms, memoryGrowth in bytes per second per instance, cpuPerRequest in CPU ms per request'),
    min: z.number().min(0).optional().describe('For requestRate: fewer requests per second than this is inconclusive'),
    compareToStable: z.boolean().default(true).describe('Judge the new version against the stable one with a sequential test'),
    tolerance: z.number().min(1).default(1.2).describe('For latency vs stable: how much slower (ratio) still passes'),
    factor: z.number().min(1).optional().describe('For memoryGrowth and cpuPerRequest: the canary fails above stable × factor (default 2)'),
    noiseFloor: z
      .number()
      .min(0)
      .optional()
      .describe('For memoryGrowth (bytes/s per instance, default 1048576) and cpuPerRequest (CPU ms per request, default 0.5): a canary no more than this above stable passes, whatever the factor'),
  })
  .strict();

/** Built-in metrics judged from the agent's per-instance CPU and memory samples (not the router's counters). */
export const RESOURCE_METRICS: ReadonlySet<string> = new Set(['memoryGrowth', 'cpuPerRequest']);

const PrometheusMetric = z
  .object({
    address: z.string().url().describe('Prometheus base URL, e.g. http://127.0.0.1:9090'),
    query: z.string().min(1).describe('PromQL; {{app}}, {{env}}, {{canary}}, {{stable}} and {{window}} are replaced'),
    timeout: Duration.default('5s'),
  })
  .strict();

const HttpMetric = z
  .object({
    url: z.string().url(),
    method: z.enum(['GET', 'POST', 'HEAD']).default('GET'),
    headers: z.record(z.string(), z.string()).default({}),
    expectStatus: z.number().int().min(100).max(599).optional().describe('Default: any 2xx'),
    jsonPath: z.string().regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/).optional().describe('Dotted path of a JSON field whose value is judged by condition'),
    timeout: Duration.default('5s'),
  })
  .strict();

const CommandMetric = z
  .object({
    run: z.string().min(1).describe('Shell command; exit 0 passes. With condition, its last line of output is the value'),
    timeout: Duration.default('30s'),
    env: EnvVars.default({}),
  })
  .strict();

export const AnalysisMetric = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { message: 'metric names are letters, digits, ".", "_" and "-"' }),
    interval: Duration.default('1s').describe('How often an external metric is measured (built-in metrics are judged continuously)'),
    failureLimit: z.number().int().min(0).default(0).describe('Failed measurements tolerated before the analysis fails'),
    inconclusiveLimit: z.number().int().min(0).default(0).describe('Inconclusive measurements tolerated before onInconclusive applies (0: no limit)'),
    onInconclusive: z.enum(['pause', 'fail']).default('pause'),
    consecutiveErrorLimit: z.number().int().min(0).default(4).describe('Measurements that error (query failed, timeout) in a row before the analysis fails'),
    builtin: BuiltinMetric.optional(),
    prometheus: PrometheusMetric.optional(),
    http: HttpMetric.optional(),
    command: CommandMetric.optional(),
    condition: MetricCondition.optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const sources = (['builtin', 'prometheus', 'http', 'command'] as const).filter((k) => m[k] !== undefined);
    if (sources.length !== 1) ctx.addIssue({ code: 'custom', message: `metric "${m.name}" needs exactly one source: builtin, prometheus, http or command (has ${sources.join(', ') || 'none'})` });
    if (m.builtin?.metric === 'errorRate' && m.builtin.max !== undefined && !(m.builtin.max > 0 && m.builtin.max < 1)) {
      ctx.addIssue({ code: 'custom', path: ['builtin', 'max'], message: 'an error-rate limit is a fraction between 0 and 1 (0.05 for 5%)' });
    }
    if (m.builtin && !RESOURCE_METRICS.has(m.builtin.metric)) {
      for (const k of ['factor', 'noiseFloor'] as const) {
        if (m.builtin[k] !== undefined) ctx.addIssue({ code: 'custom', path: ['builtin', k], message: `${k} applies to memoryGrowth and cpuPerRequest only, not to ${m.builtin.metric}` });
      }
    }
    if (m.builtin?.metric === 'latency' && m.builtin.max !== undefined && !(m.builtin.max > 0)) {
      ctx.addIssue({ code: 'custom', path: ['builtin', 'max'], message: 'a latency limit is a number of milliseconds above 0' });
    }
    if (m.condition?.min !== undefined && m.condition.max !== undefined && m.condition.min > m.condition.max) {
      ctx.addIssue({ code: 'custom', path: ['condition'], message: `condition min ${m.condition.min} is above max ${m.condition.max}` });
    }
    if (m.prometheus && !m.condition) ctx.addIssue({ code: 'custom', path: ['condition'], message: 'a prometheus metric needs a condition (max, min or equals)' });
    if (m.http?.jsonPath && !m.condition) ctx.addIssue({ code: 'custom', path: ['condition'], message: 'jsonPath needs a condition to judge the field by' });
  });
export type AnalysisMetric = z.infer<typeof AnalysisMetric>;

export const AnalysisSpec = z
  .object({
    metrics: z.array(AnalysisMetric).min(1).optional().describe('Default: error rate and p99 latency against stable, and a request-rate floor'),
    startDelay: Duration.default('0s').describe('Wait this long after the new version gets traffic before judging'),
    latencyWarmup: Duration.default('2s').describe('Fresh instances are slower on their first requests (JIT, caches): what each instance answers in its first latencyWarmup after it became ready (and its first 100 requests) is not judged on latency, whatever step sent it traffic'),
    alpha: z.number().gt(0).lt(0.5).default(0.002).describe('False-alarm probability per metric over the whole rollout'),
    noTrafficAfter: z
      .union([Duration, z.literal('never')])
      .optional()
      .describe(
        "An idle environment: when the new version has had too little traffic to judge (fewer than 50 requests) this long after the analysis began, the step proceeds, recorded as 'not judged: no traffic'. Default 2m outside production; in production the rollout holds (paused, saying why in `rollgate status`) unless this is set; `never` always holds",
      ),
  })
  .strict();
export type AnalysisSpec = z.infer<typeof AnalysisSpec>;
/** `analysis: false` turns automated analysis off. */
const AnalysisSetting = z.union([AnalysisSpec, z.literal(false)]);

const CanaryStep = z.union([
  z.object({ setWeight: z.number().int().min(0).max(100).describe('Percent of traffic for the new version') }).strict(),
  z
    .object({
      pause: z
        .object({ duration: Duration.optional().describe('Hold this long; without it, hold until `rollgate promote`') })
        .strict(),
    })
    .strict(),
  z
    .object({
      setHeaderRoute: z
        .object({ header: z.string().min(1).regex(/^[A-Za-z0-9-]+$/), value: z.string().min(1) })
        .strict()
        .describe('Requests carrying this header value go to the new version, with no weighted share yet'),
    })
    .strict(),
  z
    .object({
      analysis: z
        .object({ duration: Duration.describe('Judge the new version for this long; the step passes when the analysis passes'), metrics: z.array(AnalysisMetric).min(1).optional() })
        .strict(),
    })
    .strict(),
]);
export type CanaryStep = z.infer<typeof CanaryStep>;

export const RollingStrategy = z
  .object({
    maxSurge: Percent.default('25%'),
    maxUnavailable: Percent.default(0),
    analysis: AnalysisSetting.default(() => AnalysisSpec.parse({})).describe('Background analysis while instances are replaced'),
  })
  .strict();
export const BlueGreenStrategy = z
  .object({
    previewPort: Port.optional().describe('Listener that sends every request to the new version before promotion'),
    autoPromote: z.boolean().default(true).describe('Switch as soon as the new version is healthy (after autoPromotionDelay)'),
    autoPromotionDelay: Duration.default('0s'),
    scaleDownDelay: Duration.default('30s').describe('How long the old version stays warm after the switch, for instant rollback'),
    prePromotionAnalysis: AnalysisSetting.default(false).describe('Judge the new version (preview traffic, HTTP checks, commands) before the switch'),
    postPromotionAnalysis: AnalysisSetting.default(() => AnalysisSpec.parse({})).describe('Watch the new version after the switch; a failure switches back at once'),
    postPromotionWindow: Duration.default('10s').describe('How long the post-promotion watch lasts'),
  })
  .strict();
export const CanaryStrategy = z
  .object({
    steps: z.array(CanaryStep).default([{ setWeight: 20 }, { pause: { duration: '10s' } }, { setWeight: 50 }, { pause: { duration: '10s' } }]),
    scaleDownDelay: Duration.default('30s'),
    analysis: AnalysisSetting.default(() => AnalysisSpec.parse({})).describe('Background analysis for the whole rollout (false: off)'),
    abortScaleDownDelay: Duration.default('30s').describe('After a rollback, how long the failed version stays up (for debugging) with no traffic'),
  })
  .strict();

export const StrategySpec = z.union([
  z.object({ rolling: RollingStrategy }).strict(),
  z.object({ blueGreen: BlueGreenStrategy }).strict(),
  z.object({ canary: CanaryStrategy }).strict(),
  z.object({ recreate: z.object({}).strict() }).strict(),
]);
export type StrategySpec = z.infer<typeof StrategySpec>;
export type StrategyType = 'rolling' | 'blueGreen' | 'canary' | 'recreate';

export function strategyType(s: StrategySpec): StrategyType {
  if ('rolling' in s) return 'rolling';
  if ('blueGreen' in s) return 'blueGreen';
  if ('canary' in s) return 'canary';
  return 'recreate';
}

/** The defaults of a strategy type, when the user picks it by name only. */
export function defaultStrategy(type: StrategyType): StrategySpec {
  switch (type) {
    case 'rolling':
      return { rolling: RollingStrategy.parse({}) };
    case 'blueGreen':
      return { blueGreen: BlueGreenStrategy.parse({}) };
    case 'canary':
      return { canary: CanaryStrategy.parse({}) };
    case 'recreate':
      return { recreate: {} };
  }
}

/** Per-environment overrides of an app. */
const AppEnvOverride = z
  .object({
    replicas: z.number().int().min(1).max(100).optional(),
    strategy: StrategySpec.optional(),
    env: EnvVars.optional(),
  })
  .strict();

export const AppSpec = z
  .object({
    run: z.string().min(1).describe('Shell command that starts one instance, run in the release directory'),
    portEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('PORT').describe('Environment variable carrying the port an instance must listen on'),
    healthCheck: HealthCheck.default(HealthCheck.parse({})),
    replicas: z.number().int().min(1).max(100).default(2),
    drainTimeout: Duration.default('30s'),
    hosts: z.array(z.string().min(1)).default([]).describe('Host names this app answers to; empty means any host'),
    env: EnvVars.default({}),
    strategy: StrategySpec.optional(),
    environments: z.record(z.string(), AppEnvOverride).default({}),
  })
  .strict();
export type AppSpec = z.infer<typeof AppSpec>;

/** Data-plane implementations an environment may name (runtime/factory.ts, traffic/factory.ts build them). */
export const RUNTIME_KINDS = ['local'] as const;
export type RuntimeKind = (typeof RUNTIME_KINDS)[number];
export const TRAFFIC_KINDS = ['builtin'] as const;
export type TrafficKind = (typeof TRAFFIC_KINDS)[number];

/** An enum whose refusal names the field, the value given and every known value. */
function kindOf<K extends readonly [string, ...string[]]>(field: string, kinds: K) {
  return z.enum(kinds, { error: (iss) => `unknown ${field} ${JSON.stringify(iss.input)}: the known ${field} kinds are ${kinds.join(', ')}` });
}

export const EnvironmentSpec = z
  .object({
    listen: z
      .union([Port, z.string().regex(/^[0-9.]+:\d{1,5}$/, { message: 'expected a port (8080) or host:port (127.0.0.1:8080)' })])
      .describe('Where the environment listener accepts user traffic'),
    config: EnvVars.default({}).describe('Configuration values given to every instance as environment variables'),
    strategy: StrategySpec.optional(),
    progressDeadline: Duration.default('10m').describe('A rollout that makes no progress for this long is aborted'),
    analysis: AnalysisSetting.optional().describe('Automated analysis for every rollout in this environment, whatever the strategy (false: off)'),
    production: z.boolean().optional().describe('Counts as production (incidents, delivery metrics); default: true for an environment named "production"'),
    separationOfDuties: z
      .boolean()
      .optional()
      .describe('Whoever started a release may not approve the pipeline approval that guards a deploy here; default: on for production'),
    flagChangeRequests: z
      .boolean()
      .optional()
      .describe("Feature-flag changes here need a change request: one person proposes (`rollgate flags propose`), another holding 'approve' approves; only the kill switch (`rollgate flags disable --now`, permission flags.kill) acts at once. Default: on for production"),
    deployWindows: WindowsSpec.optional().describe('When pipeline deploys may reach this environment; outside them a run waits'),
    isolation: z
      .enum(['auto', 'none'])
      .default('auto')
      .describe('auto: instances run as their own OS user and/or in a sandbox that hides the platform\'s files, when the host allows (production refuses to run without); none: run as the platform\'s user'),
    runtime: kindOf('runtime', RUNTIME_KINDS)
      .default('local')
      .describe('What runs the instances: local (the rollgate agent on this host)'),
    traffic: kindOf('traffic', TRAFFIC_KINDS)
      .default('builtin')
      .describe("What routes requests between versions and counts them: builtin (the agent's own router)"),
  })
  .strict();
export type EnvironmentSpec = z.infer<typeof EnvironmentSpec>;

const EnvVarName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'an environment variable name, e.g. ROLLGATE_WEBHOOK_SECRET' });

/**
 * A notification channel. Secrets (a webhook's signing key, a Slack URL's token) are never
 * written here: name the server's environment variable that holds them.
 */
export const NotificationChannelSpec = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, { message: 'channel names are lower-case letters, digits, "-", "_" and "."' }),
    kind: z.enum(['webhook', 'slack', 'cdevents']),
    url: z.string().url().optional().describe('Where to deliver (use urlEnv when the URL carries a token, as Slack URLs do)'),
    urlEnv: EnvVarName.optional(),
    secretEnv: EnvVarName.optional().describe('Webhook channels: variable holding the Standard Webhooks secret (whsec_...)'),
    events: z.array(z.string().min(1)).min(1).describe('Event types, globs allowed: deployment.*, incident.opened, *'),
    apps: z.array(z.string().min(1)).optional(),
    envs: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.url === undefined) === (c.urlEnv === undefined)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'give exactly one of url or urlEnv' });
    if (c.kind === 'webhook' && !c.secretEnv) ctx.addIssue({ code: 'custom', path: ['secretEnv'], message: 'a webhook channel is signed: name the variable holding its secret in secretEnv' });
    if (c.kind !== 'webhook' && c.secretEnv) ctx.addIssue({ code: 'custom', path: ['secretEnv'], message: `a ${c.kind} channel takes no secret` });
  });
export type NotificationChannelSpec = z.infer<typeof NotificationChannelSpec>;

export function listenAddress(env: EnvironmentSpec): { host: string; port: number } {
  if (typeof env.listen === 'number') return { host: '127.0.0.1', port: env.listen };
  const i = env.listen.lastIndexOf(':');
  return { host: env.listen.slice(0, i), port: Number(env.listen.slice(i + 1)) };
}

/** The strategy for an app in an environment: app override, then environment, then app, then rolling. */
export function resolveStrategy(app: AppSpec, envName: string, env: EnvironmentSpec): StrategySpec {
  return withEnvironmentAnalysis(app.environments[envName]?.strategy ?? env.strategy ?? app.strategy ?? defaultStrategy('rolling'), env);
}

/** An environment's `analysis` setting, when given, applies to whatever strategy runs there. */
export function withEnvironmentAnalysis(s: StrategySpec, env: EnvironmentSpec): StrategySpec {
  const a = env.analysis;
  if (a === undefined) return s;
  if ('canary' in s) return { canary: { ...s.canary, analysis: a } };
  if ('rolling' in s) return { rolling: { ...s.rolling, analysis: a } };
  if ('blueGreen' in s) return { blueGreen: { ...s.blueGreen, postPromotionAnalysis: a, prePromotionAnalysis: a === false ? false : s.blueGreen.prePromotionAnalysis } };
  return s;
}

export function isProduction(envName: string, env: EnvironmentSpec): boolean {
  return env.production ?? envName === 'production';
}

/** What the agent must do about isolation: production never runs unisolated unless the spec says so. */
export function isolationRequirement(envName: string, env: EnvironmentSpec): IsolationRequirement {
  if (env.isolation === 'none') return 'none';
  return isProduction(envName, env) ? 'required' : 'preferred';
}

/** Whether a flag change in this environment must go through a change request (flags/change-requests.ts). */
export function requiresFlagChangeRequests(envName: string, env: EnvironmentSpec): boolean {
  return env.flagChangeRequests ?? isProduction(envName, env);
}

export function requiresSeparationOfDuties(envName: string, env: EnvironmentSpec): boolean {
  return env.separationOfDuties ?? isProduction(envName, env);
}
