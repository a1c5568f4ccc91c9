/**
 * `rollgate up`: a local agent (its own process, so traffic survives this one) plus the server
 * in this process; applies ./rollgate.yaml and prints where everything is.
 *
 * What it started it stops: on SIGINT, SIGTERM, SIGHUP, and when its output is gone (a closed
 * terminal, `| tee log` whose tee left), it stops the server, then the agent, which drains and
 * stops every instance. An agent it found already running for the data directory (left by
 * `--keep-agent`, or by an `up` that was killed) was not started by it: it is left running, and
 * `rollgate down` stops it. `--detach` runs the same in the background (commands/up-detach.ts).
 * An agent (its own or adopted) that dies while `up` runs is reported and restarted by
 * agent-keeper.ts; the restarted one is this `up`'s own and stops with it.
 */
import { printInitialAdmin } from '../initial-admin.js';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { RollgateError, errorMessage } from '../../core/errors.js';
import { listenAddress } from '../../core/spec.js';
import { desiredStatePath, readDesiredState } from '../../agent/state-file.js';
import { ApiClient } from '../client.js';
import { IntString, action } from '../command.js';
import { findLiveAgent, type LiveAgent } from '../agent-file.js';
import { guardStdio, listenerUrl, prepareDataDir, terminate, waitForSignal, type StopReason } from '../daemon.js';
import type { Output } from '../output.js';
import { checkListeners, type NeededListener } from '../port-check.js';
import { dataDirFlag, liveServer, liveUp, removeUpFile, upLogPath, writeUpFile } from '../platform-file.js';
import { loadRunServer } from '../runtime.js';
import { platformHealth } from '../platform-health.js';
import { AgentKeeper, spawnAgent, type UpAgent } from '../agent-keeper.js';
import { ReleaseFlags, releasePolicyOf } from '../release-flags.js';
import { loadSpecFile } from '../spec-file.js';
import { DEFAULT_SERVER_PORT } from './daemons.js';
import { EVENT_STREAM_HELP, EventStreamFlags, eventStreamConfig } from '../event-stream-flags.js';
import { runDetached } from './up-detach.js';

const UpOpts = z.object({
  dataDir: z.string(),
  port: IntString(0, 65535).default(DEFAULT_SERVER_PORT),
  host: z.string().optional(),
  file: z.string(),
  keepAgent: z.boolean().optional(),
  detach: z.boolean().optional(),
  background: z.boolean().optional(),
  json: z.boolean().optional(),
  ...EventStreamFlags,
}).extend(ReleaseFlags.shape);

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
    .option('--detach', 'run in the background: print where its log is and return; `rollgate down` stops it')
    .addOption(new Option('--background', 'set by --detach on the process it starts').hideHelp())
    .option('--json', 'print one JSON document on stdout once running')
    .option('--max-event-streams <n>', EVENT_STREAM_HELP.total)
    .option('--max-event-streams-per-principal <n>', EVENT_STREAM_HELP.perPrincipal)
    .addHelpText('after', '\nStops what it started (server, agent, instances) on Ctrl-C, SIGTERM, SIGHUP, or when its output pipe closes.\nAn agent that was already running for the data directory is adopted and left running; `rollgate down` stops it.\nA dead agent is reported on stderr and restarted (at most 5 times a minute); the server runs in this process.')
    .action(
      action(UpOpts, async (opts, { out }) => {
        guardStdio();
        const dataDir = prepareDataDir(opts.dataDir);
        refuseIfRunning(dataDir, opts.dataDir);
        // Before a detached start too, so a taken port is this command's own error.
        const existing = await findLiveAgent(dataDir);
        await checkListeners(await neededListeners(dataDir, opts), existing ? [existing.pid] : []);
        if (opts.detach) return runDetached(dataDir, opts.dataDir, out);
        // Listen for a stop from now on: one that comes while starting stops right after the start.
        let agent: UpAgent | null = null;
        let keeper: AgentKeeper | null = null;
        let agentSignalled = false;
        const stopAgentNow = () => {
          keeper?.stop();
          agent = keeper?.current ?? agent;
          if (agent?.child && !opts.keepAgent && !agentSignalled) {
            agentSignalled = true;
            try {
              process.kill(agent.pid, 'SIGTERM'); // it drains and stops its instances on its own
            } catch {
              // already gone
            }
          }
          removeUpFile(dataDir, process.pid);
        };
        const stop = waitForSignal(stopAgentNow);

        agent = await ensureAgent(dataDir, out, existing);
        keeper = new AgentKeeper(agent, { dataDir, out, shownDataDir: opts.dataDir });
        keeper.watch();
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
          keeper.stop();
          if (keeper.current.child && !opts.keepAgent) await terminate(keeper.current.pid, AGENT_STOP_GRACE_MS);
          throw e;
        }
        printInitialAdmin(server, { withPassword: !opts.background });
        const client = new ApiClient(server.url, server.token);
        const applied = await applyIfPresent(client, opts.file, out);
        const envs = await client.environments().catch(() => []);
        const tokenFile = join(dataDir, 'api.token');
        const shownToken = relative(process.cwd(), tokenFile) || tokenFile;
        const log = opts.background ? upLogPath(dataDir) : null;
        writeUpFile(dataDir, { pid: process.pid, api: server.url, agentPid: keeper.current.pid, agentStarted: keeper.current.child !== null, keepAgent: opts.keepAgent === true, log, startedAt: new Date().toISOString(), agent: keeper.record() });
        const doc = {
          api: server.url,
          pid: process.pid,
          tokenFile,
          dataDir,
          log,
          agent: { url: agent.url, pid: agent.pid, adopted: agent.child === null },
          spec: applied,
          environments: envs.map((e) => ({ name: e.name, url: listenerUrl(e.listen) })),
          initialAdminFile: server.initialAdminFile,
          firstStart: server.initialAdmin !== undefined,
        };
        const a = agent;
        out.result(doc, () => {
          const width = Math.max(5, ...envs.map((e) => e.name.length)) + 1;
          const lines = [
            `rollgate is up (pid ${process.pid}, data in ${dataDir})`,
            `  ${'API:'.padEnd(width + 1)} ${server.url}   (token in ${shownToken})`,
            `  ${'agent:'.padEnd(width + 1)} ${a.url}   (pid ${a.pid}${a.child ? '' : ', adopted: it was running before and is left running'})`,
            ...envs.map((e) => `  ${(e.name + ':').padEnd(width + 1)} ${listenerUrl(e.listen)}`),
          ];
          if (envs.length === 0) lines.push('  no environments yet: write a rollgate.yaml (`rollgate init`) and run `rollgate apply`');
          const what = opts.keepAgent ? 'the server (the agent is kept: --keep-agent)' : a.child ? 'the server, the agent and its instances' : 'the server';
          lines.push(opts.background ? `\`rollgate down${dataDirFlag(opts.dataDir)}\` stops ${what}` : `Ctrl-C stops ${what}`);
          return lines.join('\n');
        });
        // A detached start waits for this: the platform is up.
        if (process.send) {
          process.send({ type: 'up', doc });
          process.disconnect?.();
        }

        const why = await stop;
        keeper.stop();
        await keeper.settled();
        agent = keeper.current;
        out.info(`${reasonText(why)}: stopping the server…`);
        try {
          await server.stop();
        } finally {
          if (agent.child && !opts.keepAgent) {
            out.info(`stopping the agent (pid ${agent.pid}; instances drain first)…`);
            agentSignalled = true;
            await terminate(agent.pid, AGENT_STOP_GRACE_MS);
          } else if (!agent.child) {
            out.info(`the agent (pid ${agent.pid}) was running before this \`up\` and keeps running; \`rollgate down${dataDirFlag(opts.dataDir)}\` stops it`);
          }
          removeUpFile(dataDir, process.pid);
        }
        out.info('stopped');
      }),
    );
}

