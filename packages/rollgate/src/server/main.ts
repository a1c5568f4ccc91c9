/**
 * `rollgate server`: the control plane. Wires the store, the data plane (Runtime +
 * TrafficProvider), the executor and the HTTP API, then resumes whatever was in progress.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { AgentClient } from '../agent/client.js';
import { createApi } from '../api/app.js';
import { RollgateError, errorMessage } from '../core/errors.js';
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
import { Views } from '../engine/views.js';
import { createPipelineEngine } from '../engine/pipeline/index.js';
import { rolesOfRequest } from '../api/authz.js';
import { Accounts, Auth, bootstrapAdmin } from '../engine/auth/index.js';
import { AuditTrail, deriveAuditKey } from '../engine/audit.js';
import { feedAuditFromEvents, SYSTEM_ACTOR } from '../engine/audit-hooks.js';
import { loadMasterKey } from '../engine/secrets/master-key.js';
import { Secrets } from '../engine/secrets/secrets.js';
import { SecretRollout } from '../engine/secret-rollout.js';
import { LocalAgentRuntime } from '../runtime/local-agent.js';
import { openStore } from '../store/index.js';
import { BuiltinTraffic } from '../traffic/builtin.js';

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
  maxReleaseBytes?: number;
  /** Pipeline commands running at once (default: CPUs, at least 2). */
  maxParallelCommands?: number;
}

export interface RunningServer {
  url: string;
  /** The admin token in <data-dir>/api.token, while it is valid (null once revoked). */
  token: string | null;
  /** Set on the very first start only: print these once, to the terminal, never to a log. */
  initialAdmin?: { user: string; password: string; token: string | null } | undefined;
  stop(): Promise<void>;
}

export async function runServer(opts: ServerOptions): Promise<RunningServer> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Known secret values are masked in the server's own log (bound once the secrets are loaded).
  let mask = (text: string) => text;
  const log = maskedLogger(opts.log ?? jsonLogger('server'), (text) => mask(text));
  // The master key first: without it the server must not start (secrets, the audit trail's key).
  const master = loadMasterKey({ dataDir });
  const store = await openStore({ url: opts.databaseUrl, dataDir });
  const boot = await bootstrapAdmin(store, dataDir, opts.token ? { token: opts.token } : {});
  const auth = new Auth(store);
  const accounts = new Accounts(store, auth);
  const audit = new AuditTrail(store, deriveAuditKey(master.key));

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
  const runtime = new LocalAgentRuntime(client, { secrets, log });
  const traffic = new BuiltinTraffic(client);
  const secretRollout = new SecretRollout({ events, store, runtime, log });
  const incidents = new Incidents(store, events);
  const notifications = new Notifications(store, events, log);
  await notifications.load();
  const chaos = new Chaos({ store, events, agent: client, log });
  const analysis = new AnalysisRunner({ sources: createMetricSources({ traffic, mask: (text) => secrets.mask(text) }), log });
  const executor = new Executor({ store, runtime, traffic, events, log, analysis, onEnded: (dep) => incidents.onDeploymentEnded(dep).then(() => undefined) });
  const deployments = new Deployments(store, executor, events);
  const views = new Views(store, runtime, executor);
  const releases = new Releases(store, join(dataDir, 'releases'));
  const pipelines = createPipelineEngine({ store, events, log, dataDir, releases, deployments, runtime, analysis, rolesOf: rolesOfRequest, mask: (text, o) => secrets.mask(text, o), ...(opts.maxParallelCommands ? { maxParallelCommands: opts.maxParallelCommands } : {}) });
  const app = createApi({ store, deployments, releases, views, events, runtime, log, version: ROLLGATE_VERSION, maxReleaseBytes: opts.maxReleaseBytes ?? 512 * 1024 * 1024, incidents, chaos, notifications, pipelines, auth, accounts, audit, secrets });

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
  log.info('server started', { url, dialect: store.dialect, agent: opts.agent.url, masterKey: master.source, secretsKeyId: secrets.keyId });

  let stopped = false;
  return {
    url,
    token: boot.token,
    initialAdmin: boot.created && boot.password ? { user: boot.user, password: boot.password, token: boot.token } : undefined,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pipelines.stop();
      await auditFeed.stop();
      await secretRollout.close();
      await executor.stop();
      analysis.close();
      chaos.close();
      await notifications.close();
      await runtime.close();
      await new Promise<void>((r) => {
        server.close(() => r());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await store.close();
      await rm(join(dataDir, 'server.json'), { force: true });
    },
  };
}
