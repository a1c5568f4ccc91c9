/**
 * The control plane's HTTP API (routes listed in contract.ts). Bodies and queries are parsed at
 * this edge with zod; handlers pass typed values to the engine. Every mutating route goes
 * through the one authorization check below.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { RollgateError, isRollgateError } from '../core/errors.js';
import type { ArchiveLimits } from '../core/release-limits.js';
import { EnvironmentSpec, listenAddress } from '../core/spec.js';
import { ProjectSpec } from '../core/project-spec.js';
import type { Deployments } from '../engine/deployments.js';
import type { EventBus } from '../engine/events.js';
import type { Logger } from '../engine/logger.js';
import type { Releases } from '../engine/releases.js';
import type { Views } from '../engine/views.js';
import type { Runtime } from '../runtime/types.js';
import type { Store } from '../store/types.js';
import type { LogLine } from './contract.js';
import { ApplySpecRequest, AppName, DeliveriesQuery, DeliveryId, DeployRequest, EnvName, FailRequest, LogsQuery, PromoteRequest, ReleaseQuery, RetryRequest, RollbackRequest } from './contract.js';
import { jsonLimit, parse, readJson, type ApiEnv } from './http.js';
import { registerChaosRoutes } from './routes-chaos.js';
import { registerDoraRoutes } from './routes-dora.js';
import { registerIncidentRoutes } from './routes-incidents.js';
import type { Chaos } from '../engine/chaos.js';
import type { Incidents } from '../engine/incidents.js';
import type { Notifications } from '../engine/notifications.js';
import type { PipelineEngine } from '../engine/pipeline/index.js';
import { registerGitHookRoutes, registerPipelineRoutes } from './routes-pipelines.js';
import { LoginAudit, type Accounts, type Auth } from '../engine/auth/index.js';
import type { AuditTrail } from '../engine/audit.js';
import { auditRequest } from '../engine/audit-hooks.js';
import type { Secrets } from '../engine/secrets/secrets.js';
import { actionOf, assertEveryMutationAuditable, auditMutations } from './audit-middleware.js';
import { assertEveryRouteHasPermission, authorize } from './authz.js';
import { ROUTE_PERMISSIONS } from './route-permissions.js';
import { registerAuditRoutes } from './routes-audit.js';
import { registerAuthRoutes, type AuthAuditEntry } from './routes-auth.js';
import { registerSecretRoutes } from './routes-secrets.js';
import { registerFlagRoutes } from './routes-flags.js';
import { registerDeliveryRoutes } from './routes-delivery.js';
import type { DeliveryHub } from '../flags/delivery/hub.js';
import { registerFlagRolloutRoutes } from './routes-flag-rollouts.js';
import type { FlagRollouts } from '../flags/rollouts.js';
import type { FlagSchedules } from '../flags/schedules.js';
import type { Flags } from '../flags/flags.js';
import { appliedSpecView } from './spec-view.js';
import { registerReleaseRoutes } from './routes-releases.js';
import type { ReleaseRetention } from '../engine/release-retention.js';
import { EventHub, type EventStreamConfig } from './event-hub.js';
import { registerEventRoutes } from './routes-events.js';

export interface ApiDeps {
  store: Store;
  deployments: Deployments;
  releases: Releases;
  retention: ReleaseRetention;
  views: Views;
  events: EventBus;
  runtime: Runtime;
  log: Logger;
  auth: Auth;
  accounts: Accounts;
  audit: AuditTrail;
  secrets: Secrets;
  /** Feature flags (src/flags/). */
  flags: Flags;
  /** Flag rollouts and scheduled changes (routes only when given). */
  flagRollouts?: { rollouts: FlagRollouts; schedules: FlagSchedules };
  /** Failed logins, aggregated on the trail (default: one over `audit` with the auth clock). */
  loginAudit?: LoginAudit;
  /** Behind a trusted reverse proxy: take the client address and scheme from X-Forwarded-*. */
  trustProxy?: boolean;
  version: string;
  /** Bounds on uploaded archives (releases and pipeline sources). */
  releaseLimits: ArchiveLimits;
  incidents: Incidents;
  chaos: Chaos;
  notifications: Notifications;
  pipelines: PipelineEngine;
  /** Where push webhooks find their secrets (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The flag delivery hub (flags/delivery/hub.ts) the SDK routes serve from; one is made when absent. */
  delivery?: DeliveryHub;
  /** Caps and bounds of GET /v1/events (api/event-hub.ts; defaults there). */
  eventStreams?: EventStreamConfig;
}

