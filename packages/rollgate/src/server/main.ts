/**
 * `rollgate server`: the control plane. Wires the store, the data plane (Runtime +
 * TrafficProvider), the executor and the HTTP API, then resumes whatever was in progress.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { AgentClient } from '../agent/client.js';
import { createApi } from '../api/app.js';
import { createDeliveryHub } from '../api/routes-delivery.js';
import type { DeliveryConfig } from '../flags/delivery/hub.js';
import type { EventStreamConfig } from '../api/event-hub.js';
import { RollgateError, errorMessage } from '../core/errors.js';
import { DEFAULT_RELEASE_POLICY, type ReleasePolicy } from '../core/release-limits.js';
import { Deployments } from '../engine/deployments.js';
import { EventBus } from '../engine/events.js';
import { AnalysisRunner } from '../engine/analysis.js';
import { Chaos } from '../engine/chaos.js';
import { createMetricSources } from '../metrics/index.js';
import { Executor } from '../engine/executor.js';
import { Incidents } from '../engine/incidents.js';
import { Notifications } from '../engine/notifications.js';
import { jsonLogger, maskedLogger, type Logger } from '../engine/logger.js';
import { Releases } from '../engine/releases.js';
import { detectIsolation, type IsolationChoice } from '../isolation/detect.js';
import { ReleaseRetention, autoPruneAfterDeploys } from '../engine/release-retention.js';
import { Views } from '../engine/views.js';
import { createPipelineEngine } from '../engine/pipeline/index.js';
import { rolesOfRequest } from '../api/authz.js';
import { Accounts, Auth, LoginAudit, bootstrapAdmin, type AuthOptions } from '../engine/auth/index.js';
import { AuditTrail, deriveAuditKey } from '../engine/audit.js';
import { removeInitialAdminFile } from '../engine/auth/initial-admin-file.js';
import { feedAuditFromEvents, SYSTEM_ACTOR } from '../engine/audit-hooks.js';
import { loadMasterKey } from '../engine/secrets/master-key.js';
import { Secrets } from '../engine/secrets/secrets.js';
import { Flags } from '../flags/flags.js';
import { FlagRollouts } from '../flags/rollouts.js';
import { FlagSchedules } from '../flags/schedules.js';
import { FlagScheduler } from '../flags/scheduler.js';
import { FlagGuards } from '../flags/guard.js';
import { RouterEvidence } from '../flags/evidence/router.js';
import { SdkEvidence } from '../flags/evidence/sdk.js';
import { SecretRollout } from '../engine/secret-rollout.js';
import { createRuntime } from '../runtime/factory.js';
import { openStore } from '../store/index.js';
import { secureDataDir } from '../security/data-dir.js';
import { createTraffic } from '../traffic/factory.js';

export const ROLLGATE_VERSION = '0.1.0';

export interface ServerOptions {
  dataDir: string;
  host?: string;
  port?: number;
  databaseUrl?: string | undefined;
  agent: { url: string; token: string };
  /** Use this API token instead of the generated one. */
  token?: string;
  log?: Logger;
  /** Bounds on uploads and how many releases per app are kept (defaults: DEFAULT_RELEASE_POLICY). */
  releases?: Partial<ReleasePolicy>;
  /** Pipeline commands running at once (default: CPUs, at least 2). */
  maxParallelCommands?: number;
  /** How stage commands are isolated (default auto: the strongest this host offers). */
  isolation?: IsolationChoice;
  /** Login clock, password cost and throttle policy (tests move the clock instead of waiting). */
  auth?: Pick<AuthOptions, 'now' | 'scrypt' | 'throttle'>;
  /** Caps and bounds of the event streams (GET /v1/events): per principal, in all, replay count and age. */
  eventStreams?: EventStreamConfig;
  /** Caps of the flag delivery streams (per SDK key, in all, buffered bytes, keep-alive). */
  deliveryStreams?: DeliveryConfig;
}

export interface RunningServer {
  url: string;
  /** The admin token in <data-dir>/api.token, while it is valid (null once revoked). */
  token: string | null;
  /** Set on the very first start only: print these once, to the terminal, never to a log. */
  initialAdmin?: { user: string; password: string; token: string | null } | undefined;
  /** `<dataDir>/initial-admin.txt` while the first admin has not logged in (it holds the password). */
  initialAdminFile: string | null;
  stop(): Promise<void>;
}

