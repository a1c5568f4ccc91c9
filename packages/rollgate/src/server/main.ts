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
import { ensureApiToken } from '../api/token.js';
import { RollgateError, errorMessage } from '../core/errors.js';
import { Deployments } from '../engine/deployments.js';
import { EventBus } from '../engine/events.js';
import { AnalysisRunner } from '../engine/analysis.js';
import { Chaos } from '../engine/chaos.js';
import { createMetricSources } from '../metrics/index.js';
import { Executor } from '../engine/executor.js';
import { Incidents } from '../engine/incidents.js';
import { Notifications } from '../engine/notifications.js';
import { jsonLogger, type Logger } from '../engine/logger.js';
import { Releases } from '../engine/releases.js';
import { Views } from '../engine/views.js';
import { createPipelineEngine } from '../engine/pipeline/index.js';
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
  token: string;
  stop(): Promise<void>;
}

export async function runServer(opts: ServerOptions): Promise<RunningServer> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const log = opts.log ?? jsonLogger('server');
  const store = await openStore({ url: opts.databaseUrl, dataDir });
  const { token, hash } = await ensureApiToken(store, dataDir, opts.token);

  const client = new AgentClient({ url: opts.agent.url, token: opts.agent.token });
  const runtime = new LocalAgentRuntime(client);
  const traffic = new BuiltinTraffic(client);
  const events = new EventBus(store);
  const incidents = new Incidents(store, events);
  const notifications = new Notifications(store, events, log);
  await notifications.load();
  const chaos = new Chaos({ store, events, agent: client, log });
  const analysis = new AnalysisRunner({ sources: createMetricSources({ traffic }), log });
  const executor = new Executor({ store, runtime, traffic, events, log, analysis, onEnded: (dep) => incidents.onDeploymentEnded(dep).then(() => undefined) });
  const deployments = new Deployments(store, executor, events);
  const views = new Views(store, runtime, executor);
  const releases = new Releases(store, join(dataDir, 'releases'));
  const pipelines = createPipelineEngine({ store, events, log, dataDir, releases, deployments, runtime, analysis, ...(opts.maxParallelCommands ? { maxParallelCommands: opts.maxParallelCommands } : {}) });
  const app = createApi({ store, deployments, releases, views, events, runtime, tokenHash: hash, log, version: ROLLGATE_VERSION, maxReleaseBytes: opts.maxReleaseBytes ?? 512 * 1024 * 1024, incidents, chaos, notifications, pipelines });

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
  log.info('server started', { url, dialect: store.dialect, agent: opts.agent.url });

  let stopped = false;
  return {
    url,
    token,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pipelines.stop();
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