function reasonText(why: StopReason): string {
  return why === 'output closed' ? 'output closed (the terminal or pipe reading it is gone)' : why;
}

/** A second `up` on a data directory in use says where the first one runs. */
function refuseIfRunning(dataDir: string, shown: string): void {
  const up = liveUp(dataDir);
  if (up) {
    const health = platformHealth(dataDir, shown);
    throw new RollgateError(
      'conflict',
      `rollgate is already running for ${dataDir}: API ${up.api}, pid ${up.pid}${up.log ? `, log ${up.log}` : ''}${health ? `; ${health.line}` : ''}; stop it with \`rollgate down${dataDirFlag(shown)}\` (or Ctrl-C where it runs), or use another --data-dir`,
      { api: up.api, pid: up.pid, dataDir },
    );
  }
  const server = liveServer(dataDir);
  if (server) {
    throw new RollgateError('conflict', `a rollgate server (pid ${server.pid}) already serves ${dataDir} at ${server.url}; stop it (\`rollgate down${dataDirFlag(shown)}\`), or use another --data-dir`, { api: server.url, pid: server.pid, dataDir });
  }
}

/** The API port, each environment's listener in the spec, and those the agent will reopen from its saved state. */
async function neededListeners(dataDir: string, opts: { port: number; host?: string | undefined; file: string }): Promise<NeededListener[]> {
  const needed: NeededListener[] = [{ host: opts.host ?? '127.0.0.1', port: opts.port, what: 'the API, --port' }];
  if (existsSync(opts.file)) {
    try {
      const loaded = await loadSpecFile(opts.file);
      for (const [name, env] of Object.entries(loaded.spec.environments)) needed.push({ ...listenAddress(env), what: `environment ${name}, listen in ${loaded.name}` });
    } catch {
      // A bad spec is reported when it is applied; the platform still starts.
    }
  }
  for (const svc of readDesiredState(desiredStatePath(dataDir))) {
    needed.push({ host: svc.listenHost, port: svc.listenPort, what: `environment ${svc.env}, reopened by the agent from ${dataDir}` });
  }
  return needed;
}

async function ensureAgent(dataDir: string, out: Output, live: LiveAgent | null): Promise<UpAgent> {
  if (live) {
    out.info(`adopting the agent already running for ${dataDir} (pid ${live.pid}); it is left running when this stops`);
    return { ...live, child: null };
  }
  return spawnAgent(dataDir, 0);
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
