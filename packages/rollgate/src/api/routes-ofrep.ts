/**
 * OFREP, the OpenFeature Remote Evaluation Protocol (flags/delivery/ofrep.ts for the mapping),
 * for OpenFeature providers in any language; server and client keys alike (both get evaluated
 * answers only).
 *
 *   POST /ofrep/v1/evaluate/flags/:key  {context} -> 200 evaluation | 400 {key, errorCode: INVALID_CONTEXT|TARGETING_KEY_MISSING|PARSE_ERROR} | 404 FLAG_NOT_FOUND
 *   POST /ofrep/v1/evaluate/flags       {context} -> 200 {flags, metadata, eventStreams} (ETag; If-None-Match -> 304) | 400 {errorCode}
 *   GET  /ofrep/v1/events?channel=…&since=REV   SSE: `message` events {type: refetchEvaluation, etag, lastModified} when the revision moves
 *                                       (at once when it moved past `since`, or past Last-Event-ID on a reconnect)
 *
 * The bulk ETag is the revision and the context together (one context's answers can be
 * cached, another's not mixed up with it). 401/403 answer Rollgate's error with errorDetails.
 */
import type { Context, Hono } from 'hono';
import { RollgateError, errorMessage, isRollgateError } from '../core/errors.js';
import type { DeliveryAuth } from '../flags/delivery/auth.js';
import { contextEtag } from '../flags/delivery/frames.js';
import type { DeliveryHub } from '../flags/delivery/hub.js';
import { OfrepRequestError, isFailure, notFound, ofrepContext, ofrepEvaluate, type OfrepContext, type OfrepResult } from '../flags/delivery/ofrep.js';
import type { StreamTokens } from '../flags/delivery/stream-tokens.js';
import type { ResolvedFlagKey } from '../flags/flag-keys.js';
import type { Logger } from '../engine/logger.js';
import type { Store } from '../store/types.js';
import type { FlagKeyKind } from '../store/flags-types.js';
import { readJson, type ApiEnv } from './http.js';
import { etagMatches, streamResponse } from './routes-unleash.js';

export interface OfrepRouteDeps {
  log: Logger;
  hub: DeliveryHub;
  auth: DeliveryAuth;
  store: Store;
  tokens: StreamTokens;
}

const ANY: readonly FlagKeyKind[] = ['server', 'client'];
/** Seconds of inactivity after which a provider closes its stream (ADR-0008's default). */
const INACTIVITY_DELAY_SEC = 120;

/** The request's context, or the OFREP failure answering it. */
async function contextOf(c: Context<ApiEnv>): Promise<OfrepContext> {
  let body: unknown;
  try {
    body = await readJson(c);
  } catch (e) {
    if (isRollgateError(e) && e.status < 500) throw new OfrepRequestError(400, 'PARSE_ERROR', e.message);
    throw e;
  }
  return ofrepContext(body);
}

/** Errors as OFREP has them: its errorCode and errorDetails; Rollgate's own code besides, for 401/403/429; GENERAL for the server's own failures. */
function answerError(c: Context<ApiEnv>, log: Logger, e: unknown, key?: string): Response {
  if (e instanceof OfrepRequestError) return c.json({ ...(key === undefined ? {} : { key }), errorCode: e.errorCode, errorDetails: e.message }, e.status);
  if (isRollgateError(e) && e.status < 500) {
    const headers: Record<string, string> = e.status === 429 ? { 'retry-after': '60' } : {};
    return c.json({ ...(key === undefined ? {} : { key }), errorCode: e.status === 400 ? 'INVALID_CONTEXT' : 'GENERAL', errorDetails: e.message, error: { code: e.code, message: e.message } }, e.status as 400, headers);
  }
  log.error('OFREP request failed', { path: c.req.path.slice(0, 200), error: errorMessage(e) });
  return c.json({ errorCode: 'GENERAL', errorDetails: 'internal error while evaluating; see the server log' }, 500);
}

const statusOf = (r: OfrepResult): 200 | 400 => (isFailure(r) ? 400 : 200);

export function registerOfrepRoutes(app: Hono<ApiEnv>, d: OfrepRouteDeps): void {
  app.post('/ofrep/v1/evaluate/flags/:key', async (c) => {
    const flag = c.req.param('key');
    try {
      const key = await d.auth.require(c, ANY);
      const ctx = await contextOf(c);
      const s = await d.hub.snapshot(key.app, key.env);
      const r = ofrepEvaluate(s, s.features, flag, ctx);
      if (!r) return c.json(notFound(flag), 404);
      return c.json(r, statusOf(r));
    } catch (e) {
      return answerError(c, d.log, e, flag);
    }
  });

  app.post('/ofrep/v1/evaluate/flags', async (c) => {
    try {
      const key = await d.auth.require(c, ANY);
      const ctx = await contextOf(c);
      const s = await d.hub.snapshot(key.app, key.env);
      const etag = contextEtag(s.revision, ctx.context);
      if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304, { etag });
      const flags = s.state.features.map((f) => ofrepEvaluate(s, s.features, f.name, ctx) ?? notFound(f.name));
      // `since`: a change between this answer and the stream's connect is sent as soon as it connects.
      const eventStreams = [{ type: 'sse', endpoint: { requestUri: `/ofrep/v1/events?channel=${encodeURIComponent(d.tokens.issue(key.id))}&since=${s.revision}` }, inactivityDelaySec: INACTIVITY_DELAY_SEC }];
      return c.json({ flags, metadata: { revision: s.revision }, eventStreams }, 200, { etag, 'cache-control': 'no-cache' });
    } catch (e) {
      return answerError(c, d.log, e);
    }
  });

  app.get('/ofrep/v1/events', async (c) => {
    try {
      const key = await streamKey(c, d);
      return await streamResponse(c, d.hub, key, 'ofrep', sinceOf(c));
    } catch (e) {
      return answerError(c, d.log, e);
    }
  });
}

/** The revision the client has seen: Last-Event-ID on a reconnect, else the URL's `since` (undefined: none). */
function sinceOf(c: Context<ApiEnv>): number | undefined {
  const seen = [c.req.header('last-event-id'), c.req.query('since')].filter((v): v is string => v !== undefined && /^\d{1,15}$/.test(v)).map(Number);
  return seen.length ? Math.max(...seen) : undefined;
}

/** The key of an event-stream request: its channel token (a browser sends no headers), else the request's own key. */
async function streamKey(c: Context<ApiEnv>, d: OfrepRouteDeps): Promise<ResolvedFlagKey> {
  const channel = c.req.query('channel');
  if (channel === undefined) return d.auth.require(c, ANY);
  const id = d.tokens.verify(channel);
  const k = id ? await d.store.flags.getKey(id) : null;
  if (!k) return d.auth.refuse(c, new RollgateError('unauthorized', 'this event-stream channel is not (or no longer) valid: fetch POST /ofrep/v1/evaluate/flags again for a new one'));
  if (k.revokedAt) return d.auth.refuse(c, new RollgateError('unauthorized', `SDK key ${k.id} (${k.prefix}…) was revoked at ${k.revokedAt}; create a new one with \`rollgate flags key create\``), k.id);
  return { id: k.id, app: k.app, env: k.env, kind: k.kind };
}
