/**
 * `rollgate up`: a local agent (its own process, so traffic survives this one) plus the server
 * in this process; applies ./rollgate.yaml and prints where everything is.
 */
import { printInitialAdmin } from '../initial-admin.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { RollgateError, errorMessage } from '../../core/errors.js';
import { ApiClient } from '../client.js';
import { IntString, action } from '../command.js';
import { findLiveAgent, type LiveAgent } from '../agent-file.js';
import { listenerUrl, prepareDataDir, terminate, waitForSignal } from '../daemon.js';
import type { Output } from '../output.js';
import { BIN_PATH, loadRunServer } from '../runtime.js';
import { ReleaseFlags, releasePolicyOf } from '../release-flags.js';
import { loadSpecFile } from '../spec-file.js';
import { DEFAULT_SERVER_PORT } from './daemons.js';
import { EVENT_STREAM_HELP, EventStreamFlags, eventStreamConfig } from '../event-stream-flags.js';

const UpOpts = z.object({
  dataDir: z.string(),
  port: IntString(0, 65535).default(DEFAULT_SERVER_PORT),
  host: z.string().optional(),
  file: z.string(),
  keepAgent: z.boolean().optional(),
  json: z.boolean().optional(),
  ...EventStreamFlags,
}).extend(ReleaseFlags.shape);

const AGENT_START_TIMEOUT_MS = 20_000;
/** The agent drains its instances on SIGTERM; give it that long before SIGKILL. */
const AGENT_STOP_GRACE_MS = 60_000;

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run the platform on this machine: a local agent and the server (data in .rollgate/); applies ./rollgate.yaml')
    .option('-d, --data-dir <dir>', 'where the platform keeps its database, releases, logs and tokens', '.rollgate')
    .option('-p, --port <n>', 'API port (0 = any free port)', String(DEFAULT_SERVER_PORT))
    .option('--host <host>', 'API address to listen on (default: loopback)')
    .option('-f, --file <path>', 'spec to apply once running (skipped when absent)', 'rollgate.yaml')
    .option('--keep-agent', 'leave the agent (and so every instance and listener) running when this stops')
    .option('--json', 'print one JSON document on stdout once running')
    .option('--max-event-streams <n>', EVENT_STREAM_HELP.total)
    .option('--max-event-streams-per-principal <n>', EVENT_STREAM_HELP.perPrincipal)
    .action(
      action(UpOpts, async (opts, { out }) => {
        const dataDir = prepareDataDir(opts.dataDir);
        const agent = await ensureAgent(dataDir, out);
        let server;
        try {
          const runServer = await loadRunServer();
          server = await runServer({
            dataDir,
            port: opts.port,
            agent: { url: agent.url, token: agent.token },
            releases: releasePolicyOf(opts),
            ...(opts.host ? { host: opts.host } : {}),
            ...(process.env.ROLLGATE_DATABASE_URL ? { databaseUrl: process.env.ROLLGATE_DATABASE_URL } : {}),
            ...eventStreamConfig(opts),
          });
        } catch (e) {
          if (agent.child && !opts.keepAgent) await terminate(agent.pid, AGENT_STOP_GRACE_MS);
          throw e;
        }
        printInitialAdmin(server);
        const client = new ApiClient(server.url, server.token);
        const applied = await applyIfPresent(client, opts.file, out);
        const envs = await client.environments().catch(() => []);
        const tokenFile = join(dataDir, 'api.token');
        const shownToken = relative(process.cwd(), tokenFile) || tokenFile;
        out.result(
          {
            api: server.url,
            tokenFile,
            dataDir,
            agent: { url: agent.url, pid: agent.pid, adopted: agent.child === null },
            spec: applied,
            environments: envs.map((e) => ({ name: e.name, url: listenerUrl(e.listen) })),
          },
          () => {
            const width = Math.max(5, ...envs.map((e) => e.name.length)) + 1;
            const lines = [
              `rollgate is up`,
              `  ${'API:'.padEnd(width + 1)} ${server.url}   (token in ${shownToken})`,
              `  ${'agent:'.padEnd(width + 1)} ${agent.url}   (pid ${agent.pid}${agent.child ? '' : ', adopted'})`,
              ...envs.map((e) => `  ${(e.name + ':').padEnd(width + 1)} ${listenerUrl(e.listen)}`),
            ];
            if (envs.length === 0) lines.push('  no environments yet: write a rollgate.yaml and run `rollgate apply`');
            lines.push('Ctrl-C stops the server and the agent' + (opts.keepAgent ? ' (the agent is kept: --keep-agent)' : ''));
            return lines.join('\n');
          },
        );
        await waitForSignal();
        out.info('stopping the server…');
        try {
          await server.stop();
        } finally {
          if (!opts.keepAgent) {
            out.info(`stopping the agent (pid ${agent.pid}; instances drain first)…`);
            await terminate(agent.pid, AGENT_STOP_GRACE_MS);
          }
        }
        out.info('stopped');
      }),
    );
}

interface UpAgent extends LiveAgent {
  /** Set when this command started the agent; null when it adopted a running one. */
  child: ChildProcess | null;
}

async function ensureAgent(dataDir: string, out: Output): Promise<UpAgent> {
  const live = await findLiveAgent(dataDir);
  if (live) {
    out.info(`adopting the agent already running for ${dataDir} (pid ${live.pid})`);
    return { ...live, child: null };
  }
  const logFile = join(dataDir, 'agent.log');
  const fd = openSync(logFile, 'a', 0o600);
  // Its own process group: Ctrl-C here reaches only this process, which then stops the agent in order.
  const child = spawn(process.execPath, [BIN_PATH, 'agent', '--data-dir', dataDir, '--port', '0'], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited: string | null = null;
  child.once('exit', (code, sig) => (exited = sig ?? `exit code ${code}`));
  const deadline = Date.now() + AGENT_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== null) {
      throw new RollgateError('agent_unreachable', `the agent stopped while starting (${exited}); its log ${logFile} ends with:\n${tail(logFile, 15)}`);
    }
    if (child.pid !== undefined) {
      const found = await findLiveAgent(dataDir, { pid: child.pid });
      if (found) return { ...found, child };
    }
    await sleep(100);
  }
  if (child.pid !== undefined) await terminate(child.pid, 5000);
  throw new RollgateError('agent_unreachable', `the agent did not come up within ${AGENT_START_TIMEOUT_MS / 1000}s; see ${logFile}:\n${tail(logFile, 15)}`);
}

/** Applies the spec file when it exists; a bad spec is reported but the platform keeps running. */
async function applyIfPresent(client: ApiClient, file: string, out: Output): Promise<{ file: string; apps: string[]; environments: string[] } | { file: string; error: string } | null> {
  if (!existsSync(file)) return null;
  try {
    const loaded = await loadSpecFile(file);
    const res = await client.applySpec(loaded.spec);
    out.info(`applied ${file}: apps ${res.apps.join(', ') || '-'}; environments ${res.environments.join(', ') || '-'}`);
    return { file: loaded.file, ...res };
  } catch (e) {
    out.warn(`${file} was not applied: ${errorMessage(e)}\n  fix it and run \`rollgate apply\``);
    return { file, error: errorMessage(e) };
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

