/**
 * `rollgate down`: stops the platform running for a data directory, whatever started it (`up
 * --detach`, an `up` in another terminal, `--keep-agent`, `rollgate server`/`agent`): the `up`
 * process (which stops its server and agent in order), then any server and agent left, and
 * waits until every instance the agent ran is gone.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { AgentClient } from '../../agent/client.js';
import { parseDuration } from '../../core/duration.js';
import { action } from '../command.js';
import { readTokenFile } from '../config.js';
import { agentTokenPath, readAgentFile } from '../agent-file.js';
import { isAlive, prepareDataDir, terminate } from '../daemon.js';
import { OperationFailed } from '../exit.js';
import { isRollgateProcess, liveServer, liveUp } from '../platform-file.js';
import { setTimeout as sleep } from 'node:timers/promises';

const DownOpts = z.object({
  dataDir: z.string(),
  timeout: z.string().transform((v, ctx) => {
    try {
      return parseDuration(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration like 90s or 2m` });
      return z.NEVER;
    }
  }),
  json: z.boolean().optional(),
});

interface Stopped {
  what: string;
  pid: number;
  how: 'exited' | 'killed';
}

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('stop the platform running for this data directory (server, agent, instances) and wait until it is gone')
    .option('-d, --data-dir <dir>', 'the data directory of the platform to stop', '.rollgate')
    .option('--timeout <duration>', 'how long each part may take to stop gracefully before it is killed', '90s')
    .option('--json', 'print one JSON document on stdout')
    .action(
      action(DownOpts, async (opts, { out }) => {
        if (!existsSync(opts.dataDir)) {
          out.result({ dataDir: resolve(opts.dataDir), stopped: [], instances: 0, instancesLeft: [] }, () => `nothing runs for ${opts.dataDir} (no such data directory)`);
          return;
        }
        const dataDir = prepareDataDir(opts.dataDir);
        const instancePids = await instancesOf(dataDir);
        const stopped: Stopped[] = [];
        const stop = async (what: string, pid: number) => {
          out.info(`stopping ${what} (pid ${pid})…`);
          stopped.push({ what, pid, how: await terminate(pid, opts.timeout) });
        };
        const up = liveUp(dataDir);
        if (up) await stop('rollgate up', up.pid);
        const server = liveServer(dataDir);
        if (server) await stop('the server', server.pid);
        const agent = readAgentFile(dataDir);
        if (agent && isRollgateProcess(agent.pid)) await stop('the agent and its instances', agent.pid);
        else if (up && isAlive(up.agentPid) && isRollgateProcess(up.agentPid)) await stop('the agent and its instances', up.agentPid);
        // The agent stops its instances before it exits; a killed agent may leave some behind.
        const deadline = Date.now() + 10_000;
        while (instancePids.some(isAlive) && Date.now() < deadline) await sleep(100);
        const left = instancePids.filter(isAlive);
        const doc = { dataDir, stopped, instances: instancePids.length, instancesLeft: left };
        if (left.length > 0) {
          throw new OperationFailed('instances_left', `stopped ${stopped.map((s) => s.what).join(', ')}, but instance process(es) ${left.join(', ')} still run; stop them with \`kill ${left.join(' ')}\``, doc);
        }
        out.result(doc, () =>
          stopped.length === 0
            ? `nothing runs for ${dataDir}`
            : [
                ...stopped.map((s) => `stopped ${s.what} (pid ${s.pid}${s.how === 'killed' ? `, killed after ${opts.timeout / 1000}s` : ''})`),
                `${instancePids.length} instance(s) stopped; rollgate is down for ${dataDir}`,
              ].join('\n'),
        );
      }),
    );
}

/** The pids of the instances the agent of this data directory runs (none when it cannot be asked). */
async function instancesOf(dataDir: string): Promise<number[]> {
  const info = readAgentFile(dataDir);
  const token = readTokenFile(agentTokenPath(dataDir));
  if (!info || !token || !isAlive(info.pid)) return [];
  try {
    const services = await new AgentClient({ url: info.url, token, timeoutMs: 3000 }).listServices();
    return services.flatMap((s) => s.versions.flatMap((v) => v.instances.map((i) => i.pid))).filter((p): p is number => p !== null);
  } catch {
    return [];
  }
}
