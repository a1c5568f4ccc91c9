/**
 * GET /v1/events: the platform event stream (Server-Sent Events). Resumes after `?after=` or
 * Last-Event-ID; the replay is bounded (api/event-replay.ts) and the streams capped and shared
 * (api/event-hub.ts).
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import { parse, type ApiEnv } from './http.js';
import type { EventHub } from './event-hub.js';

const EventId = z.string().regex(/^\d{1,15}$/, 'must be a non-negative whole event id (the id of the last event you saw, or 0 for the start)').transform(Number);

export function registerEventRoutes(app: Hono<ApiEnv>, d: { hub: EventHub }): void {
  app.get('/v1/events', (c) => {
    // `after=latest`: only what happens from now on (a CLI following one rollout needs no history).
    const latest = c.req.header('last-event-id') === undefined && c.req.query('after') === 'latest';
    const after = latest ? 'latest' : parse(EventId, c.req.header('last-event-id') ?? c.req.query('after') ?? '0', 'after / Last-Event-ID');
    // Under @hono/node-server the Node response is in c.env: a stream cut off drops its socket.
    const outgoing = (c.env as { outgoing?: { destroy(): void } } | undefined)?.outgoing;
    const stream = d.hub.open(after, c.get('actor'), outgoing ? () => outgoing.destroy() : undefined);
    // A client gone before its stream was first read is only seen here.
    c.req.raw.signal.addEventListener('abort', () => stream.close('client'), { once: true });
    return c.body(stream.body, 200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Chunked: the server sends the headers at once instead of waiting for a first chunk.
      'transfer-encoding': 'chunked',
    });
  });
}
