/**
 * Unleash's client and frontend APIs, so that Unleash SDKs of any language read Rollgate's
 * flags unchanged. Authenticated by SDK key (flags/delivery/auth.ts), not by user tokens:
 * these routes are public in the permission table and check their key here.
 *
 *   GET  /api/client/features    server key, ?namePrefix=&project= -> ClientFeatures {version: 2, features, segments, query?} (ETag: the revision; If-None-Match -> 304)
 *   POST /api/client/register    server key, {appName, instanceId, sdkVersion, started, interval} -> 202
 *   POST /api/client/metrics     server key, {appName, instanceId, bucket: {start, stop, toggles}} -> 202 {recorded, unknown}
 *   GET  /api/client/streaming   server key -> SSE: unleash-connected (hydration), unleash-updated (delta events)
 *   POST /api/client/outcomes    server key, @rollgate/sdk's request outcomes per flag variant -> 202 {recorded} (guarded rollouts of apps not behind the router)
 *   GET  /api/frontend           client or server key, context in the query -> {toggles: [...]} (enabled flags only; ETag: revision + context, If-None-Match -> 304)
 *   POST /api/frontend           client or server key, {context} -> {toggles: [...]} (ETag as GET)
 *   POST /api/frontend/client/metrics, /api/frontend/client/register   what frontend SDKs report (client keys too)
 *
 * Reads by SDKs are not audited (they are the flags' normal use); refused keys are logged.
 */
import type { Context, Hono } from 'hono';
import type { Logger } from '../engine/logger.js';
import type { DeliveryAuth } from '../flags/delivery/auth.js';
import { contextEtag } from '../flags/delivery/frames.js';
import { frontendContext, frontendToggles } from '../flags/delivery/frontend.js';
import type { DeliveryHub, StreamFormat } from '../flags/delivery/hub.js';
import { FeaturesQuery, FrontendBody, MetricsBody, OutcomesBody, RegisterBody } from '../flags/delivery/sdk-inputs.js';
import { seenAt, usageOf, type SdkInstances } from '../flags/delivery/usage.js';
import type { ResolvedFlagKey } from '../flags/flag-keys.js';
import type { FlagKeyKind } from '../store/flags-types.js';
import type { Store } from '../store/types.js';
import { clientAddress } from './authz.js';
import { parse, readJson, type ApiEnv } from './http.js';
import { eventStreamResponse } from './stream-response.js';

export interface DeliveryRouteDeps {
  hub: DeliveryHub;
  auth: DeliveryAuth;
  store: Store;
  instances: SdkInstances;
  log: Logger;
  trustProxy?: boolean | undefined;
}

const SERVER: readonly FlagKeyKind[] = ['server'];
const ANY: readonly FlagKeyKind[] = ['server', 'client'];

/** Whether an If-None-Match header names this ETag (a list, or *). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '');
    return v === '*' || v === etag;
  });
}

/** An open delivery stream as the HTTP response (the socket is dropped when the hub cuts it off). */
export async function streamResponse(c: Context<ApiEnv>, hub: DeliveryHub, key: ResolvedFlagKey, format: StreamFormat, since?: number): Promise<Response> {
  return eventStreamResponse(c, await hub.open(key, format, since));
}

export function registerUnleashRoutes(app: Hono<ApiEnv>, d: DeliveryRouteDeps): void {
  const address = (c: Context<ApiEnv>) => clientAddress(c, d.trustProxy ?? false);

  app.get('/api/client/features', async (c) => {
    const key = await d.auth.require(c, SERVER);
    const q = parse(FeaturesQuery, c.req.query(), 'query');
    const s = await d.hub.snapshot(key.app, key.env);
    // Every Rollgate flag is in Unleash's project "default"; tags are not kept, so a tag filter filters nothing.
    const filtered = q.namePrefix !== undefined || q.project !== undefined;
    const etag = filtered ? `"${s.revision}-${encodeURIComponent(`${q.project ?? ''}:${q.namePrefix ?? ''}`).slice(0, 200)}"` : s.etag;
    if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304, { etag });
    const body = filtered
      ? { ...s.state, features: q.project !== undefined && q.project !== 'default' ? [] : s.state.features.filter((f) => f.name.startsWith(q.namePrefix ?? '')), query: { ...(q.namePrefix !== undefined ? { namePrefix: q.namePrefix } : {}), ...(q.project !== undefined ? { project: [q.project] } : {}) } }
      : s.state;
    return c.json(body, 200, { etag, 'cache-control': 'no-cache' });
  });

  app.get('/api/client/streaming', async (c) => streamResponse(c, d.hub, await d.auth.require(c, SERVER), 'unleash'));

  const register = (kinds: readonly FlagKeyKind[]) => async (c: Context<ApiEnv>) => {
    const key = await d.auth.require(c, kinds);
    const body = parse(RegisterBody, await readJson(c), 'registration');
    d.instances.register(key.app, key.env, body, address(c));
    return c.body(null, 202);
  };
  const metrics = (kinds: readonly FlagKeyKind[]) => async (c: Context<ApiEnv>) => {
    const key = await d.auth.require(c, kinds);
    const body = parse(MetricsBody, await readJson(c), 'metrics');
    const s = await d.hub.snapshot(key.app, key.env);
    const { usage, unknown } = usageOf(body.bucket, s.features);
    await d.store.flagMetrics.addUsage(key.app, key.env, seenAt(body.bucket.stop), usage);
    d.instances.seen(key.app, key.env, body.appName, body.instanceId, address(c));
    return c.json({ recorded: usage.length, unknown: unknown.slice(0, 20) }, 202);
  };
  app.post('/api/client/outcomes', async (c) => {
    const key = await d.auth.require(c, SERVER);
    const body = parse(OutcomesBody, await readJson(c), 'outcomes');
    const outcomes = body.pairs.map((p) => ({ flag: p.flag, variant: p.variant, metrics: { requests: p.requests, byClass: p.byClass, upstreamErrors: 0, cutShort: p.cutShort, retries: 0, latency: p.latency } }));
    await d.store.flagMetrics.addOutcomes(key.app, key.env, body.instanceId, new Date().toISOString(), outcomes);
    d.instances.seen(key.app, key.env, body.appName, body.instanceId, address(c));
    return c.json({ recorded: outcomes.length }, 202);
  });
  app.post('/api/client/register', register(SERVER));
  app.post('/api/client/metrics', metrics(SERVER));
  app.post('/api/frontend/client/register', register(ANY));
  app.post('/api/frontend/client/metrics', metrics(ANY));

  const frontend = async (c: Context<ApiEnv>, withBody: boolean) => {
    const key = await d.auth.require(c, ANY);
    const body = withBody ? (parse(FrontendBody, await readJson(c), 'body').context ?? {}) : undefined;
    const s = await d.hub.snapshot(key.app, key.env);
    const ctx = frontendContext(c.req.query(), body, address(c));
    // Browser SDKs poll with If-None-Match (unleash-proxy-client does): unchanged answers cost a 304.
    const etag = contextEtag(s.revision, ctx);
    if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304, { etag });
    return c.json({ toggles: frontendToggles(s, ctx) }, 200, { etag, 'cache-control': 'no-cache' });
  };
  app.get('/api/frontend', (c) => frontend(c, false));
  app.post('/api/frontend', (c) => frontend(c, true));
}
