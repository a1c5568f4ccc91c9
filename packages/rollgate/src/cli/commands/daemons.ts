/** `rollgate server` and `rollgate agent`: the two planes run apart. */
import { printInitialAdmin } from '../initial-admin.js';
import type { Command } from 'commander';
import { z } from 'zod';
import { RollgateError } from '../../core/errors.js';
import { IntString, action } from '../command.js';
import { readTokenFile } from '../config.js';
import { agentTokenPath, findLiveAgent, readAgentFile } from '../agent-file.js';
import { prepareDataDir, waitForSignal } from '../daemon.js';
import { loadRunAgent, loadRunServer } from '../runtime.js';
import { resolve } from 'node:path';
import { ISOLATION_KINDS, type IsolationKind } from '../../isolation/types.js';
import { ReleaseFlags, releasePolicyOf } from '../release-flags.js';
import { EVENT_STREAM_HELP, EventStreamFlags, eventStreamConfig } from '../event-stream-flags.js';
import { registerAgentInstall } from './agent-install.js';

export const DEFAULT_SERVER_PORT = 7070;
export const DEFAULT_AGENT_PORT = 7071;

const ServerOpts = z.object({
  dataDir: z.string(),
  port: IntString(0, 65535).default(DEFAULT_SERVER_PORT),
  host: z.string().optional(),
  agentUrl: z.string().url().optional(),
  agentToken: z.string().min(1).optional(),
  json: z.boolean().optional(),
  ...EventStreamFlags,
}).extend(ReleaseFlags.shape);
const AgentOpts = z.object({
  dataDir: z.string(),
  port: IntString(0, 65535).default(DEFAULT_AGENT_PORT),
  host: z.string().optional(),
  json: z.boolean().optional(),
  isolation: z.enum(['auto', ...ISOLATION_KINDS] as ['auto', ...IsolationKind[]], { message: `must be auto, ${ISOLATION_KINDS.join(', ')}` }).default('auto'),
  hide: z.array(z.string()).default([]),
});

export function registerDaemons(program: Command): void {
  program
    .command('server')
    .description('run the control plane alone (API, events, rollouts); the agent must run already')
    .option('-d, --data-dir <dir>', 'where the server keeps its database, releases and token', '.rollgate')
    .option('-p, --port <n>', 'API port (0 = any free port)', String(DEFAULT_SERVER_PORT))
    .option('--host <host>', 'API address to listen on (default: loopback)')
    .option('--agent-url <url>', "the agent's URL (default: from <data-dir>/agent.json)")
    .option('--agent-token <token>', "the agent's token (default: $ROLLGATE_AGENT_TOKEN, then <data-dir>/agent.token)")
    .option('--json', 'print one JSON document on stdout once running')
    .option('--max-event-streams <n>', EVENT_STREAM_HELP.total)
    .option('--max-event-streams-per-principal <n>', EVENT_STREAM_HELP.perPrincipal)
    .action(
      action(ServerOpts, async (opts, { out }) => {
        const dataDir = prepareDataDir(opts.dataDir);
        const agentUrl = opts.agentUrl ?? readAgentFile(dataDir)?.url;
        const agentToken = opts.agentToken ?? process.env.ROLLGATE_AGENT_TOKEN ?? readTokenFile(agentTokenPath(dataDir));
        if (!agentUrl || !agentToken) {
          throw new RollgateError('agent_unreachable', `no agent found for ${dataDir}: start one with \`rollgate agent --data-dir ${opts.dataDir}\`, or give --agent-url and --agent-token (or use \`rollgate up\` to run both)`);
        }
        const runServer = await loadRunServer();
        const server = await runServer({
          dataDir,
          port: opts.port,
          agent: { url: agentUrl, token: agentToken },
          releases: releasePolicyOf(opts),
          ...(opts.host ? { host: opts.host } : {}),
          ...(process.env.ROLLGATE_DATABASE_URL ? { databaseUrl: process.env.ROLLGATE_DATABASE_URL } : {}),
          ...eventStreamConfig(opts),
        });
        printInitialAdmin(server);
        out.result({ api: server.url, dataDir, agent: agentUrl }, () => `rollgate server listening on ${server.url} (agent ${agentUrl}); Ctrl-C stops it`);
        await waitForSignal();
        out.info('stopping the server…');
        await server.stop();
      }),
    );

  const agentCmd = program
    .command('agent')
    .description('run the data plane alone: instances and per-environment traffic listeners; keeps serving without the server')
    .option('-d, --data-dir <dir>', 'where the agent keeps its state, token and instance logs', '.rollgate')
    .option('-p, --port <n>', 'agent API port (0 = any free port)', String(DEFAULT_AGENT_PORT))
    .option('--host <host>', 'agent API address (default: loopback)')
    .option('--isolation <kind>', `how instances are kept from the platform's files: auto (strongest available), ${ISOLATION_KINDS.join(', ')}`, 'auto')
    .option('--hide <dir...>', 'more directories instances must not see (the server\'s data directory when it is elsewhere)')
    .option('--json', 'print one JSON document on stdout once running')
    .action(
      action(AgentOpts, async (opts, { out }) => {
        const dataDir = prepareDataDir(opts.dataDir);
        const other = await findLiveAgent(dataDir);
        if (other && other.pid !== process.pid) {
          throw new RollgateError('conflict', `an agent (pid ${other.pid}) already serves ${dataDir} at ${other.url}; stop it first, or use another --data-dir`);
        }
        const runAgent = await loadRunAgent();
        // runAgent keeps the token in <data-dir>/agent.token and names itself in agent.json.
        const agent = await runAgent({ dataDir, port: opts.port, isolation: opts.isolation, hide: opts.hide.map((d) => resolve(d)), ...(opts.host ? { host: opts.host } : {}) });
        out.result({ agent: agent.url, pid: process.pid, dataDir }, () => `rollgate agent listening on ${agent.url} (pid ${process.pid}); Ctrl-C stops it and its instances`);
        await waitForSignal();
        out.info('stopping the agent…');
        await agent.stop();
      }),
    );
  registerAgentInstall(agentCmd, { agent: DEFAULT_AGENT_PORT, server: DEFAULT_SERVER_PORT });
}