export function createApi(d: ApiDeps): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  app.onError((err, c) => {
    if (isRollgateError(err)) return c.json(err.toJSON(), err.status as 400);
    d.log.error('unhandled API error', { path: c.req.path, error: err.message });
    return c.json({ error: { code: 'internal', message: 'internal error; see the server log' } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}; see the API list in the docs` } }, 404));

  // THE one place a request is authenticated and authorized (api/authz.ts, route-permissions.ts).
  app.use(
    '*',
    authorize(ROUTE_PERMISSIONS, {
      auth: d.auth,
      store: d.store,
      log: d.log,
      trustProxy: d.trustProxy,
      onFailedBeforeHandler: async (c, route, error) => {
        await auditRequest(d.audit, c, { action: actionOf(c.req.method, route), target: c.req.path, outcome: 'failed', after: { status: error.status, error: { code: error.code } } }, { trustProxy: d.trustProxy });
      },
      onDenied: async (c, denied) => {
        // Anonymous probes of public-facing paths are not worth a write each; refused principals are.
        if (denied.status === 401 && !denied.actor) return;
        await auditRequest(d.audit, c, { actor: denied.actor ?? 'anonymous', action: 'auth.denied', target: `${denied.method} ${denied.path}`, outcome: 'denied', after: { status: denied.status, permission: denied.permission, resources: denied.resources } }, { trustProxy: d.trustProxy });
      },
    }),
  );
  app.use('*', auditMutations({ audit: d.audit, store: d.store, log: d.log, trustProxy: d.trustProxy }));

  app.get('/v1/health', (c) => c.json({ ok: true, version: d.version, dialect: d.store.dialect }));
  registerGitHookRoutes(app, { engine: d.pipelines, limits: d.releaseLimits, ...(d.env ? { env: d.env } : {}) });
  const authAudit = async (c: Context<ApiEnv>, e: AuthAuditEntry) => {
    await auditRequest(d.audit, c, e, { trustProxy: d.trustProxy });
  };
  const loginAudit = d.loginAudit ?? new LoginAudit(d.store, (e) => d.audit.record(e), { now: d.auth.now });
  registerAuthRoutes(app, { auth: d.auth, accounts: d.accounts, trustProxy: d.trustProxy, audit: authAudit, loginAudit });
  registerAuditRoutes(app, { audit: d.audit, loginAudit });
  registerSecretRoutes(app, { secrets: d.secrets, audit: d.audit, auditOptions: { trustProxy: d.trustProxy } });
  registerFlagRoutes(app, { flags: d.flags, auditOptions: { trustProxy: d.trustProxy } });
  registerDeliveryRoutes(app, { store: d.store, flags: d.flags, events: d.events, log: d.log, trustProxy: d.trustProxy, ...(d.delivery ? { hub: d.delivery } : {}) });
  if (d.flagRollouts) registerFlagRolloutRoutes(app, { ...d.flagRollouts, flags: d.flags, auditOptions: { trustProxy: d.trustProxy } });
  const small = jsonLimit(1024 * 1024);

  app.post('/v1/spec', small, async (c) => {
    const body = parse(ApplySpecRequest, await readJson(c), 'body');
    const spec = parse(ProjectSpec, body.spec, 'spec');
    // Channels resolve against the server's environment; a missing variable rejects the whole spec first.
    if (spec.notifications) d.notifications.check(spec.notifications.channels);
    for (const [name, env] of Object.entries(spec.environments)) await d.store.upsertEnvironment(name, env);
    for (const [name, a] of Object.entries(spec.apps)) await d.store.upsertApp(name, a);
    if (spec.notifications) await d.notifications.apply(spec.notifications.channels);
    await d.pipelines.catalog.apply(spec.pipelines);
    await d.events.emit({ type: 'spec.applied', data: { apps: Object.keys(spec.apps), environments: Object.keys(spec.environments), actor: c.get('actor') } });
    return c.json({ apps: Object.keys(spec.apps), environments: Object.keys(spec.environments), pipelines: Object.keys(spec.pipelines) });
  });

  app.get('/v1/spec', async (c) => c.json(await appliedSpecView({ store: d.store, catalog: d.pipelines.catalog, notifications: d.notifications })));
  app.get('/v1/apps', async (c) => c.json(await d.views.apps()));
  app.get('/v1/environments', async (c) => {
    const envs = await d.store.listEnvironments();
    return c.json(envs.map((e) => {
      const spec = EnvironmentSpec.parse(e.spec);
      const l = listenAddress(spec);
      return { name: e.name, listen: `http://${l.host}:${l.port}`, spec };
    }));
  });

  app.post('/v1/apps/:app/releases', async (c) => {
    const appName = parse(AppName, c.req.param('app'), 'app');
    const q = parse(ReleaseQuery, c.req.query(), 'query');
    const raw = c.req.raw.body;
    if (!raw) throw new RollgateError('invalid_input', 'release upload has no body; send the release directory as a tar.gz archive');
    const { release, created } = await d.releases.upload({
      app: appName,
      version: q.version,
      commitSha: q.commitSha,
      commitTime: q.commitTime,
      actor: c.get('actor'),
      body: Readable.fromWeb(raw as unknown as WebReadableStream<Uint8Array>),
      limits: d.releaseLimits,
    });
    if (created) await d.events.emit({ type: 'release.created', app: appName, data: { version: release.version, releaseId: release.id, actor: c.get('actor') } });
    return c.json(release, created ? 201 : 200);
  });
  registerReleaseRoutes(app, { retention: d.retention });

  app.post('/v1/deployments', small, async (c) => {
    const req = parse(DeployRequest, await readJson(c), 'body');
    const dep = await d.deployments.deploy(req, c.get('actor'));
    return c.json(await d.views.deployment(dep), 201);
  });
  app.get('/v1/deployments', async (c) => {
    const q = c.req.query();
    const limit = q.limit ? Number(q.limit) : 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RollgateError('invalid_input', 'limit must be a whole number from 1 to 1000');
    return c.json(await d.store.listDeployments({ app: q.app ? parse(AppName, q.app, 'app') : undefined, env: q.env ? parse(EnvName, q.env, 'env') : undefined, limit }));
  });
  app.get('/v1/deployments/:id', async (c) => c.json(await d.views.deployment(await mustDeployment(d.store, c.req.param('id')))));

  const action = (name: 'promote' | 'pause' | 'resume' | 'abort' | 'fail') =>
    app.post(`/v1/deployments/:id/${name}`, small, async (c) => {
      const id = c.req.param('id');
      await mustDeployment(d.store, id);
      const actor = c.get('actor');
      const body = await readJson(c);
      const dep =
        name === 'promote'
          ? await d.deployments.promote(id, parse(PromoteRequest, body, 'body'), actor)
          : name === 'fail'
            ? await d.deployments.fail(id, actor, parse(FailRequest, body, 'body').reason)
            : name === 'pause'
              ? await d.deployments.pause(id, actor)
              : name === 'resume'
                ? await d.deployments.resume(id, actor)
                : await d.deployments.abort(id, actor);
      return c.json(await d.views.deployment(dep));
    });
  action('promote');
  action('pause');
  action('resume');
  action('abort');
  action('fail');

  app.post('/v1/retry', small, async (c) => {
    const req = parse(RetryRequest, await readJson(c), 'body');
    return c.json(await d.views.deployment(await d.deployments.retry(req.app, req.env, c.get('actor'))), 201);
  });

  app.post('/v1/rollback', small, async (c) => {
    const req = parse(RollbackRequest, await readJson(c), 'body');
    const dep = await d.deployments.rollback(req, c.get('actor'));
    // During a rollout, rollback means aborting it: that deployment is answered, nothing new was created.
    return c.json(await d.views.deployment(dep), dep.kind === 'rollback' ? 201 : 200);
  });

  app.get('/v1/status', async (c) => {
    const q = c.req.query();
    return c.json(await d.views.status({ app: q.app ? parse(AppName, q.app, 'app') : undefined, env: q.env ? parse(EnvName, q.env, 'env') : undefined }));
  });

  app.get('/v1/logs', async (c) => {
    const q = parse(LogsQuery, c.req.query(), 'query');
    return c.json({ lines: await d.runtime.logs({ app: q.app, env: q.env }, { version: q.version, instance: q.instance, tail: q.tail }) });
  });

  registerEventRoutes(app, { hub: new EventHub(d.events, (after, limit) => d.store.listLatestEvents(after, limit), d.log, d.eventStreams) });

  // The tail, then every new line as the data plane writes it (`rollgate logs -f`), until the caller leaves.
  app.get('/v1/logs/stream', (c) => {
    const q = parse(LogsQuery, c.req.query(), 'query');
    const follow = d.runtime.followLogs?.bind(d.runtime);
    if (!follow) throw new RollgateError('invalid_input', `the ${d.runtime.name} runtime cannot stream logs; use GET /v1/logs`);
    const key = { app: q.app, env: q.env };
    const filter = { version: q.version, instance: q.instance };
    return streamSSE(c, async (stream) => {
      const ctl = new AbortController();
      stream.onAbort(() => ctl.abort());
      let chain: Promise<void> = Promise.resolve();
      const send = (l: LogLine) => {
        chain = chain.then(() => stream.writeSSE({ event: 'line', data: JSON.stringify(l) })).catch(() => ctl.abort());
      };
      // Follow first and hold new lines back until the tail is out, so none falls in between.
      let held: LogLine[] | null = [];
      let opened!: () => void;
      const open = new Promise<void>((r) => (opened = r));
      const following = follow(key, filter, (l) => (held ? held.push(l) : send(l)), { signal: ctl.signal, onOpen: () => opened() });
      const ended = following.then(() => 'ended' as const, () => 'ended' as const);
      if ((await Promise.race([open.then(() => 'open' as const), ended])) === 'open') {
        const tail = await d.runtime.logs(key, { ...filter, tail: q.tail });
        const seen = new Set(tail.map(logKey));
        for (const l of tail) send(l);
        for (const l of held) if (!seen.has(logKey(l))) send(l);
        held = null;
        // What follows is live: a client may trim the tail above (e.g. to its last matches).
        chain = chain.then(() => stream.writeSSE({ event: 'live', data: '{}' })).catch(() => ctl.abort());
        await ended;
      }
      ctl.abort();
      await chain;
      await stream.writeSSE({ event: 'end', data: '{}' }).catch(() => undefined);
    });
  });

  registerIncidentRoutes(app, { incidents: d.incidents });
  registerChaosRoutes(app, { chaos: d.chaos });
  registerDoraRoutes(app, { store: d.store });
  registerPipelineRoutes(app, { engine: d.pipelines, limits: d.releaseLimits, ...(d.env ? { env: d.env } : {}) });

  app.get('/v1/notifications/deliveries', async (c) => {
    const q = parse(DeliveriesQuery, c.req.query(), 'query');
    return c.json(await d.notifications.deliveries(q));
  });
  app.post('/v1/notifications/deliveries/:id/resend', async (c) => {
    const id = parse(DeliveryId, c.req.param('id'), 'delivery id');
    try {
      return c.json({ deliveryId: await d.notifications.resend(id) }, 202);
    } catch (e) {
      if (isRollgateError(e)) throw e;
      throw new RollgateError('not_found', `no delivery ${id}; list them with GET /v1/notifications/deliveries`);
    }
  });
  assertEveryRouteHasPermission(app, ROUTE_PERMISSIONS);
  assertEveryMutationAuditable(app.routes);
  return app;
}

function logKey(l: LogLine): string {
  return `${l.at}\u0000${l.instance}\u0000${l.stream}\u0000${l.text}`;
}

async function mustDeployment(store: Store, id: string) {
  if (!/^[0-9a-f-]{36}$/.test(id)) throw new RollgateError('invalid_input', `"${id.slice(0, 60)}" is not a deployment id`);
  const dep = await store.getDeployment(id);
  if (!dep) throw new RollgateError('not_found', `no deployment ${id}`);
  return dep;
}
