/**
 * Incident routes and the Alertmanager webhook. Registered on the API app after its
 * authorization middleware, so every route needs the API bearer token (Alertmanager sends it
 * with `http_config: { authorization: { credentials: <token> } }`).
 *
 *   GET  /v1/incidents?app=&env=&status=open|resolved|all&source=&limit=  -> IncidentView[] (newest first)
 *   GET  /v1/incidents/:id                                             -> IncidentView
 *   POST /v1/incidents/:id/resolve   { resolution? }                   -> IncidentView; 409 when already resolved
 *   POST /v1/incidents               { app, env, title, severity? }    -> IncidentView (201)
 *   POST /v1/webhooks/alertmanager   Alertmanager webhook payload      -> { opened, resolved, unchanged }
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { RollgateError } from '../core/errors.js';
import { INCIDENT_SOURCES, incidentDurationMs, type IncidentRecord } from '../core/incidents.js';
import type { Incidents } from '../engine/incidents.js';
import { jsonLimit, parse, readJson, type ApiEnv } from './http.js';
import { AppName, EnvName } from './contract.js';

/** The API app's context: the auth middleware sets who is acting. */

export interface IncidentRouteDeps {
  incidents: Incidents;
}

export const IncidentsQuery = z.object({
  app: AppName.optional(),
  env: EnvName.optional(),
  status: z.enum(['open', 'resolved', 'all']).default('all'),
  source: z.enum(INCIDENT_SOURCES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const ResolveIncidentRequest = z.object({ resolution: z.string().trim().max(2000).optional() }).strict();

export const OpenIncidentRequest = z
  .object({
    app: AppName,
    env: EnvName,
    title: z.string().trim().min(1, { message: 'give a title saying what is wrong' }).max(300),
    severity: z.string().max(32).optional(),
  })
  .strict();
export type OpenIncidentRequest = z.infer<typeof OpenIncidentRequest>;

/** An incident with its duration so far (open) or in all (resolved). */
export interface IncidentView extends IncidentRecord {
  durationMs: number;
}

export interface AlertmanagerResponse {
  opened: string[];
  resolved: string[];
  unchanged: number;
}

export function incidentView(i: IncidentRecord, now = Date.now()): IncidentView {
  return { ...i, durationMs: incidentDurationMs(i, now) };
}

export function registerIncidentRoutes(app: Hono<ApiEnv>, d: IncidentRouteDeps): void {
  const small = jsonLimit(64 * 1024);

  app.get('/v1/incidents', async (c) => {
    const q = parse(IncidentsQuery, c.req.query(), 'query');
    const list = await d.incidents.list({ app: q.app, env: q.env, status: q.status === 'all' ? undefined : q.status, sources: q.source ? [q.source] : undefined, limit: q.limit });
    const now = Date.now();
    return c.json(list.map((i) => incidentView(i, now)));
  });

  app.get('/v1/incidents/:id', async (c) => c.json(incidentView(await d.incidents.get(c.req.param('id')))));

  app.post('/v1/incidents/:id/resolve', small, async (c) => {
    const body = parse(ResolveIncidentRequest, await readJson(c), 'body');
    return c.json(incidentView(await d.incidents.resolve(c.req.param('id'), c.get('actor'), body.resolution)));
  });

  app.post('/v1/incidents', small, async (c) => {
    const body = parse(OpenIncidentRequest, await readJson(c), 'body');
    return c.json(incidentView(await d.incidents.openManual(body, c.get('actor'))), 201);
  });

  // A notification carries a group of alerts; Alertmanager's max_alerts bounds it, 4 MiB is ample.
  app.post('/v1/webhooks/alertmanager', jsonLimit(4 * 1024 * 1024), async (c) => {
    const r = await d.incidents.handleAlertmanager(await readJson(c));
    const body: AlertmanagerResponse = { opened: r.opened.map((i) => i.id), resolved: r.resolved.map((i) => i.id), unchanged: r.unchanged };
    return c.json(body);
  });
}
