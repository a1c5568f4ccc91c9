/**
 * Release retention routes (the upload itself is in app.ts):
 *   GET  /v1/apps/:app/releases          -> ReleaseView[]: newest first, pruned ones too, each with
 *                                           what uses it (running, stable, rollback target, ...)
 *   POST /v1/apps/:app/releases/prune    { keep?, dryRun? } -> PruneResult
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { ReleaseRetention } from '../engine/release-retention.js';
import { AppName } from './contract.js';
import { jsonLimit, parse, readJson, type ApiEnv } from './http.js';

export const PruneRequest = z
  .object({
    /** Kept besides the protected ones (default: the server's automatic policy). */
    keep: z.number().int().min(0).max(100_000).optional(),
    dryRun: z.boolean().optional(),
  })
  .strict();
export type PruneRequest = z.infer<typeof PruneRequest>;

export function registerReleaseRoutes(app: Hono<ApiEnv>, d: { retention: ReleaseRetention }): void {
  app.get('/v1/apps/:app/releases', async (c) => c.json(await d.retention.list(parse(AppName, c.req.param('app'), 'app'))));
  app.post('/v1/apps/:app/releases/prune', jsonLimit(4096), async (c) => {
    const appName = parse(AppName, c.req.param('app'), 'app');
    const req = parse(PruneRequest, await readJson(c), 'body');
    return c.json(await d.retention.prune(appName, { keep: req.keep ?? d.retention.keep, actor: c.get('actor'), dryRun: req.dryRun ?? false }));
  });
}
