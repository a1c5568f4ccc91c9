/**
 * Chaos routes (behind the API's authorization middleware, like every /v1 route).
 *
 *   POST /v1/chaos/inject  { app, env, version, errorRate (0..1), latencyMs, durationMs } -> ChaosRecord (201)
 *   POST /v1/chaos/kill    { app, env, version }                                          -> ChaosRecord (201)
 *   POST /v1/chaos/stop    { app, env, version? }                                         -> { stopped: ChaosRecord[], cleared }
 *   GET  /v1/chaos?app=&env=&status=active|stopped|expired&limit=                         -> ChaosRecord[] (newest first)
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { Chaos } from '../engine/chaos.js';
import { AppName, EnvName, Version } from './contract.js';
import { jsonLimit, parse, readJson, type ApiEnv } from './http.js';

export interface ChaosRouteDeps {
  chaos: Chaos;
}

// Types are checked here; ranges by the engine, whose messages speak the CLI's units.
export const InjectFaultRequest = z
  .object({
    app: AppName,
    env: EnvName,
    version: Version,
    errorRate: z.number().default(0).describe('Share of requests failed with 503, 0..1'),
    latencyMs: z.number().int().default(0),
    durationMs: z.number().int(),
  })
  .strict();
export type InjectFaultRequest = z.input<typeof InjectFaultRequest>;

export const KillRequestBody = z.object({ app: AppName, env: EnvName, version: Version }).strict();
export type KillRequestBody = z.infer<typeof KillRequestBody>;

export const StopChaosRequest = z.object({ app: AppName, env: EnvName, version: Version.optional() }).strict();
export type StopChaosRequest = z.infer<typeof StopChaosRequest>;

export const ChaosQuery = z.object({
  app: AppName.optional(),
  env: EnvName.optional(),
  status: z.enum(['active', 'stopped', 'expired']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function registerChaosRoutes(app: Hono<ApiEnv>, d: ChaosRouteDeps): void {
  const small = jsonLimit(16 * 1024);

  app.post('/v1/chaos/inject', small, async (c) => {
    const body = parse(InjectFaultRequest, await readJson(c), 'body');
    return c.json(await d.chaos.inject(body, c.get('actor')), 201);
  });

  app.post('/v1/chaos/kill', small, async (c) => {
    const body = parse(KillRequestBody, await readJson(c), 'body');
    return c.json(await d.chaos.kill(body, c.get('actor')), 201);
  });

  app.post('/v1/chaos/stop', small, async (c) => {
    const body = parse(StopChaosRequest, await readJson(c), 'body');
    return c.json(await d.chaos.stop(body.app, body.env, body.version ?? null, c.get('actor')));
  });

  app.get('/v1/chaos', async (c) => {
    const q = parse(ChaosQuery, c.req.query(), 'query');
    return c.json(await d.chaos.list({ app: q.app, env: q.env, status: q.status, limit: q.limit }));
  });
}