export async function runServer(opts: ServerOptions): Promise<RunningServer> {
  const releasePolicy: ReleasePolicy = { ...DEFAULT_RELEASE_POLICY, ...opts.releases };
  // Known secret values are masked in the server's own log (bound once the secrets are loaded).
  let mask = (text: string) => text;
  const log = maskedLogger(opts.log ?? jsonLogger('server'), (text) => mask(text));
  // Before anything is created in it: private umask, owner checked, older files made private.
  const dataDir = secureDataDir(opts.dataDir, { warn: (m) => log.warn(m) }).dir;
  // The master key first: without it the server must not start (secrets, the audit trail's key).
  const master = loadMasterKey({ dataDir });
  const store = await openStore({ url: opts.databaseUrl, dataDir });
  const boot = await bootstrapAdmin(store, dataDir, opts.token ? { token: opts.token } : {});
  const auth = new Auth(store, {
    ...opts.auth,
    onPasswordLogin: (u) => {
      try {
        if (removeInitialAdminFile(dataDir, u.name)) log.info('the first admin logged in: its one-time password file was deleted', { user: u.name });
      } catch (e) {
        log.warn('could not delete the first admin\'s password file', { error: errorMessage(e) });
      }
    },
  });
  const accounts = new Accounts(store, auth);
  const audit = new AuditTrail(store, deriveAuditKey(master.key));
  // Failed logins reach the trail aggregated; closed windows are summarised by the next failed
  // login, by this sweep, and at stop.
  const loginAudit = new LoginAudit(store, (e) => audit.record(e), { now: auth.now });
  const loginSweep = setInterval(() => {
    loginAudit.sweep().catch((e: unknown) => log.error('failed-login summary not recorded', { error: errorMessage(e) }));
  }, loginAudit.windowMs);
  loginSweep.unref();

  const events = new EventBus(store);
  const secrets = new Secrets({ store, masterKey: master.key, events });
  mask = (text) => secrets.mask(text);
  try {
    await secrets.learnAll();
  } catch (e) {
    // Masking falls back to the values this process handles from now on; say so, without a value.
    log.warn('could not read every secret at start; output is masked for the secrets used from now on', { error: errorMessage(e) });
  }
  // What the platform does by itself (reverts, automatic incidents, expiries) goes on the trail
  // from the event bus; what people ask for is recorded by the API, with their address.
  const auditFeed = feedAuditFromEvents(events, audit, { only: (e) => e.actor === SYSTEM_ACTOR || e.actor.startsWith('pipeline:'), onError: (e, ev) => log.error('audit entry not recorded', { event: ev.type, error: errorMessage(e) }) });
  const client = new AgentClient({ url: opts.agent.url, token: opts.agent.token });
  // One implementation of each kind an environment may name; today every environment names
  // local and builtin (core/spec.ts), so these serve them all.
  const runtime = createRuntime('local', { agent: client, secrets, log });
  const traffic = createTraffic('builtin', { agent: client });
  const secretRollout = new SecretRollout({ events, store, runtime, log });
  const incidents = new Incidents(store, events);
  const notifications = new Notifications(store, events, log);
  await notifications.load();
  const chaos = new Chaos({ store, events, agent: client, log });
  const analysis = new AnalysisRunner({ sources: createMetricSources({ traffic, mask: (text) => secrets.mask(text) }), log });
  const executor = new Executor({ store, runtime, traffic, events, log, analysis, onEnded: (dep) => incidents.onDeploymentEnded(dep).then(() => undefined) });
  const releases = new Releases(store, join(dataDir, 'releases'));
  const deployments = new Deployments(store, executor, events, releases);
  const views = new Views(store, runtime, traffic, executor);
  const isolation = detectIsolation({ hide: [dataDir], choice: opts.isolation ?? 'auto' });
  if (isolation.kind === 'none') {
    log.warn('PIPELINE STAGE COMMANDS ARE NOT ISOLATED: they run as the server\'s OS user and can read its data directory (master key, database, tokens); install bubblewrap (apt-get install bubblewrap) or run as root');
  } else {
    log.info('pipeline stage commands are isolated', { isolation: isolation.summary });
  }
  const retention = new ReleaseRetention({ store, runtime, events, log, releasesDir: join(dataDir, 'releases'), keep: releasePolicy.keep });
  const pipelines = createPipelineEngine({ store, events, log, dataDir, releases, deployments, runtime, analysis, rolesOf: rolesOfRequest, isolation, mask: (text, o) => secrets.mask(text, o), ...(opts.maxParallelCommands ? { maxParallelCommands: opts.maxParallelCommands } : {}) });
  // Feature flags; the delivery endpoints resolve SDK keys with flags.keys.resolve.
  const flags = new Flags({ store, audit, events, log });
  // Rollout steps and scheduled changes: one loop, woken by their commands, timed by the store.
  const flagScheduler = new FlagScheduler({ store, log });
  const flagRollouts = new FlagRollouts({ flags, store, audit, events, log, wake: flagScheduler.wake });
  const flagGuards = new FlagGuards({
    store,
    rollouts: flagRollouts,
    // The router's counts when the app is behind it; else what the app's SDK reports.
    evidence: [new RouterEvidence(runtime), new SdkEvidence(store.flagMetrics)],
    log,
    onKilled: async (r, look) => {
      await incidents.openForFlagGuard({ app: r.app, env: r.env, flag: r.flag, rollout: r.id, reason: look.reason });
    },
  });
  const flagSchedules = new FlagSchedules({ flags, store, audit, events, log, wake: flagScheduler.wake });
  flags.changeRequests.rollouts = flagRollouts;
  // One hub per server: the SDK routes serve from it, and whatever follows flag revisions in-process can too.
  const delivery = createDeliveryHub({ store, events, log, ...(opts.deliveryStreams ? { config: opts.deliveryStreams } : {}) });
  const app = createApi({ delivery, store, deployments, releases, retention, views, events, runtime, log, version: ROLLGATE_VERSION, releaseLimits: releasePolicy, incidents, chaos, notifications, pipelines, auth, accounts, audit, secrets, flags, flagRollouts: { rollouts: flagRollouts, schedules: flagSchedules }, loginAudit, ...(opts.eventStreams ? { eventStreams: opts.eventStreams } : {}) });

  const host = opts.host ?? '127.0.0.1';
  const server: ServerType = await new Promise((ok, fail) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: opts.port ?? 7070 }, () => ok(s));
    s.once('error', (e: NodeJS.ErrnoException) => {
      fail(e.code === 'EADDRINUSE' ? new RollgateError('port_in_use', `port ${opts.port} on ${host} is already in use; stop what runs there or pass --port`) : e);
    });
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  await writeFile(join(dataDir, 'server.json'), JSON.stringify({ url, pid: process.pid, startedAt: new Date().toISOString() }) + '\n', { mode: 0o600 });

  // Adopt what the data plane runs, then resume every deployment from the step it had reached.
  try {
    await executor.reconcileSettled();
  } catch (e) {
    log.warn('could not reconcile the data plane at start; deployments will retry', { error: errorMessage(e) });
  }
  await executor.start();
  await chaos.start();
  await pipelines.start();
  // Steps and scheduled changes that fell due while no server ran are applied now (said to be late).
  flagScheduler.start(flagRollouts, flagSchedules);
  flagGuards.start();
  // Retention: after each successful deployment, and once now for what accumulated while down.
  const autoPrune = autoPruneAfterDeploys(events, retention, store);
  void autoPrune.startup();
  log.info('server started', { url, dialect: store.dialect, agent: opts.agent.url, masterKey: master.source, secretsKeyId: secrets.keyId });

  let stopped = false;
  return {
    url,
    token: boot.token,
    initialAdmin: boot.created && boot.password ? { user: boot.user, password: boot.password, token: boot.token } : undefined,
    initialAdminFile: boot.passwordFile,
    async stop() {
      if (stopped) return;
      stopped = true;
      await autoPrune.stop();
      await pipelines.stop();
      clearInterval(loginSweep);
      await loginAudit.sweep({ all: true }).catch((e: unknown) => log.error('failed-login summary not recorded', { error: errorMessage(e) }));
      await auditFeed.stop();
      await secretRollout.close();
      await executor.stop();
      await flagScheduler.stop();
      await flagGuards.stop();
      analysis.close();
      chaos.close();
      await notifications.close();
      await runtime.close();
      delivery.close();
      await new Promise<void>((r) => {
        server.close(() => r());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await store.close();
      await rm(join(dataDir, 'server.json'), { force: true });
    },
  };
}
