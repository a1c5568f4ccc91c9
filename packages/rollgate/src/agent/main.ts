/**
 * Entry point of `rollgate agent`: data dir, token, the Agent, and its HTTP API on loopback.
 * Signal handling belongs to the CLI: call `stop()` on SIGTERM/SIGINT.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { RollgateError } from '../core/errors.js';
import { secureDataDir } from '../security/data-dir.js';
import { Agent, type AgentOptions } from './agent.js';
import { createAgentApi } from './api.js';
import { Router } from './router.js';
import type { DataRouter, RouterOptions } from './router-types.js';

export interface RunAgentOptions {
  dataDir: string;
  /** API host (default 127.0.0.1). */
  host?: string;
  /** API port (default 0: any free port; the URL is in the result and in <dataDir>/agent.json). */
  port?: number;
  /** API token; default: the one in <dataDir>/agent.token, else a new random one saved there. */
  token?: string;
  /** Tests and embedders may supply their own router; default: the built-in one. */
  createRouter?: (opts: RouterOptions) => DataRouter;
  routerOptions?: RouterOptions;
  supervisor?: AgentOptions['supervisor'];
  shutdownTimeoutMs?: number;
  log?: AgentOptions['log'];
  isolation?: AgentOptions['isolation'];
  hide?: string[];
}

export interface RunningAgent {
  url: string;
  token: string;
  agent: Agent;
  stop(): Promise<void>;
}

export function agentTokenPath(dataDir: string): string {
  return join(dataDir, 'agent.token');
}

export function agentInfoPath(dataDir: string): string {
  return join(dataDir, 'agent.json');
}

function loadOrCreateToken(dataDir: string, given?: string): string {
  const file = agentTokenPath(dataDir);
  let token = given;
  if (!token) {
    try {
      token = readFileSync(file, 'utf8').trim() || undefined;
    } catch {
      // no token yet
    }
  }
  token ??= randomBytes(32).toString('hex');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // writeFileSync keeps the mode of an existing file
  return token;
}

/** `<dataDir>/agent.json` names the running agent (written atomically: readers never see half a file). */
function writeAgentInfo(dataDir: string, info: { pid: number; url: string; startedAt: string }): void {
  const file = agentInfoPath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

/** Removes agent.json only if it still names this process (a newer agent may have replaced it). */
function removeAgentInfo(dataDir: string, pid: number): void {
  try {
    const info = JSON.parse(readFileSync(agentInfoPath(dataDir), 'utf8')) as { pid?: unknown };
    if (info.pid === pid) rmSync(agentInfoPath(dataDir), { force: true });
  } catch {
    // already gone or unreadable: leave it
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(
        e.code === 'EADDRINUSE'
          ? new RollgateError('port_in_use', `the agent API cannot listen on ${host}:${port}: the port is taken by another program; pick another with --port`)
          : e,
      );
    };
    const onListening = () => {
      server.off('error', onError);
      const addr = server.address();
      resolvePort(typeof addr === 'object' && addr ? addr.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

export async function runAgent(opts: RunAgentOptions): Promise<RunningAgent> {
  // Before anything is created in it: private umask, owner checked, older files made private.
  const dataDir = secureDataDir(opts.dataDir, { warn: (m) => (opts.log ? opts.log({ level: 'warn', msg: m }) : process.stderr.write(JSON.stringify({ at: new Date().toISOString(), component: 'agent', level: 'warn', msg: m }) + '\n')) }).dir;
  const token = loadOrCreateToken(dataDir, opts.token);
  const host = opts.host ?? '127.0.0.1';
  const createRouter = opts.createRouter ?? ((o: RouterOptions) => new Router(o));
  const agent = new Agent({
    dataDir,
    createRouter,
    ...(opts.routerOptions ? { routerOptions: opts.routerOptions } : {}),
    ...(opts.supervisor ? { supervisor: opts.supervisor } : {}),
    ...(opts.shutdownTimeoutMs !== undefined ? { shutdownTimeoutMs: opts.shutdownTimeoutMs } : {}),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.isolation ? { isolation: opts.isolation } : {}),
    ...(opts.hide ? { hide: opts.hide } : {}),
  });
  await agent.start();
  const api = createAgentApi(agent, { token });
  const server = createAdaptorServer({ fetch: api.app.fetch }) as Server;
  let port: number;
  try {
    port = await listen(server, host, opts.port ?? 0);
  } catch (e) {
    await agent.stop();
    throw e;
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const startedAt = new Date().toISOString();
  writeAgentInfo(dataDir, { pid: process.pid, url, startedAt });

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      api.closeStreams();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await agent.stop();
      server.closeAllConnections();
      await closed;
      removeAgentInfo(dataDir, process.pid);
    })());
  return { url, token, agent, stop };
}
