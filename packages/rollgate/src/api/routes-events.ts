/**
 * GET /v1/events: the platform event stream (Server-Sent Events). Resumes after `?after=` or
 * Last-Event-ID; the replay is bounded (api/event-replay.ts) and the streams capped and shared
 * (api/event-hub.ts).
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { parse, type ApiEnv } from './http.js';
import type { EventHub } from './event-hub.js';
import { eventStreamResponse } from './stream-response.js';

const EventId = z.string().regex(/^\d{1,15}$/, 'must be a non-negative whole event id (the id of the last event you saw, or 0 for the start)').transform(Number);

export function registerEventRoutes(app: Hono<ApiEnv>, d: { hub: EventHub }): void {
  app.get('/v1/events', (c) => {
    // `after=latest`: only what happens from now on (a CLI following one rollout needs no history).
    const latest = c.req.header('last-event-id') === undefined && c.req.query('after') === 'latest';
    const after = latest ? 'latest' : parse(EventId, c.req.header('last-event-id') ?? c.req.query('after') ?? '0', 'after / Last-Event-ID');
    return eventStreamResponse(c, d.hub.open(after, c.get('actor')));
  });
}
