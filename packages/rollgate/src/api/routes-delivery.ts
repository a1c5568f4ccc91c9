/**
 * The flag delivery endpoints in one place: Unleash's client and frontend APIs
 * (routes-unleash.ts) and OFREP (routes-ofrep.ts) over one hub (flags/delivery/hub.ts).
 * Their entries in the permission table are DELIVERY_ROUTE_PERMISSIONS: public to the user
 * authorization, because each route authenticates the SDK key itself. One user route besides:
 *   GET /v1/apps/:app/envs/:env/flag-sdks  (read) -> {streams: {unleash, ofrep}, waiting: {bytes, slowest}, instances: SdkInstance[] (newest first)}
 *     waiting: bytes the server holds for those streams' clients (in all, the most for one); a slow reader shows here
 */
import type { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { EventBus } from '../engine/events.js';
import type { Logger } from '../engine/logger.js';
import { CachedKeys, DeliveryAuth } from '../flags/delivery/auth.js';
import { FLAG_KEY_REVOKED } from '../flags/flag-keys.js';
import { DeliveryHub, type DeliveryConfig } from '../flags/delivery/hub.js';
import { StreamTokens } from '../flags/delivery/stream-tokens.js';
import { SdkInstances } from '../flags/delivery/usage.js';
import type { Flags } from '../flags/flags.js';
import type { Store } from '../store/types.js';
import type { RouteMethod, RoutePermission } from './authz.js';
import { AppName, EnvName } from './contract.js';
import { parse, type ApiEnv } from './http.js';
import { registerOfrepRoutes } from './routes-ofrep.js';
import { registerUnleashRoutes } from './routes-unleash.js';

export interface DeliveryDeps {
  store: Store;
  flags: Flags;
  events: EventBus;
  log: Logger;
  trustProxy?: boolean | undefined;
  /** The hub to serve from (the server's, shared with whatever else follows flag revisions); one is made when absent. */
  hub?: DeliveryHub;
  /** Caps of the hub made here. */
  config?: DeliveryConfig;
}

/** A hub over the store and the bus (the server makes one and shares it). */
export function createDeliveryHub(d: Pick<DeliveryDeps, 'store' | 'events' | 'log' | 'config'>): DeliveryHub {
  return new DeliveryHub({ bus: d.events, readState: (app, env) => d.store.flags.readState(app, env), revision: (app, env) => d.store.flags.revision(app, env), log: d.log, ...(d.config ? { config: d.config } : {}) });
}

export interface DeliveryRoutes {
  hub: DeliveryHub;
  instances: SdkInstances;
}

export function registerDeliveryRoutes(app: Hono<ApiEnv>, d: DeliveryDeps): DeliveryRoutes {
  const hub = d.hub ?? createDeliveryHub(d);
  // Resolved per request: building the routes touches no service.
  const keys = new CachedKeys({ resolve: (presented) => d.flags.keys.resolve(presented) });
  d.events.subscribe((e) => {
    const id = (e.data as { id?: unknown } | null)?.id;
    if (e.type === FLAG_KEY_REVOKED && typeof id === 'string') keys.forget(id);
  });
  const auth = new DeliveryAuth(keys, d.log, d.trustProxy ?? false);
  const instances = new SdkInstances();
  // Browser SDKs call the frontend API and OFREP from other origins. They send the key in a
  // header, never a cookie, so any origin may: a page without the key gets nothing.
  const browsers = cors({ origin: '*', allowMethods: ['GET', 'POST'], exposeHeaders: ['ETag'], maxAge: 600 });
  app.use('/api/frontend*', browsers);
  app.use('/ofrep/*', browsers);
  registerUnleashRoutes(app, { hub, auth, store: d.store, instances, log: d.log, trustProxy: d.trustProxy });
  registerOfrepRoutes(app, { log: d.log, hub, auth, store: d.store, tokens: new StreamTokens() });
  // For people (user permission "read"): which SDK instances said they run, and the open streams.
  app.get('/v1/apps/:app/envs/:env/flag-sdks', (c) => {
    const a = parse(AppName, c.req.param('app'), 'app');
    const e = parse(EnvName, c.req.param('env'), 'env');
    return c.json({ app: a, env: e, streams: hub.connected(a, e), waiting: hub.waiting(a, e), instances: instances.list(a, e) });
  });
  return { hub, instances };
}

const SDK = (method: RouteMethod, path: string, note: string): RoutePermission => ({ method, path, permission: 'public', note: `SDK route: ${note}; the route authenticates the SDK key itself (not a user token), refusals logged` });

/** The delivery routes' table entries (public to user authorization: the key is checked by the route). */
export const DELIVERY_ROUTE_PERMISSIONS: readonly RoutePermission[] = [
  SDK('GET', '/api/client/features', "server key: every rule of the key's environment"),
  SDK('GET', '/api/client/streaming', 'server key: the rules, then their changes'),
  SDK('POST', '/api/client/register', 'server key: an SDK instance says it runs (kept in memory, bounded)'),
  SDK('POST', '/api/client/metrics', 'server key: evaluation counts of known flags'),
  SDK('POST', '/api/client/outcomes', 'server key: request outcomes per flag variant, for guarded rollouts of apps not behind the router (appended, pruned after an hour)'),
  SDK('GET', '/api/frontend', 'client or server key: evaluated answers only'),
  SDK('POST', '/api/frontend', 'client or server key: evaluated answers only'),
  SDK('POST', '/api/frontend/client/register', 'client or server key: a frontend SDK says it runs'),
  SDK('POST', '/api/frontend/client/metrics', 'client or server key: evaluation counts of known flags'),
  SDK('POST', '/ofrep/v1/evaluate/flags/:key', 'client or server key: one evaluated flag'),
  SDK('POST', '/ofrep/v1/evaluate/flags', 'client or server key: every flag evaluated'),
  SDK('GET', '/ofrep/v1/events', 'a channel token issued with a bulk evaluation (or a key): change notices only'),
];

/** Paths of the delivery routes: SDK traffic, not audited as user changes are. */
export const isDeliveryPath = (path: string): boolean => /^\/api\/(client|frontend)(\/|$)/.test(path) || /^\/ofrep\//.test(path);
