/**
 * The `rollgate.yaml` schema: the one place user-written configuration is parsed.
 * Everything downstream receives these typed values. The JSON Schema published at
 * `schema/rollgate.schema.json` is generated from this file (see scripts/gen-schema).
 */
import { z } from 'zod';
import { DURATION_RE } from './duration.js';

export const NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;
export const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

const name = (what: string) =>
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
]);
export type CanaryStep = z.infer<typeof CanaryStep>;

export const RollingStrategy = z
  .object({
    maxSurge: Percent.default('25%'),
    maxUnavailable: Percent.default(0),
  })
  .strict();
export const BlueGreenStrategy = z
  .object({
    previewPort: Port.optional().describe('Listener that sends every request to the new version before promotion'),
    autoPromote: z.boolean().default(true).describe('Switch as soon as the new version is healthy (after autoPromotionDelay)'),
    autoPromotionDelay: Duration.default('0s'),
    scaleDownDelay: Duration.default('30s').describe('How long the old version stays warm after the switch, for instant rollback'),
  })
  .strict();
export const CanaryStrategy = z
  .object({
    steps: z.array(CanaryStep).default([{ setWeight: 20 }, { pause: { duration: '10s' } }, { setWeight: 50 }, { pause: { duration: '10s' } }]),
    scaleDownDelay: Duration.default('30s'),
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

export const EnvironmentSpec = z
  .object({
    listen: z
      .union([Port, z.string().regex(/^[0-9.]+:\d{1,5}$/, { message: 'expected a port (8080) or host:port (127.0.0.1:8080)' })])
      .describe('Where the environment listener accepts user traffic'),
    config: EnvVars.default({}).describe('Configuration values given to every instance as environment variables'),
    strategy: StrategySpec.optional(),
    progressDeadline: Duration.default('10m').describe('A rollout that makes no progress for this long is aborted'),
  })
  .strict();
export type EnvironmentSpec = z.infer<typeof EnvironmentSpec>;

export const ProjectSpec = z
  .object({
    apps: z.record(name('app name'), AppSpec),
    environments: z.record(name('environment name'), EnvironmentSpec),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const envs = new Set(Object.keys(spec.environments));
    const ports = new Map<string, string>();
    for (const [envName, env] of Object.entries(spec.environments)) {
      const key = String(env.listen);
      const other = ports.get(key);
      if (other) ctx.addIssue({ code: 'custom', path: ['environments', envName, 'listen'], message: `listener ${key} is already used by environment "${other}"` });
      ports.set(key, envName);
    }
    for (const [appName, app] of Object.entries(spec.apps)) {
      for (const envName of Object.keys(app.environments)) {
        if (!envs.has(envName)) {
          ctx.addIssue({ code: 'custom', path: ['apps', appName, 'environments', envName], message: `unknown environment "${envName}"; declared: ${[...envs].join(', ') || 'none'}` });
        }
      }
    }
  });
export type ProjectSpec = z.infer<typeof ProjectSpec>;

export function listenAddress(env: EnvironmentSpec): { host: string; port: number } {
  if (typeof env.listen === 'number') return { host: '127.0.0.1', port: env.listen };
  const i = env.listen.lastIndexOf(':');
  return { host: env.listen.slice(0, i), port: Number(env.listen.slice(i + 1)) };
}

/** The strategy for an app in an environment: app override, then environment, then app, then rolling. */
export function resolveStrategy(app: AppSpec, envName: string, env: EnvironmentSpec): StrategySpec {
  return app.environments[envName]?.strategy ?? env.strategy ?? app.strategy ?? defaultStrategy('rolling');
}
