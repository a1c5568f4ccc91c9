/** The event-stream caps of `rollgate server` and `rollgate up` (defaults in api/event-hub.ts). */
import type { EventStreamConfig } from '../api/event-hub.js';
import { IntString } from './command.js';

export const EventStreamFlags = {
  maxEventStreams: IntString(1, 1_000_000).optional(),
  maxEventStreamsPerPrincipal: IntString(1, 100_000).optional(),
};

export const EVENT_STREAM_HELP = {
  total: 'event streams (GET /v1/events) open at once on this server (default 1000)',
  perPrincipal: 'event streams open at once per user (default 20)',
};

export function eventStreamConfig(opts: { maxEventStreams?: number | undefined; maxEventStreamsPerPrincipal?: number | undefined }): { eventStreams?: EventStreamConfig } {
  const c: EventStreamConfig = {};
  if (opts.maxEventStreams !== undefined) c.total = opts.maxEventStreams;
  if (opts.maxEventStreamsPerPrincipal !== undefined) c.perPrincipal = opts.maxEventStreamsPerPrincipal;
  return Object.keys(c).length ? { eventStreams: c } : {};
}
