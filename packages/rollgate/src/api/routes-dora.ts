/**
 * Delivery metrics (DORA). Registered after the API's authorization middleware.
 *
 *   GET /v1/dora?app=&env=&since=90d   -> DoraResult (src/dora/load.ts)
 *
 * `since` is a look-back (36h, 90d, 12w) or an ISO date/time; the window ends now. Without
 * `env`, every environment that counts as production is measured.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { DEFAULT_SINCE, isSince, parseSince } from '../dora/window.js';
import { loadDora, type DoraLoadOptions } from '../dora/load.js';
import type { Store } from '../store/types.js';
import { AppName, EnvName } from './contract.js';
import { parse, type ApiEnv } from './http.js';

export interface DoraRouteDeps {
  store: Store;
  /** The local git repository of an app, when known: lead time then counts every commit of a release. */
  gitDir?: DoraLoadOptions['gitDir'];
  /** The clock (tests pin it). */
  now?: (() => Date) | undefined;
}

export const DoraQuery = z.object({
  app: AppName.optional(),
  env: EnvName.optional(),
  since: z
    .string()
    .trim()
    .default(DEFAULT_SINCE)
    .refine(isSince, { message: 'write a look-back such as 30d, 12w, 36h, or an ISO date such as 2024-01-31' }),
});

export function registerDoraRoutes(app: Hono<ApiEnv>, d: DoraRouteDeps): void {
  app.get('/v1/dora', async (c) => {
    const q = parse(DoraQuery, c.req.query(), 'query');
    const until = d.now?.() ?? new Date();
    const since = parseSince(q.since, until);
    return c.json(await loadDora(d.store, { app: q.app, env: q.env, since, until }, { gitDir: d.gitDir }));
  });
}
